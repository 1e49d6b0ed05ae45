#include "t.h"

#include "alloc.h"
#include "podcache.h"
#include "reflector.h"

struct events {
	int n;
	char log[64][96];
};

static void record(void *ctx, enum workload_event ev, const struct workload *w)
{
	struct events *e = ctx;
	if (e->n < 64)
		snprintf(e->log[e->n++], sizeof(e->log[0]), "%s %s %zu", workload_event_name(ev),
			 w->key, w->pods.count);
}

/* The API server's JSON of such a pod. */
static cJSON *pod_json(const char *ns, const char *name, const char *workload, const char *backend,
		       const char *ip, int ready)
{
	char json[2048];
	char labels[512] = "";
	int n = 0;

	if (workload)
		n += snprintf(labels + n, sizeof(labels) - (size_t)n,
			      "\"alibabacloud.com/inference-workload\":\"%s\"", workload);
	if (backend)
		n += snprintf(labels + n, sizeof(labels) - (size_t)n,
			      "%s\"alibabacloud.com/inference-backend\":\"%s\"", n ? "," : "",
			      backend);
	snprintf(
		json, sizeof(json),
		"{\"metadata\":{\"namespace\":\"%s\",\"name\":\"%s\",\"uid\":\"u-%s\","
		"\"resourceVersion\":\"1\",\"labels\":{%s},"
		"\"ownerReferences\":[{\"kind\":\"StatefulSet\",\"name\":\"%s\",\"uid\":\"o1\",\"controller\":true}]},"
		"\"spec\":{\"containers\":[{\"name\":\"vllm\",\"command\":[\"vllm\",\"serve\"],"
		"\"args\":[\"--max-num-seqs\",\"2\",\"--api-key\",\"s3cret\"],"
		"\"ports\":[{\"name\":\"http\",\"containerPort\":8000}]}]},"
		"\"status\":{\"phase\":\"Running\",\"podIP\":\"%s\",\"podIPs\":[{\"ip\":\"%s\"}],"
		"\"conditions\":[{\"type\":\"Ready\",\"status\":\"%s\"}]}}",
		ns, name, name, labels, workload ? workload : "x", ip, ip,
		ready ? "True" : "False");
	return cJSON_Parse(json);
}

static struct pod *mkpod(const char *ns, const char *name, const char *workload,
			 const char *backend, const char *ip, int ready)
{
	cJSON *o = pod_json(ns, name, workload, backend, ip, ready);
	struct pod *p = NULL;
	struct buf err;

	buf_init(&err, 1024);
	if (pod_decode(o, &p, &err))
		t_fail(__FILE__, __LINE__, "decode: %s", buf_str(&err));
	buf_release(&err);
	cJSON_Delete(o);
	return p;
}

TEST(pod_decode_keeps_needed_fields)
{
	struct pod *p = mkpod("llm", "qwen-0", "qwen", "vllm", "10.0.0.5", 1);

	ASSERT_STREQ(p->namespace, "llm");
	ASSERT_STREQ(pod_workload(p), "qwen");
	ASSERT_STREQ(pod_backend(p), "vllm");
	ASSERT_STREQ(p->pod_ip, "10.0.0.5");
	ASSERT_STREQ(p->pod_ips[0], "10.0.0.5");
	ASSERT_TRUE(p->pod_ips[1] == NULL);
	ASSERT_TRUE(p->ready);
	ASSERT_STREQ(p->phase, "Running");
	ASSERT_EQ_INT(p->ncontainers, 1);
	ASSERT_EQ_INT(p->containers[0].nports, 1);
	ASSERT_EQ_INT(p->containers[0].ports[0].port, 8000);
	ASSERT_STREQ(p->containers[0].ports[0].name, "http");
	ASSERT_EQ_INT(p->containers[0].argc, 6);
	ASSERT_STREQ(p->containers[0].argv[3], "2");
	ASSERT_STREQ(p->owner_kind, "StatefulSet");
	pod_free(p);
}

