#include "t.h"

#include <string.h>

#include "buf.h"
#include "kube.h"

TEST(kube_owned_table_is_whole_and_consistent)
{
	struct buf path;

	buf_init(&path, BUF_MAX_SMALL);
	for (int k = 0; k < OWNED_COUNT; k++) {
		const struct kube_kind *kk = &kube_owned[k];
		ASSERT_TRUE(kk->kind && kk->api_version && kk->path && kk->resource);
		/* the path follows from the apiVersion: core under /api, groups under /apis */
		buf_reset(&path);
		if (strchr(kk->api_version, '/'))
			buf_printf(&path, "/apis/%s", kk->api_version);
		else
			buf_printf(&path, "/api/%s", kk->api_version);
		ASSERT_STREQ(kk->path, buf_str(&path));
		ASSERT_EQ_INT(kube_owned_kind(kk->kind), k);
	}
	buf_release(&path);
	ASSERT_STREQ(kube_owned[OWNED_SCRAPECONFIG].path, "/apis/monitoring.coreos.com/v1alpha1");
	ASSERT_STREQ(kube_owned[OWNED_SECRET].resource, "secrets");
}

TEST(kube_owned_kind_refuses_what_infermon_does_not_write)
{
	ASSERT_EQ_INT(kube_owned_kind(NULL), -1);
	ASSERT_EQ_INT(kube_owned_kind("Pod"), -1);
	ASSERT_EQ_INT(kube_owned_kind("servicemonitor"), -1);
	ASSERT_EQ_INT(kube_owned_kind("PodMonitor"), OWNED_PODMONITOR);
}

TEST(kube_label_rules)
{
	ASSERT_TRUE(kube_label_value_ok(""));
	ASSERT_TRUE(kube_label_value_ok("qwen-chat_1.5"));
	ASSERT_TRUE(!kube_label_value_ok("-x"));
	ASSERT_TRUE(!kube_label_value_ok("x."));
	ASSERT_TRUE(!kube_label_value_ok("a b"));
	ASSERT_TRUE(kube_label_value_ok(
		"a23456789012345678901234567890123456789012345678901234567890123"));
	ASSERT_TRUE(!kube_label_value_ok(
		"a234567890123456789012345678901234567890123456789012345678901234"));
	ASSERT_TRUE(kube_label_key_ok("release"));
	ASSERT_TRUE(kube_label_key_ok("app.kubernetes.io/managed-by"));
	ASSERT_TRUE(!kube_label_key_ok(""));
	ASSERT_TRUE(!kube_label_key_ok("example.com/"));
	ASSERT_TRUE(!kube_label_key_ok("Example.com/x"));
	ASSERT_TRUE(!kube_label_key_ok("/x"));
}

TEST(kube_dns_name_rules)
{
	ASSERT_TRUE(kube_dns_label_ok("monitoring"));
	ASSERT_TRUE(kube_dns_label_ok("a-1"));
	ASSERT_TRUE(!kube_dns_label_ok(""));
	ASSERT_TRUE(!kube_dns_label_ok("-a"));
	ASSERT_TRUE(!kube_dns_label_ok("a-"));
	ASSERT_TRUE(!kube_dns_label_ok("Monitoring"));
	ASSERT_TRUE(!kube_dns_label_ok("a.b"));
	ASSERT_TRUE(kube_dns_subdomain_ok("scrape.secret-1", 15));
	ASSERT_TRUE(kube_dns_subdomain_ok("a.bX", 3)); /* only p[0..n) counts */
	ASSERT_TRUE(!kube_dns_subdomain_ok("", 0));
	ASSERT_TRUE(!kube_dns_subdomain_ok(".a", 2));
	ASSERT_TRUE(!kube_dns_subdomain_ok("a_b", 3));
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}
