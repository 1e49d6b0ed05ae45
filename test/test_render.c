#include "t.h"

#include "iwspec.h"
#include "render.h"
#include "yamljson.h"
#include "yamlout.h"

static cJSON *parse1(const char *yaml)
{
	struct yamljson_doc *docs;
	size_t n;
	struct buf err;
	cJSON *out;

	buf_init(&err, 1024);
	if (yamljson_parse(yaml, strlen(yaml), "t.yaml", NULL, &docs, &n, &err) || n != 1)
		t_fail(__FILE__, __LINE__, "yaml: %s", buf_str(&err));
	out = docs[0].json;
	docs[0].json = NULL;
	yamljson_docs_free(docs, n);
	buf_release(&err);
	return out;
}

static im_result spec_of(const char *yaml, struct iwspec *s, struct buf *err)
{
	struct iw_defaults d;
	cJSON *o = parse1(yaml);
	im_result r;

	iw_defaults_init(&d);
	r = iwspec_parse(o, &d, s, err);
	cJSON_Delete(o);
	return r;
}

TEST(iwspec_defaults)
{
	struct iwspec s;
	struct buf err;

	buf_init(&err, 1024);
	ASSERT_OK(spec_of("apiVersion: infermon.io/v1alpha1\nkind: InferenceWorkload\n"
			  "metadata: {name: qwen, namespace: llm}\n", &s, &err));
	ASSERT_STREQ(s.workload, "qwen");
	ASSERT_STREQ(s.port, "http");
	ASSERT_STREQ(s.path, "/metrics");
	ASSERT_STREQ(s.interval, "15s");
	ASSERT_EQ_INT(s.interval_ms, 15000);
	ASSERT_EQ_INT(s.timeout_ms, 10000);
	ASSERT_EQ_INT(s.monitor, MONITOR_SERVICE);
	ASSERT_TRUE(s.scrape_config && s.dashboard && !s.alerts && !s.https);
	ASSERT_EQ_DBL(s.drift_tolerance, 0.25, 0);
	ASSERT_EQ_INT(s.backend, BACKEND_UNKNOWN);
	iwspec_release(&s);
	buf_release(&err);
}

/* A short interval without a timeout takes the interval as its timeout. */
TEST(iwspec_timeout_follows_a_short_interval)
{
	struct iwspec s;
	struct buf err;

	buf_init(&err, 1024);
	ASSERT_OK(spec_of("apiVersion: infermon.io/v1alpha1\nkind: InferenceWorkload\n"
			  "metadata: {name: q, namespace: n}\nspec: {metrics: {interval: 5s}}\n", &s, &err));
	ASSERT_STREQ(s.timeout, "5s");
	ASSERT_EQ_INT(s.timeout_ms, 5000);
	iwspec_release(&s);
	buf_release(&err);
}

TEST(iwspec_full)
{
	struct iwspec s;
	struct buf err;

	buf_init(&err, 1024);
	ASSERT_OK(spec_of("apiVersion: infermon.io/v1alpha1\nkind: InferenceWorkload\n"
			  "metadata: {name: qwen, namespace: llm, generation: 3, uid: u1}\n"
			  "spec:\n  workloadName: qwen-chat\n  backend: vllm-pd\n"
			  "  metrics: {port: 8200, path: /m, interval: 1m, scrapeTimeout: 30s, scheme: https,\n"
			  "            tls: {serverName: e.svc, ca: {secretKeyRef: {name: ca, key: ca.crt}}},\n"
			  "            bearerTokenSecret: {name: tok, key: token}}\n"
			  "  monitor: {kind: PodMonitor, labels: {release: prom, team: a}, matchPrometheus: true}\n"
			  "  scrapeConfig: {enabled: false, scrapeConfigResource: true}\n"
			  "  limits: {maxNumSeqs: 8, driftTolerance: 0.1}\n"
			  "  slo: {ttftP95Seconds: 0.5, tpotP95Seconds: 0.05}\n", &s, &err));
	ASSERT_STREQ(s.workload, "qwen-chat");
	ASSERT_EQ_INT(s.backend, BACKEND_VLLM_PD);
	ASSERT_STREQ(s.port, "8200");
	ASSERT_EQ_INT(s.interval_ms, 60000);
	ASSERT_TRUE(s.https);
	ASSERT_STREQ(s.tls_ca.name, "ca");
	ASSERT_STREQ(s.bearer.key, "token");
	ASSERT_EQ_INT(s.monitor, MONITOR_POD);
	ASSERT_EQ_INT(s.nmonitor_labels, 2);
	ASSERT_STREQ(s.monitor_labels[0].key, "release");
	ASSERT_TRUE(!s.scrape_config && s.scrape_config_resource && s.match_prometheus);
	ASSERT_EQ_INT(s.expected_max_num_seqs, 8);
	ASSERT_EQ_DBL(s.slo_ttft_p95, 0.5, 0);
	ASSERT_EQ_INT(s.generation, 3);
	iwspec_release(&s);
	buf_release(&err);
}