TEST(pod_decode_rejects_bad_pods_by_name)
{
	const char *bad[] = {
		"{\"metadata\":{\"name\":\"x\"}}",
		"{\"metadata\":{\"namespace\":\"n\",\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":[{\"containerPort\":70000}]}]}}",
		"{\"metadata\":{\"namespace\":\"n\",\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"args\":[1]}]}}",
		"{\"metadata\":{\"namespace\":\"n\",\"name\":\"p\",\"labels\":{\"a\":1}}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cJSON *o = cJSON_Parse(bad[i]);
		struct pod *p = NULL;
		struct buf err;
		buf_init(&err, 1024);
		ASSERT_ERR(pod_decode(o, &p, &err), IM_PARSE);
		ASSERT_TRUE(p == NULL);
		if (i > 0)
			ASSERT_CONTAINS(buf_str(&err), "pod n/p");
		buf_release(&err);
		cJSON_Delete(o);
	}
}

static struct pod *decode(const char *json)
{
	cJSON *o = cJSON_Parse(json);
	struct pod *p = NULL;
	struct buf err;

	buf_init(&err, 1024);
	if (!o || pod_decode(o, &p, &err))
		t_fail(__FILE__, __LINE__, "decode: %s", buf_str(&err));
	buf_release(&err);
	cJSON_Delete(o);
	return p;
}

TEST(pod_role_port_leader_args)
{
	struct pod *p;
	uint64_t v = 0;

	p = decode(
		"{\"metadata\":{\"namespace\":\"n\",\"name\":\"a\",\"labels\":{\"llm-d.ai/role\":\"decode\"}},"
		"\"spec\":{\"containers\":[{\"name\":\"sidecar\",\"ports\":[{\"name\":\"proxy\",\"containerPort\":8000}]},"
		"{\"name\":\"vllm\",\"args\":[\"--port\",\"8200\",\"--max-num-seqs=32\"],"
		"\"ports\":[{\"name\":\"metrics\",\"containerPort\":8200}]}]}}");
	ASSERT_STREQ(pod_role(p), "decode");
	ASSERT_EQ_INT(pod_port(p, "metrics"), 8200);
	ASSERT_EQ_INT(pod_port(p, "http"), 0); /* two ports, none named http */
	ASSERT_EQ_INT(pod_port(p, "9400"), 9400);
	ASSERT_OK(pod_arg_uint(p, "--max-num-seqs", 1u << 20, &v));
	ASSERT_EQ_INT(v, 32);
	ASSERT_TRUE(pod_is_leader(p));
	pod_free(p);

	p = decode(
		"{\"metadata\":{\"namespace\":\"n\",\"name\":\"b\",\"labels\":{\"leaderworkerset.sigs.k8s.io/worker-index\":\"1\"}},"
		"\"spec\":{\"containers\":[{\"name\":\"vllm\",\"args\":[\"--kv-transfer-config\","
		"\"{\\\"kv_connector\\\":\\\"NixlConnector\\\",\\\"kv_role\\\":\\\"kv_producer\\\"}\"],"
		"\"ports\":[{\"containerPort\":8000}]}]}}");
	ASSERT_STREQ(pod_role(p), "prefill");
	ASSERT_EQ_INT(pod_port(p, "http"), 8000); /* the only port */
	ASSERT_TRUE(!pod_is_leader(p));
	ASSERT_ERR(pod_arg_uint(p, "--max-num-seqs", 1u << 20, &v), IM_NOTFOUND);
	pod_free(p);

	p = decode(
		"{\"metadata\":{\"namespace\":\"n\",\"name\":\"c\"},\"spec\":{\"containers\":[{\"name\":\"s\","
		"\"command\":[\"python3\",\"-m\",\"sglang.launch_server\",\"--disaggregation-mode\",\"decode\"]}]}}");
	ASSERT_STREQ(pod_role(p), "decode");
	ASSERT_EQ_INT(pod_port(p, "http"), 0);
	pod_free(p);
}

TEST(podcache_groups_and_reports_once)
{
	struct podcache c;
	struct events e = {0};

	podcache_init(&c, record, &e);
	podcache_upsert(&c, mkpod("llm", "qwen-0", "qwen", "vllm", "10.0.0.5", 1));
	podcache_upsert(&c, mkpod("llm", "qwen-1", "qwen", "vllm", "10.0.0.6", 0));
	podcache_upsert(&c, mkpod("llm", "qwen-1", "qwen", "vllm", "10.0.0.6", 0)); /* no change */
	podcache_upsert(&c, mkpod("other", "qwen-0", "qwen", "vllm", "10.0.0.7", 1));
	ASSERT_EQ_INT(e.n, 3);
	ASSERT_STREQ(e.log[0], "added llm/qwen 1");
	ASSERT_STREQ(e.log[1], "changed llm/qwen 2");
	ASSERT_STREQ(e.log[2], "added other/qwen 1");
	ASSERT_EQ_INT(podcache_workload_count(&c), 2);
	ASSERT_EQ_INT(podcache_pod_count(&c), 3);

	/* relabel into another workload: both are touched */
	podcache_upsert(&c, mkpod("llm", "qwen-1", "llama", "vllm", "10.0.0.6", 0));
	ASSERT_EQ_INT(e.n, 5);
	ASSERT_STREQ(e.log[3], "added llm/llama 1");
	ASSERT_STREQ(e.log[4], "changed llm/qwen 1");

	/* label removed: treated as a delete */
	podcache_upsert(&c, mkpod("llm", "qwen-1", "llama", NULL, "10.0.0.6", 0));
	ASSERT_EQ_INT(e.n, 6);
	ASSERT_STREQ(e.log[5], "removed llm/llama 0");
	ASSERT_TRUE(podcache_get(&c, "llm", "qwen-1") == NULL);

	/* empty label value never enters */
	podcache_upsert(&c, mkpod("llm", "z", "", "vllm", "10.0.0.9", 0));
	ASSERT_EQ_INT(e.n, 6);
	ASSERT_EQ_INT(podcache_pod_count(&c), 2);

	podcache_delete(&c, "llm", "qwen-0");
	ASSERT_STREQ(e.log[6], "removed llm/qwen 0");
	podcache_delete(&c, "llm", "nope");
	ASSERT_EQ_INT(e.n, 7);
	podcache_release(&c);
}

TEST(podcache_replace_is_exact_within_scope)
{
	struct podcache c;
	struct events e = {0};
	struct pod *list[3];

	podcache_init(&c, record, &e);
	podcache_upsert(&c, mkpod("a", "p1", "w1", "vllm", "10.0.0.1", 1));
	podcache_upsert(&c, mkpod("a", "p2", "w2", "vllm", "10.0.0.2", 1));
	podcache_upsert(&c, mkpod("b", "p1", "w1", "sglang", "10.0.0.3", 1));
	e.n = 0;

	/* namespace a now holds p1 (unchanged) and p3 (new, in w1); p2 is gone */
	list[0] = mkpod("a", "p1", "w1", "vllm", "10.0.0.1", 1);
	list[1] = mkpod("a", "p3", "w1", "vllm", "10.0.0.4", 1);
	podcache_replace(&c, "a", list, 2);
	ASSERT_EQ_INT(e.n, 2);
	ASSERT_STREQ(e.log[0], "changed a/w1 2");
	ASSERT_STREQ(e.log[1], "removed a/w2 0");
	ASSERT_TRUE(podcache_get(&c, "b", "p1") != NULL); /* other scope untouched */

	/* an all-namespace replace with nothing empties everything */
	e.n = 0;
	podcache_replace(&c, NULL, list, 0);
	ASSERT_EQ_INT(podcache_pod_count(&c), 0);
	ASSERT_EQ_INT(e.n, 2);
	podcache_release(&c);
}

/* A pod that comes again with nothing infermon acts on changed (a new
 * resourceVersion only) makes no event, and the cache holds the new copy
 * in both of its maps. */
TEST(podcache_unchanged_pod_takes_the_new_resource_version_quietly)
{
	struct podcache c;
	struct events e = {0};
	cJSON *o = pod_json("a", "p1", "w1", "vllm", "10.0.0.1", 1);
	struct pod *p;
	struct buf err;
	const struct workload *w;

	podcache_init(&c, record, &e);
	podcache_upsert(&c, mkpod("a", "p1", "w1", "vllm", "10.0.0.1", 1));
	ASSERT_EQ_INT(e.n, 1);
	cJSON_SetValuestring(
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "metadata"),
						 "resourceVersion"),
		"7");
	buf_init(&err, 1024);
	ASSERT_OK(pod_decode(o, &p, &err));
	buf_release(&err);
	cJSON_Delete(o);
	podcache_upsert(&c, p);
	ASSERT_EQ_INT(e.n, 1); /* no event */
	ASSERT_TRUE(podcache_get(&c, "a", "p1") == p);
	ASSERT_STREQ(podcache_get(&c, "a", "p1")->resource_version, "7");
	w = podcache_workload(&c, "a/w1");
	ASSERT_TRUE(w != NULL && hmap_get(&w->pods, "a/p1") == p);
	podcache_release(&c);
}

