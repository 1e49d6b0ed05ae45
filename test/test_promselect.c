#include "t.h"

#include "promselect.h"

static cJSON *j(const char *text)
{
	cJSON *o = cJSON_Parse(text);
	if (!o)
		t_fail(__FILE__, __LINE__, "bad JSON in test: %s", text);
	return o;
}

static bool sel(const char *selector, const char *labels)
{
	cJSON *s = j(selector), *l = j(labels);
	bool r = labelsel_matches(s, l);
	cJSON_Delete(s);
	cJSON_Delete(l);
	return r;
}

TEST(labelsel_rules)
{
	/* null matches nothing, {} matches all */
	ASSERT_TRUE(!sel("null", "{\"a\":\"1\"}"));
	ASSERT_TRUE(!labelsel_matches(NULL, NULL));
	ASSERT_TRUE(sel("{}", "{}"));
	ASSERT_TRUE(sel("{\"matchLabels\":{\"release\":\"kp\"}}", "{\"release\":\"kp\",\"x\":\"y\"}"));
	ASSERT_TRUE(!sel("{\"matchLabels\":{\"release\":\"kp\"}}", "{\"release\":\"other\"}"));
	ASSERT_TRUE(!sel("{\"matchLabels\":{\"release\":\"kp\"}}", "{}"));
	ASSERT_TRUE(sel("{\"matchExpressions\":[{\"key\":\"t\",\"operator\":\"In\",\"values\":[\"a\",\"b\"]}]}",
			"{\"t\":\"b\"}"));
	ASSERT_TRUE(!sel("{\"matchExpressions\":[{\"key\":\"t\",\"operator\":\"In\",\"values\":[\"a\"]}]}",
			 "{}"));
	ASSERT_TRUE(sel("{\"matchExpressions\":[{\"key\":\"t\",\"operator\":\"NotIn\",\"values\":[\"a\"]}]}",
			"{}"));
	ASSERT_TRUE(!sel("{\"matchExpressions\":[{\"key\":\"t\",\"operator\":\"NotIn\",\"values\":[\"a\"]}]}",
			 "{\"t\":\"a\"}"));
	ASSERT_TRUE(sel("{\"matchExpressions\":[{\"key\":\"t\",\"operator\":\"Exists\"}]}", "{\"t\":\"\"}"));
	ASSERT_TRUE(!sel("{\"matchExpressions\":[{\"key\":\"t\",\"operator\":\"DoesNotExist\"}]}",
			 "{\"t\":\"\"}"));
	ASSERT_TRUE(!sel("{\"matchExpressions\":[{\"key\":\"t\",\"operator\":\"Gt\",\"values\":[\"1\"]}]}",
			 "{\"t\":\"2\"}"));
}

/* kube-prometheus-stack's defaults: monitors labelled release=<name>, any namespace */
static const char *stack_prom =
	"{\"metadata\":{\"namespace\":\"monitoring\",\"name\":\"kp\"},\"spec\":{"
	"\"serviceMonitorSelector\":{\"matchLabels\":{\"release\":\"kp\"}},"
	"\"serviceMonitorNamespaceSelector\":{},"
	"\"podMonitorSelector\":{\"matchExpressions\":[{\"key\":\"team\",\"operator\":\"In\",\"values\":[\"ml\",\"infra\"]},"
	"{\"key\":\"scrape\",\"operator\":\"Exists\"}]},"
	"\"podMonitorNamespaceSelector\":{\"matchLabels\":{\"monitoring\":\"on\"}}}}";

TEST(promsel_selects_and_namespaces)
{
	cJSON *p = j(stack_prom), *nsoff = j("{\"metadata\":{\"name\":\"llm\",\"labels\":{\"monitoring\":\"off\"}}}");
	cJSON *nson = j("{\"metadata\":{\"name\":\"llm\",\"labels\":{\"monitoring\":\"on\"}}}");
	cJSON *lab = j("{\"release\":\"kp\"}"), *none = j("{}"), *pm = j("{\"team\":\"ml\",\"scrape\":\"1\"}");
	cJSON *own = j("{\"metadata\":{\"namespace\":\"monitoring\",\"name\":\"own\"},\"spec\":{\"serviceMonitorSelector\":{}}}");

	ASSERT_TRUE(promsel_selects(p, PROMSEL_SERVICEMONITOR, "llm", NULL, lab));
	ASSERT_TRUE(!promsel_selects(p, PROMSEL_SERVICEMONITOR, "llm", NULL, none));
	ASSERT_TRUE(!promsel_selects(p, PROMSEL_PODMONITOR, "llm", nsoff, pm));
	ASSERT_TRUE(promsel_selects(p, PROMSEL_PODMONITOR, "llm", nson, pm));
	/* unknown namespace object: only kubernetes.io/metadata.name is known */
	ASSERT_TRUE(!promsel_selects(p, PROMSEL_PODMONITOR, "llm", NULL, pm));
	/* no scrapeConfigSelector: selects no ScrapeConfig */
	ASSERT_TRUE(!promsel_selects(p, PROMSEL_SCRAPECONFIG, "llm", NULL, lab));
	/* null namespace selector: its own namespace only */
	ASSERT_TRUE(!promsel_selects(own, PROMSEL_SERVICEMONITOR, "llm", NULL, none));
	ASSERT_TRUE(promsel_selects(own, PROMSEL_SERVICEMONITOR, "monitoring", NULL, none));
	cJSON_Delete(p);
	cJSON_Delete(nsoff);
	cJSON_Delete(nson);
	cJSON_Delete(lab);
	cJSON_Delete(none);
	cJSON_Delete(pm);
	cJSON_Delete(own);
}