TEST(iwspec_errors_name_field_value_and_object)
{
	static const struct {
		const char *spec, *want;
	} cases[] = {
		{"metrics: {interval: 15x}", "spec.metrics.interval \"15x\" in llm/qwen: not a duration"},
		{"metrics: {port: 0}", "spec.metrics.port \"0\" in llm/qwen"},
		{"metrics: {port: 70000}", "spec.metrics.port \"70000\" in llm/qwen"},
		{"metrics: {port: HTTP}", "spec.metrics.port \"HTTP\" in llm/qwen: not a port name"},
		{"metrics: {path: metrics}", "spec.metrics.path \"metrics\""},
		{"metrics: {interval: 10s, scrapeTimeout: 20s}", "must not be longer than spec.metrics.interval"},
		{"metrics: {tls: {serverName: x}}", "spec.metrics.tls \"set\" in llm/qwen: needs spec.metrics.scheme https"},
		{"metrics: {bearerTokenSecret: {name: x}}", "spec.metrics.bearerTokenSecret in llm/qwen: needs both name and key"},
		{"backend: tgi", "spec.backend \"tgi\" in llm/qwen: must be vllm"},
		{"monitor: {kind: Probe}", "spec.monitor.kind \"Probe\""},
		{"monitor: {labels: {\"bad key!\": x}}", "spec.monitor.labels key \"bad key!\""},
		{"limits: {driftTolerance: 0}", "spec.limits.driftTolerance 0 in llm/qwen: must be greater than 0"},
		{"limits: {maxNumSeqs: 2.5}", "spec.limits.maxNumSeqs"},
		{"workloadName: \"-x\"", "spec.workloadName \"-x\""},
		{"dashboard: {enabled: maybe}", "spec.dashboard.enabled in llm/qwen: must be true or false"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct iwspec s;
		struct buf err, y;
		buf_init(&err, 1024);
		buf_init(&y, 4096);
		buf_printf(&y, "apiVersion: infermon.io/v1alpha1\nkind: InferenceWorkload\n"
			       "metadata: {name: qwen, namespace: llm}\nspec:\n  %s\n", cases[i].spec);
		ASSERT_TRUE(spec_of(buf_str(&y), &s, &err) != IM_OK);
		ASSERT_CONTAINS(buf_str(&err), cases[i].want);
		buf_release(&err);
		buf_release(&y);
	}
}

TEST(yamlout_round_trips_and_quotes_what_it_must)
{
	const char *json = "{\"a\":\"true\",\"b\":\"15s\",\"c\":\"1e5\",\"d\":\"0x1F\",\"e\":\"2026-11-23\","
			   "\"f\":\"on\",\"g\":\"\",\"h\":\"x: y\",\"i\":\"multi\\nline\\n\",\"j\":[],\"k\":{},"
			   "\"l\":[1,2.5,true,null,{\"m\":[\"n\"]}],\"o\":\"# no\",\"p\":\"tab\\there\","
			   "\"q\":\"8Gi\",\"r\":\"1:20\",\"s\":\"~\",\"t\":-3,\"u\":\"no trailing\\nnewline\"}";
	cJSON *in = cJSON_Parse(json), *back;
	struct buf b;

	buf_init(&b, BUF_MAX_SMALL);
	ASSERT_OK(yamlout_value(&b, in, 0));
	ASSERT_CONTAINS(buf_str(&b), "a: \"true\"\n");
	ASSERT_CONTAINS(buf_str(&b), "b: 15s\n");
	ASSERT_CONTAINS(buf_str(&b), "c: \"1e5\"\n");
	ASSERT_CONTAINS(buf_str(&b), "q: 8Gi\n");
	ASSERT_CONTAINS(buf_str(&b), "i: |\n  multi\n  line\n");
	back = parse1(buf_str(&b));
	ASSERT_TRUE(cJSON_Compare(in, back, true));
	cJSON_Delete(back);
	cJSON_Delete(in);
	buf_release(&b);
}

static cJSON *render_text(const char *yaml_cr, struct buf *out)
{
	struct iwspec s;
	struct buf err;
	struct render_config c;
	cJSON *objs = cJSON_CreateArray(), *jobs = cJSON_CreateArray(), *o;

	buf_init(&err, 1024);
	render_config_init(&c);
	if (spec_of(yaml_cr, &s, &err))
		t_fail(__FILE__, __LINE__, "%s", buf_str(&err));
	render_workload(&c, &s, NULL, 0, objs);
	cJSON_AddItemToArray(jobs, render_scrape_job(&s));
	cJSON_AddItemToArray(objs, render_scrape_secret(&c, jobs, &err));
	cJSON_ArrayForEach(o, objs)
	{
		yamlout_doc(out, o);
	}
	iwspec_release(&s);
	buf_release(&err);
	return objs;
}

TEST(render_is_deterministic_and_complete)
{
	const char *cr = "apiVersion: infermon.io/v1alpha1\nkind: InferenceWorkload\n"
			 "metadata: {name: Qwen_Chat.v2, namespace: llm}\n"
			 "spec: {backend: sglang-pd, monitor: {labels: {release: prom}}, "
			 "scrapeConfig: {scrapeConfigResource: true}}\n";
	struct buf a, b;
	cJSON *objs;

	buf_init(&a, BUF_MAX_LARGE);
	buf_init(&b, BUF_MAX_LARGE);
	objs = render_text(cr, &a);
	cJSON_Delete(render_text(cr, &b));
	ASSERT_STREQ(buf_str(&a), buf_str(&b));
	ASSERT_EQ_INT(cJSON_GetArraySize(objs), 4); /* Service, ServiceMonitor, ScrapeConfig, Secret */
	ASSERT_CONTAINS(buf_str(&a), "kind: Service\n");
	ASSERT_CONTAINS(buf_str(&a), "kind: ServiceMonitor\n");
	ASSERT_CONTAINS(buf_str(&a), "kind: ScrapeConfig\n");
	ASSERT_CONTAINS(buf_str(&a), "  name: infermon-qwen-chat-v2-");   /* sanitised, hashed */
	ASSERT_CONTAINS(buf_str(&a), "    release: prom\n");               /* monitor labels */
	ASSERT_CONTAINS(buf_str(&a), "targetLabel: role\n");               /* a -pd backend */
	ASSERT_CONTAINS(buf_str(&a), "job_name: infermon/llm/Qwen_Chat.v2\n");
	ASSERT_CONTAINS(buf_str(&a), "alibabacloud.com/inference-workload=Qwen_Chat.v2,alibabacloud.com/inference-backend=sglang-pd");
	ASSERT_TRUE(strstr(buf_str(&a), "ownerReferences") == NULL);
	cJSON_Delete(objs);
	buf_release(&a);
	buf_release(&b);
}

TEST(render_object_names)
{
	char n[80];

	render_object_name("qwen-chat", n, sizeof(n));
	ASSERT_STREQ(n, "infermon-qwen-chat");
	render_object_name("Qwen", n, sizeof(n));
	ASSERT_TRUE(strncmp(n, "infermon-qwen-", 14) == 0 && strlen(n) == 22);
	render_object_name("a-very-long-workload-name-that-goes-on-and-on-and-on-forever", n, sizeof(n));
	ASSERT_TRUE(strlen(n) <= 63);
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}