/* A reflector hands a list's pods to the store page by page (decode) and
 * frees each page's JSON at once; the pods decoded must not point into
 * it (ASan sees it), a pod that cannot be decoded is left out, and
 * replace makes the cache hold what was decoded. */
TEST(podcache_store_decodes_a_list_page_by_page)
{
	struct podcache c;
	struct events e = {0};
	struct reflector_store st;
	void *items[3];
	size_t n = 0;
	cJSON *page[3];

	podcache_init(&c, record, &e);
	podcache_upsert(&c, mkpod("a", "gone", "w2", "vllm", "10.0.0.9", 1));
	podcache_store(&c, &st);
	page[0] = pod_json("a", "p1", "w1", "vllm", "10.0.0.1", 1);
	page[1] = pod_json("a", "p2", "w1", "vllm", "10.0.0.2", 0);
	page[2] = cJSON_Parse("{\"metadata\":{\"namespace\":\"a\"}}"); /* no name */
	for (int i = 0; i < 3; i++) {
		void *it = st.decode(st.ctx, page[i]);
		if (it)
			items[n++] = it;
		cJSON_Delete(page[i]);
	}
	ASSERT_EQ_INT(n, 2);
	ASSERT_EQ_INT(podcache_pod_count(&c), 1); /* nothing changes before replace */
	e.n = 0;
	ASSERT_EQ_INT(st.replace(st.ctx, "a", items, n), 0);
	ASSERT_EQ_INT(podcache_pod_count(&c), 2);
	ASSERT_STREQ(podcache_get(&c, "a", "p1")->pod_ip, "10.0.0.1");
	ASSERT_TRUE(!podcache_get(&c, "a", "p2")->ready);
	ASSERT_TRUE(podcache_get(&c, "a", "gone") == NULL);
	ASSERT_EQ_INT(e.n, 2);

	/* a list given up half way: its decoded pods are discarded */
	page[0] = pod_json("a", "p3", "w1", "vllm", "10.0.0.3", 1);
	items[0] = st.decode(st.ctx, page[0]);
	cJSON_Delete(page[0]);
	st.discard(st.ctx, items[0]);
	ASSERT_TRUE(podcache_get(&c, "a", "p3") == NULL);
	podcache_release(&c);
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}