TEST(promsel_stamp_adds_what_the_selector_needs)
{
	cJSON *p = j(stack_prom), *nson = j("{\"metadata\":{\"name\":\"llm\",\"labels\":{\"monitoring\":\"on\"}}}");
	cJSON *l = j("{\"app.kubernetes.io/managed-by\":\"infermon\"}");
	cJSON *conflict = j("{\"team\":\"research\"}");
	char *s;

	ASSERT_TRUE(promsel_stamp(p, PROMSEL_SERVICEMONITOR, "llm", NULL, l));
	ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(l, "release")), "kp");
	ASSERT_TRUE(promsel_selects(p, PROMSEL_SERVICEMONITOR, "llm", NULL, l));
	ASSERT_TRUE(promsel_stamp(p, PROMSEL_PODMONITOR, "llm", nson, l));
	ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(l, "team")), "ml");
	ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(l, "scrape")), "true");
	/* the user's label wins: no stamp, nothing changed */
	s = cJSON_PrintUnformatted(conflict);
	ASSERT_TRUE(!promsel_stamp(p, PROMSEL_PODMONITOR, "llm", nson, conflict));
	{
		char *after = cJSON_PrintUnformatted(conflict);
		ASSERT_STREQ(after, s);
		cJSON_free(after);
	}
	cJSON_free(s);
	/* a namespace it does not look in cannot be fixed with labels */
	ASSERT_TRUE(!promsel_stamp(p, PROMSEL_PODMONITOR, "llm", NULL, conflict));
	cJSON_Delete(p);
	cJSON_Delete(nson);
	cJSON_Delete(l);
	cJSON_Delete(conflict);
}

TEST(promsel_describe_names_selector_and_namespaces)
{
	cJSON *p = j(stack_prom);
	struct buf b;

	buf_init(&b, 1024);
	promsel_describe(p, PROMSEL_SERVICEMONITOR, &b);
	ASSERT_STREQ(buf_str(&b), "monitoring/kp selects ServiceMonitors {release=kp} in every namespace");
	buf_reset(&b);
	promsel_describe(p, PROMSEL_PODMONITOR, &b);
	ASSERT_STREQ(buf_str(&b), "monitoring/kp selects PodMonitors {team In (ml,infra),scrape Exists} "
				  "in namespaces {monitoring=on}");
	buf_reset(&b);
	promsel_describe(p, PROMSEL_SCRAPECONFIG, &b);
	ASSERT_STREQ(buf_str(&b), "monitoring/kp selects no ScrapeConfigs (scrapeConfigSelector is not set)");
	ASSERT_EQ_INT(promsel_kind_of("PodMonitor"), PROMSEL_PODMONITOR);
	ASSERT_EQ_INT(promsel_kind_of("PrometheusRule"), PROMSEL_RULE);
	ASSERT_EQ_INT(promsel_kind_of("Service"), -1);
	buf_release(&b);
	cJSON_Delete(p);
}

/* every selectable object of a workload gets its Prometheus' labels */
TEST(promsel_stamp_objects_covers_rules)
{
	cJSON *p = j("{\"metadata\":{\"namespace\":\"monitoring\",\"name\":\"kp\"},\"spec\":{"
		     "\"serviceMonitorSelector\":{\"matchLabels\":{\"release\":\"kp\"}},"
		     "\"serviceMonitorNamespaceSelector\":{},"
		     "\"ruleSelector\":{\"matchLabels\":{\"role\":\"rules\"}},\"ruleNamespaceSelector\":{}}}");
	cJSON *objs = j("[{\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"}},"
			"{\"kind\":\"ServiceMonitor\",\"metadata\":{\"name\":\"m\"}},"
			"{\"kind\":\"PrometheusRule\",\"metadata\":{\"name\":\"r\",\"labels\":{\"a\":\"b\"}}}]");
	const cJSON *proms[] = {p};
	char *out;

	promsel_stamp_objects(objs, proms, 1, "llm", NULL);
	out = cJSON_PrintUnformatted(objs);
	ASSERT_STREQ(out, "[{\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"}},"
			  "{\"kind\":\"ServiceMonitor\",\"metadata\":{\"name\":\"m\",\"labels\":{\"release\":\"kp\"}}},"
			  "{\"kind\":\"PrometheusRule\",\"metadata\":{\"name\":\"r\",\"labels\":{\"a\":\"b\",\"role\":\"rules\"}}}]");
	cJSON_free(out);
	cJSON_Delete(objs);
	cJSON_Delete(p);
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}
