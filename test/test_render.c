#include "t.h"

#include "iwspec.h"
#include "render.h"
#include "render_alerts.h"
#include "render_dashboard.h"
#include "fileio.h"
#include "objcache.h"
#include "reflector.h"
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
		{"slo: {objectives: {sli: ttft}}", "spec.slo.objectives in llm/qwen: must be a list"},
		{"slo: {objectives: [7]}", "spec.slo.objectives[0] in llm/qwen: must be an object"},
		{"slo: {objectives: [{target: 99}]}", "spec.slo.objectives[0].sli in llm/qwen: required"},
		{"slo: {objectives: [{sli: ttfb, target: 99}]}", "spec.slo.objectives[0].sli \"ttfb\" in llm/qwen: must be ttft, tpot, e2e or availability"},
		{"slo: {objectives: [{sli: ttft, target: 99}]}", "spec.slo.objectives[0].thresholdSeconds in llm/qwen: required for sli ttft"},
		{"slo: {objectives: [{sli: ttft, thresholdSeconds: 0.0005, target: 99}]}", "spec.slo.objectives[0].thresholdSeconds \"0.0005\" in llm/qwen: must be at least 0.001"},
		{"slo: {objectives: [{sli: tpot, thresholdSeconds: 3601, target: 99}]}", "spec.slo.objectives[0].thresholdSeconds 3601 in llm/qwen: must be greater than 0 and at most 3600"},
		{"slo: {objectives: [{sli: availability, thresholdSeconds: 1, target: 99}]}", "spec.slo.objectives[0].thresholdSeconds in llm/qwen: availability has no threshold"},
		{"slo: {objectives: [{sli: e2e, thresholdSeconds: 20}]}", "spec.slo.objectives[0].target in llm/qwen: required"},
		{"slo: {objectives: [{sli: e2e, thresholdSeconds: 20, target: 100}]}", "spec.slo.objectives[0].target \"100\" in llm/qwen: must be at least 50 and below 100"},
		{"slo: {objectives: [{sli: e2e, thresholdSeconds: 20, target: 0.99}]}", "spec.slo.objectives[0].target \"0.99\""},
		{"slo: {objectives: [{sli: e2e, thresholdSeconds: 20, target: 99, window: 7d}]}", "spec.slo.objectives[0].window \"7d\" in llm/qwen: must be 28d to 90d"},
		{"slo: {objectives: [{sli: e2e, thresholdSeconds: 20, target: 99, window: 720h}]}", "spec.slo.objectives[0].window \"720h\" in llm/qwen: must be a number of days or weeks"},
		{"slo: {objectives: [{sli: e2e, thresholdSeconds: 20, target: 99, window: 13w}]}", "spec.slo.objectives[0].window \"13w\""},
		{"slo: {objectives: [{sli: e2e, thresholdSeconds: 20, target: 99, windw: 28d}]}", "spec.slo.objectives[0] \"windw\" in llm/qwen: unknown field"},
		{"slo: {objectives: [{sli: e2e, thresholdSeconds: 20, target: 99}, {sli: e2e, thresholdSeconds: 20, target: 99, window: 4w}]}", "spec.slo.objectives[1] in llm/qwen: repeats objectives[0]"},
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
	cJSON *objs = cJSON_CreateArray(), *o;
	struct scrape_jobs jobs;

	buf_init(&err, 1024);
	scrape_jobs_init(&jobs);
	render_config_init(&c);
	if (spec_of(yaml_cr, &s, &err))
		t_fail(__FILE__, __LINE__, "%s", buf_str(&err));
	render_workload(&c, &s, NULL, 0, objs);
	scrape_jobs_add(&jobs, &s);
	cJSON_AddItemToArray(objs, render_scrape_secret(&c, scrape_jobs_render(&jobs), &err));
	scrape_jobs_release(&jobs);
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
	ASSERT_CONTAINS(buf_str(&a), "job_name: infermon/port=http,path=/metrics,interval=15s,timeout=10s,scheme=http,role\n");
	ASSERT_CONTAINS(buf_str(&a), "regex: llm;Qwen_Chat\\.v2;sglang-pd\n"); /* quoted '.' */
	ASSERT_CONTAINS(buf_str(&a), "label: alibabacloud.com/inference-workload,alibabacloud.com/inference-backend\n");
	ASSERT_CONTAINS(buf_str(&a), "alibabacloud.com/inference-workload=Qwen_Chat.v2,alibabacloud.com/inference-backend=sglang-pd"); /* the ScrapeConfig */
	ASSERT_TRUE(strstr(buf_str(&a), "ownerReferences") == NULL);
	cJSON_Delete(objs);
	buf_release(&a);
	buf_release(&b);
}

static cJSON *find_kind(cJSON *objs, const char *kind)
{
	cJSON *o;

	cJSON_ArrayForEach(o, objs)
	{
		if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(o, "kind")), kind) == 0)
			return o;
	}
	t_fail(__FILE__, __LINE__, "no %s rendered", kind);
	return NULL;
}

/* The ScrapeConfig scrapes an HTTPS engine as the monitor beside it does:
 * the same tlsConfig (CA from a Secret, server name) and authorization
 * (bearer token from a Secret). It had neither: prometheus-operator's job
 * for it was https without the CA and the token (it_operator.sh). */
TEST(render_scrapeconfig_has_the_monitors_tls_and_token)
{
	static const char *const kinds[] = {"PodMonitor", "ServiceMonitor"};
	struct buf a;

	for (size_t i = 0; i < 2; i++) {
		char cr[1024];
		cJSON *objs, *sc, *ep;

		snprintf(cr, sizeof(cr),
			 "apiVersion: infermon.io/v1alpha1\nkind: InferenceWorkload\n"
			 "metadata: {name: qwen, namespace: llm}\n"
			 "spec:\n  backend: vllm\n"
			 "  metrics: {scheme: https, tls: {serverName: e.svc, insecureSkipVerify: false,\n"
			 "            ca: {secretKeyRef: {name: ca, key: ca.crt}}},\n"
			 "            bearerTokenSecret: {name: tok, key: token}}\n"
			 "  monitor: {kind: %s}\n  scrapeConfig: {scrapeConfigResource: true}\n",
			 kinds[i]);
		buf_init(&a, BUF_MAX_LARGE);
		objs = render_text(cr, &a);
		sc = cJSON_GetObjectItem(find_kind(objs, "ScrapeConfig"), "spec");
		ep = cJSON_GetArrayItem(
			cJSON_GetObjectItem(cJSON_GetObjectItem(find_kind(objs, kinds[i]), "spec"),
					    i == 0 ? "podMetricsEndpoints" : "endpoints"),
			0);
		ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(sc, "scheme")), "HTTPS");
		ASSERT_TRUE(cJSON_GetObjectItem(sc, "tlsConfig") != NULL);
		ASSERT_TRUE(cJSON_Compare(cJSON_GetObjectItem(sc, "tlsConfig"),
					  cJSON_GetObjectItem(ep, "tlsConfig"), true));
		ASSERT_TRUE(cJSON_GetObjectItem(sc, "authorization") != NULL);
		ASSERT_TRUE(cJSON_Compare(cJSON_GetObjectItem(sc, "authorization"),
					  cJSON_GetObjectItem(ep, "authorization"), true));
		ASSERT_CONTAINS(buf_str(&a), "  tlsConfig:\n    ca:\n      secret:\n        name: ca\n"
					     "        key: ca.crt\n    serverName: e.svc\n");
		cJSON_Delete(objs);
		buf_release(&a);
	}
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

/* The compiled-in dashboard is dashboards/llm-inference.json, byte for byte. */
TEST(render_dashboard_json_is_the_file)
{
	const char *data = getenv("INFERMON_TEST_DATA");
	struct buf path, file, err;
	size_t len;
	const char *json = render_dashboard_json(&len);
	cJSON *d;

	ASSERT_TRUE(data != NULL);
	buf_init(&path, 4096);
	buf_init(&file, BUF_MAX_LARGE);
	buf_init(&err, 1024);
	buf_printf(&path, "%s/../../dashboards/llm-inference.json", data);
	ASSERT_OK(fileio_read(buf_str(&path), BUF_MAX_LARGE, &file, &err));
	ASSERT_EQ_INT(len, file.len);
	ASSERT_TRUE(memcmp(json, file.ptr, len) == 0);
	ASSERT_EQ_INT(strlen(json), len);
	ASSERT_TRUE(len < 1024 * 1024 - 64 * 1024);
	d = cJSON_Parse(json);
	ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "uid")), "infermon-llm-inference");
	cJSON_Delete(d);
	buf_release(&path);
	buf_release(&file);
	buf_release(&err);
}

TEST(render_dashboard_configmap_defaults)
{
	struct render_config c;
	cJSON *cm, *md, *l, *a;
	struct buf a1, a2;

	render_config_init(&c);
	cm = render_dashboard_configmap(&c);
	md = cJSON_GetObjectItemCaseSensitive(cm, "metadata");
	ASSERT_STREQ(obj_str(cm, "kind", NULL), "ConfigMap");
	ASSERT_STREQ(obj_str(cm, "metadata", "namespace"), "monitoring");
	ASSERT_STREQ(obj_str(cm, "metadata", "name"), "infermon-llm-inference");
	l = cJSON_GetObjectItemCaseSensitive(md, "labels");
	ASSERT_EQ_INT(cJSON_GetArraySize(l), 2);
	ASSERT_STREQ(obj_str(l, "grafana_dashboard", NULL), "1");
	ASSERT_STREQ(obj_str(l, "app.kubernetes.io/managed-by", NULL), "infermon");
	a = cJSON_GetObjectItemCaseSensitive(md, "annotations");
	ASSERT_STREQ(obj_str(a, "grafana_folder", NULL), "LLM Inference");
	ASSERT_STREQ(obj_str(a, "k8s-sidecar-target-directory", NULL), "LLM Inference");
	ASSERT_STREQ(obj_str(cm, "data", "llm-inference.json"), render_dashboard_json(NULL));
	ASSERT_TRUE(cJSON_GetObjectItemCaseSensitive(md, "ownerReferences") == NULL);
	/* YAML out and back: the JSON survives byte for byte, twice the same */
	buf_init(&a1, BUF_MAX_LARGE);
	buf_init(&a2, BUF_MAX_LARGE);
	ASSERT_OK(yamlout_doc(&a1, cm));
	{
		cJSON *back = parse1(a1.ptr + 4);
		ASSERT_STREQ(obj_str(back, "data", "llm-inference.json"), render_dashboard_json(NULL));
		cJSON_Delete(back);
	}
	cJSON_Delete(cm);
	cm = render_dashboard_configmap(&c);
	ASSERT_OK(yamlout_doc(&a2, cm));
	ASSERT_STREQ(buf_str(&a1), buf_str(&a2));
	cJSON_Delete(cm);
	buf_release(&a1);
	buf_release(&a2);
}

TEST(render_dashboard_options_and_grafana_dashboard)
{
	struct render_config c;
	struct dashboard_opts o = {0};
	cJSON *cm, *gd, *ml;

	o.namespace = "grafana";
	o.label = (struct render_label){"dashboards.example.com/import", "yes"};
	o.folder = "Inference";
	o.grafana_operator = true;
	o.instance[0] = (struct render_label){"app", "grafana"};
	o.instance[1] = (struct render_label){"tier", "ops"};
	o.ninstance = 2;
	render_config_init(&c);
	ASSERT_TRUE(!c.grafana_operator && c.dashboard);
	render_dashboard_apply_opts(&c, &o);
	cm = render_dashboard_configmap(&c);
	ASSERT_STREQ(obj_str(cm, "metadata", "namespace"), "grafana");
	ASSERT_STREQ(obj_label(cm, "dashboards.example.com/import"), "yes");
	ASSERT_TRUE(obj_label(cm, "grafana_dashboard") == NULL);
	gd = render_grafana_dashboard(&c);
	ASSERT_STREQ(obj_str(gd, "apiVersion", NULL), "grafana.integreatly.org/v1beta1");
	ASSERT_STREQ(obj_str(gd, "kind", NULL), "GrafanaDashboard");
	ASSERT_STREQ(obj_str(gd, "metadata", "namespace"), "grafana");
	ASSERT_TRUE(obj_label(gd, "dashboards.example.com/import") == NULL);
	ASSERT_STREQ(obj_label(gd, "app.kubernetes.io/managed-by"), "infermon");
	ml = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(gd, "spec"), "instanceSelector"),
		"matchLabels");
	ASSERT_EQ_INT(cJSON_GetArraySize(ml), 2);
	ASSERT_STREQ(obj_str(ml, "tier", NULL), "ops");
	ASSERT_STREQ(obj_str(gd, "spec", "folder"), "Inference");
	ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(gd, "spec"),
								 "allowCrossNamespaceImport")));
	{
		const cJSON *ref = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(gd, "spec"),
								    "configMapRef");
		ASSERT_STREQ(obj_str(ref, "name", NULL), obj_str(cm, "metadata", "name"));
		ASSERT_STREQ(obj_str(ref, "key", NULL), "llm-inference.json");
		ASSERT_TRUE(obj_str(cm, "data", obj_str(ref, "key", NULL)) != NULL);
	}
	cJSON_Delete(cm);
	cJSON_Delete(gd);
	o = (struct dashboard_opts){.off = true};
	render_dashboard_apply_opts(&c, &o);
	ASSERT_TRUE(!c.dashboard && !c.grafana_operator);
}

static cJSON *rule_named(const cJSON *pr, const char *alert)
{
	const cJSON *g, *r;

	cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(pr, "spec"), "groups"))
	{
		cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(g, "rules"))
		{
			const char *a = obj_str(r, "alert", NULL);
			if (a && strcmp(a, alert) == 0)
				return (cJSON *)r;
		}
	}
	return NULL;
}

static int rule_count(const cJSON *pr)
{
	const cJSON *g = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(pr, "spec"), "groups"), 0);
	return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(g, "rules"));
}

TEST(render_alerts_rules_follow_the_spec)
{
	struct iwspec s;
	struct buf err, a, b;
	cJSON *pr, *r, *objs;
	struct render_config c;

	buf_init(&err, 1024);
	buf_init(&a, BUF_MAX_SMALL);
	buf_init(&b, BUF_MAX_SMALL);
	render_config_init(&c);
	/* no SLO targets: no SLO alerts */
	ASSERT_OK(spec_of("apiVersion: infermon.io/v1alpha1\nkind: InferenceWorkload\n"
			  "metadata: {name: qwen, namespace: llm}\nspec: {alerts: {enabled: true}}\n", &s, &err));
	pr = render_alerts(&s);
	ASSERT_EQ_INT(rule_count(pr), 4);
	ASSERT_TRUE(rule_named(pr, "LLMTTFTAboveSLO") == NULL);
	r = rule_named(pr, "LLMLimitDrift");
	ASSERT_CONTAINS(obj_str(r, "expr", NULL), "infermon_check_active{check=\"LimitDrift\", namespace=\"llm\", workload_name=\"qwen\"}");
	ASSERT_STREQ(obj_str(r, "for", NULL), "5m");
	ASSERT_STREQ(obj_str(r, "labels", "severity"), "warning");
	ASSERT_TRUE(obj_str(r, "annotations", "summary") && obj_str(r, "annotations", "description"));
	ASSERT_STREQ(obj_str(rule_named(pr, "LLMEngineDown"), "expr", NULL), "up{namespace=\"llm\", workload_name=\"qwen\"} == 0");
	r = rule_named(pr, "LLMKVCachePressure");
	ASSERT_CONTAINS(obj_str(r, "expr", NULL), "vllm:kv_cache_usage_perc{");
	ASSERT_CONTAINS(obj_str(r, "expr", NULL), "vllm:gpu_cache_usage_perc{");
	ASSERT_CONTAINS(obj_str(r, "expr", NULL), "sglang[:_]token_usage");
	ASSERT_TRUE(rule_named(pr, "LLMAdmissionBound") != NULL);
	ASSERT_STREQ(obj_str(pr, "metadata", "name"), "infermon-qwen");
	cJSON_Delete(pr);
	/* alerts off: render_workload leaves the PrometheusRule out */
	objs = cJSON_CreateArray();
	s.alerts = false;
	render_workload(&c, &s, NULL, 0, objs);
	ASSERT_EQ_INT(cJSON_GetArraySize(objs), 2);
	cJSON_Delete(objs);
	iwspec_release(&s);

	/* every target: three SLO alerts, TPOT with both names, labels of the monitor */
	ASSERT_OK(spec_of("apiVersion: infermon.io/v1alpha1\nkind: InferenceWorkload\n"
			  "metadata: {name: sgl, namespace: research}\n"
			  "spec: {backend: sglang-pd, monitor: {labels: {release: prom}}, alerts: {enabled: true},\n"
			  "       slo: {ttftP95Seconds: 0.5, tpotP95Seconds: 0.05, e2eP95Seconds: 20}}\n", &s, &err));
	objs = cJSON_CreateArray();
	render_workload(&c, &s, NULL, 0, objs);
	pr = cJSON_GetArrayItem(objs, cJSON_GetArraySize(objs) - 1);
	ASSERT_STREQ(obj_str(pr, "kind", NULL), "PrometheusRule");
	ASSERT_STREQ(obj_label(pr, "release"), "prom");
	ASSERT_STREQ(obj_label(pr, "infermon.io/workload"), "sgl");
	ASSERT_EQ_INT(rule_count(pr), 7);
	r = rule_named(pr, "LLMTTFTAboveSLO");
	ASSERT_CONTAINS(obj_str(r, "expr", NULL), "{__name__=~\"(vllm:|sglang[:_])time_to_first_token_seconds_bucket\", namespace=\"research\", workload_name=\"sgl\", role!=\"prefill\", tp_rank=~\"|0\"}[5m]");
	ASSERT_CONTAINS(obj_str(r, "expr", NULL), ")) > 0.5");
	ASSERT_STREQ(obj_str(r, "labels", "severity"), "critical");
	ASSERT_STREQ(obj_str(r, "labels", "workload_name"), "sgl");
	r = rule_named(pr, "LLMTPOTAboveSLO");
	ASSERT_CONTAINS(obj_str(r, "expr", NULL), "inter_token_latency_seconds_bucket");
	ASSERT_CONTAINS(obj_str(r, "expr", NULL), "or on (namespace, pod)");
	ASSERT_CONTAINS(obj_str(r, "expr", NULL), "time_per_output_token_seconds_bucket");
	ASSERT_CONTAINS(obj_str(rule_named(pr, "LLME2ELatencyAboveSLO"), "expr", NULL), ")) > 20");
	yamlout_doc(&a, pr);
	cJSON_Delete(objs);
	objs = cJSON_CreateArray();
	render_workload(&c, &s, NULL, 0, objs);
	yamlout_doc(&b, cJSON_GetArrayItem(objs, cJSON_GetArraySize(objs) - 1));
	ASSERT_STREQ(buf_str(&a), buf_str(&b));
	ASSERT_CONTAINS(buf_str(&a), "  - name: infermon.research.sgl\n");
	cJSON_Delete(objs);
	iwspec_release(&s);

	/* a namespace no API server would accept (render reads files) stays
	 * inside its PromQL string; a target keeps its digits */
	ASSERT_OK(spec_of("apiVersion: infermon.io/v1alpha1\nkind: InferenceWorkload\n"
			  "metadata: {name: q, namespace: \"a\\\"b\\\\c\\n\"}\n"
			  "spec: {alerts: {enabled: true}, slo: {ttftP95Seconds: 0.1234567}}\n", &s, &err));
	pr = render_alerts(&s);
	ASSERT_CONTAINS(obj_str(rule_named(pr, "LLMEngineDown"), "expr", NULL),
			"up{namespace=\"a\\\"b\\\\c\\x0a\", workload_name=\"q\"} == 0");
	ASSERT_CONTAINS(obj_str(rule_named(pr, "LLMTTFTAboveSLO"), "expr", NULL), ")) > 0.1234567");
	cJSON_Delete(pr);
	iwspec_release(&s);
	buf_release(&err);
	buf_release(&a);
	buf_release(&b);
}

/* The i-th rule of the SLO group (the last group). */
static cJSON *slo_rule(const cJSON *pr, int i)
{
	const cJSON *groups = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(pr, "spec"), "groups");
	const cJSON *g = cJSON_GetArrayItem(groups, cJSON_GetArraySize(groups) - 1);

	return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(g, "rules"), i);
}

TEST(render_slo_objectives_become_error_budget_rules)
{
	static const char *const ratios[] = {"5m", "30m", "1h", "2h", "6h", "1d", "3d"};
	struct iwspec s;
	struct buf err, name;
	cJSON *pr, *r, *objs, *groups;
	struct render_config c;
	int i = 0;

	buf_init(&err, 1024);
	buf_init(&name, BUF_MAX_SMALL);
	render_config_init(&c);
	ASSERT_OK(spec_of("apiVersion: infermon.io/v1alpha1\nkind: InferenceWorkload\n"
			  "metadata: {name: chat, namespace: llm}\n"
			  "spec:\n  alerts: {enabled: true}\n  slo:\n    objectives:\n"
			  "    - {sli: ttft, thresholdSeconds: 2.5, target: 99.0}\n"
			  "    - {sli: ttft, thresholdSeconds: 2.5, target: 99.9, window: 4w}\n"
			  "    - {sli: tpot, thresholdSeconds: 1, target: 99.5, window: 30d}\n"
			  "    - {sli: availability, target: 99.95, window: 30d}\n",
			  &s, &err));
	ASSERT_EQ_INT((int)s.nobjectives, 4);
	ASSERT_STREQ(s.objectives[0].window, "28d"); /* the default */
	ASSERT_STREQ(s.objectives[1].window, "28d"); /* 4w, in days */
	pr = render_alerts(&s);
	groups = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(pr, "spec"),
						  "groups");
	ASSERT_EQ_INT(cJSON_GetArraySize(groups), 2);
	ASSERT_STREQ(obj_str(cJSON_GetArrayItem(groups, 1), "name", NULL), "infermon-slo.llm.chat");

	/* one set of SLI recordings per (sli, threshold): ttft 2.5 is shared */
	for (int sli = 0; sli < 3; sli++) {
		ASSERT_STREQ(obj_str(slo_rule(pr, i++), "record", NULL),
			     "infermon:slo_sli_requests:rate5m");
		ASSERT_STREQ(obj_str(slo_rule(pr, i++), "record", NULL),
			     "infermon:slo_sli_errors:rate5m");
		for (size_t w = 0; w < sizeof(ratios) / sizeof(ratios[0]); w++) {
			buf_reset(&name);
			buf_printf(&name, "infermon:slo_sli_error:ratio_rate%s", ratios[w]);
			r = slo_rule(pr, i++);
			ASSERT_STREQ(obj_str(r, "record", NULL), buf_str(&name));
			ASSERT_STREQ(obj_str(r, "labels", "sli"), sli == 0   ? "ttft"
								  : sli == 1 ? "tpot"
									     : "availability");
		}
	}
	/* ttft: total minus the bucket at 2.5 s (either le spelling), prefill left out */
	r = slo_rule(pr, 1);
	ASSERT_CONTAINS(
		obj_str(r, "expr", NULL),
		"sum by (namespace, workload_name) (rate({__name__=~\"(vllm:|sglang[:_])time_to_first_token_seconds_count\", namespace=\"llm\", workload_name=\"chat\", role!=\"prefill\", tp_rank=~\"|0\"}[5m]))\n-\n");
	ASSERT_CONTAINS(
		obj_str(r, "expr", NULL),
		"time_to_first_token_seconds_bucket\", namespace=\"llm\", workload_name=\"chat\", role!=\"prefill\", tp_rank=~\"|0\", le=~\"2\\\\.50*\"}[5m]))");
	ASSERT_STREQ(obj_str(r, "labels", "threshold"), "2.5");
	ASSERT_STREQ(
		obj_str(slo_rule(pr, 2), "expr", NULL),
		"infermon:slo_sli_errors:rate5m{namespace=\"llm\", workload_name=\"chat\", sli=\"ttft\", threshold=\"2.5\"}\n/\n"
		"(infermon:slo_sli_requests:rate5m{namespace=\"llm\", workload_name=\"chat\", sli=\"ttft\", threshold=\"2.5\"} > 0)");
	ASSERT_CONTAINS(obj_str(slo_rule(pr, 3), "expr", NULL), "[30m])) > 0\n)");
	/* tpot: a whole second matches "1" and "1.0"; the older name per pod */
	r = slo_rule(pr, 10);
	ASSERT_CONTAINS(
		obj_str(r, "expr", NULL),
		"inter_token_latency_seconds_bucket\", namespace=\"llm\", workload_name=\"chat\", role!=\"prefill\", tp_rank=~\"|0\", le=~\"1(\\\\.0*)?\"}[5m]))\n    or on (namespace, pod)\n");
	ASSERT_CONTAINS(obj_str(r, "expr", NULL), "time_per_output_token_seconds_bucket");
	/* availability: finished other than abort or error, no threshold */
	r = slo_rule(pr, 19);
	ASSERT_CONTAINS(
		obj_str(r, "expr", NULL),
		"rate(vllm:request_success_total{namespace=\"llm\", workload_name=\"chat\", role!=\"prefill\", finished_reason!~\"abort|error\"}[5m])");
	ASSERT_TRUE(obj_str(r, "labels", "threshold") == NULL);

	/* one window ratio per (sli, threshold, window), weighted by requests */
	r = slo_rule(pr, i++);
	ASSERT_STREQ(obj_str(r, "record", NULL), "infermon:slo_sli_error:ratio_rate28d");
	ASSERT_STREQ(
		obj_str(r, "expr", NULL),
		"sum_over_time(infermon:slo_sli_errors:rate5m{namespace=\"llm\", workload_name=\"chat\", sli=\"ttft\", threshold=\"2.5\"}[28d])\n/\n"
		"(sum_over_time(infermon:slo_sli_requests:rate5m{namespace=\"llm\", workload_name=\"chat\", sli=\"ttft\", threshold=\"2.5\"}[28d]) > 0)");
	ASSERT_STREQ(obj_str(r, "labels", "window"), "28d");
	ASSERT_STREQ(obj_str(slo_rule(pr, i++), "record", NULL),
		     "infermon:slo_sli_error:ratio_rate30d");
	ASSERT_STREQ(obj_str(slo_rule(pr, i++), "record", NULL),
		     "infermon:slo_sli_error:ratio_rate30d");

	/* per objective: budget left and burn rate */
	r = slo_rule(pr, i++);
	ASSERT_STREQ(obj_str(r, "record", NULL), "infermon:slo_error_budget_remaining:ratio");
	ASSERT_STREQ(
		obj_str(r, "expr", NULL),
		"1 - infermon:slo_sli_error:ratio_rate28d{namespace=\"llm\", workload_name=\"chat\", sli=\"ttft\", threshold=\"2.5\", window=\"28d\"} / 0.01");
	ASSERT_STREQ(obj_str(r, "labels", "target"), "99");
	r = slo_rule(pr, i++);
	ASSERT_STREQ(obj_str(r, "record", NULL), "infermon:slo_burn_rate:ratio_rate1h");
	ASSERT_CONTAINS(obj_str(r, "expr", NULL), "} / 0.01");
	r = slo_rule(pr, i++);
	ASSERT_CONTAINS(obj_str(r, "expr", NULL), "} / 0.001"); /* 99.9: not 0.000999999999999943 */
	ASSERT_STREQ(obj_str(r, "labels", "target"), "99.9");
	i += 5;
	ASSERT_CONTAINS(obj_str(slo_rule(pr, i - 1), "expr", NULL), "} / 0.0005");

	/* burn alerts: the Workbook's budget shares, scaled to the window */
	r = slo_rule(pr, i++);
	ASSERT_STREQ(obj_str(r, "alert", NULL), "LLMErrorBudgetBurnPage");
	ASSERT_STREQ(
		obj_str(r, "expr", NULL),
		"(\n  infermon:slo_sli_error:ratio_rate1h{namespace=\"llm\", workload_name=\"chat\", sli=\"ttft\", threshold=\"2.5\"} > (13.44 * 0.01)\n"
		"  and\n  infermon:slo_sli_error:ratio_rate5m{namespace=\"llm\", workload_name=\"chat\", sli=\"ttft\", threshold=\"2.5\"} > (13.44 * 0.01)\n)\n"
		"or\n(\n  infermon:slo_sli_error:ratio_rate6h{namespace=\"llm\", workload_name=\"chat\", sli=\"ttft\", threshold=\"2.5\"} > (5.6 * 0.01)\n"
		"  and\n  infermon:slo_sli_error:ratio_rate30m{namespace=\"llm\", workload_name=\"chat\", sli=\"ttft\", threshold=\"2.5\"} > (5.6 * 0.01)\n)");
	ASSERT_STREQ(obj_str(r, "labels", "severity"), "critical");
	ASSERT_STREQ(obj_str(r, "labels", "window"), "28d");
	ASSERT_TRUE(cJSON_GetObjectItemCaseSensitive(r, "for") == NULL);
	r = slo_rule(pr, i++);
	ASSERT_STREQ(obj_str(r, "alert", NULL), "LLMErrorBudgetBurnTicket");
	ASSERT_CONTAINS(
		obj_str(r, "expr", NULL),
		"ratio_rate1d{namespace=\"llm\", workload_name=\"chat\", sli=\"ttft\", threshold=\"2.5\"} > (2.8 * 0.01)");
	ASSERT_CONTAINS(obj_str(r, "expr", NULL), "ratio_rate2h{");
	ASSERT_CONTAINS(
		obj_str(r, "expr", NULL),
		"ratio_rate3d{namespace=\"llm\", workload_name=\"chat\", sli=\"ttft\", threshold=\"2.5\"} > (0.933333333333333 * 0.01)");
	ASSERT_CONTAINS(obj_str(r, "expr", NULL), "ratio_rate6h{");
	ASSERT_STREQ(obj_str(r, "labels", "severity"), "warning");
	i += 2;
	/* 30d: 14.4, 6, 3 and 1 */
	r = slo_rule(pr, i++);
	ASSERT_CONTAINS(obj_str(r, "expr", NULL), "> (14.4 * 0.005)");
	ASSERT_CONTAINS(obj_str(r, "expr", NULL), "> (6 * 0.005)");
	r = slo_rule(pr, i++);
	ASSERT_CONTAINS(obj_str(r, "expr", NULL), "> (3 * 0.005)");
	ASSERT_CONTAINS(obj_str(r, "expr", NULL), "> (1 * 0.005)");
	i += 2;
	ASSERT_TRUE(slo_rule(pr, i) == NULL);
	cJSON_Delete(pr);

	/* alerts off: the recordings still come (the dashboard reads them),
	 * in a PrometheusRule of their own, without the burn alerts */
	s.alerts = false;
	objs = cJSON_CreateArray();
	render_workload(&c, &s, NULL, 0, objs);
	pr = cJSON_GetArrayItem(objs, cJSON_GetArraySize(objs) - 1);
	ASSERT_STREQ(obj_str(pr, "kind", NULL), "PrometheusRule");
	groups = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(pr, "spec"),
						  "groups");
	ASSERT_EQ_INT(cJSON_GetArraySize(groups), 1);
	ASSERT_TRUE(rule_named(pr, "LLMErrorBudgetBurnPage") == NULL);
	ASSERT_TRUE(rule_named(pr, "LLMEngineDown") == NULL);
	ASSERT_STREQ(obj_str(slo_rule(pr, i - 9), "record", NULL),
		     "infermon:slo_burn_rate:ratio_rate1h");
	cJSON_Delete(objs);
	iwspec_release(&s);
	buf_release(&err);
	buf_release(&name);
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}

static int oc_calls;
static void oc_count(void *ctx, const cJSON *obj, bool deleted)
{
	(void)ctx, (void)obj, (void)deleted;
	oc_calls++;
}

/* The cache keeps generated objects without managedFields, and an object
 * relisted unchanged (managedFields and all) runs no callback. */
TEST(objcache_drops_managed_fields_and_ignores_unchanged_relists)
{
	struct objcache c;
	struct reflector_store st;
	cJSON *o = cJSON_Parse("{\"metadata\":{\"namespace\":\"n\",\"name\":\"a\",\"resourceVersion\":\"1\","
			       "\"managedFields\":[{\"manager\":\"infermon\",\"fieldsV1\":{\"f:spec\":{}}}]},"
			       "\"spec\":{\"x\":1}}");

	oc_calls = 0;
	objcache_init(&c, oc_count, NULL);
	objcache_store(&c, &st);
	st.upsert(st.ctx, o);
	ASSERT_EQ_INT(oc_calls, 1);
	ASSERT_TRUE(objcache_get(&c, "n", "a") != NULL);
	ASSERT_TRUE(cJSON_GetObjectItemCaseSensitive(
			    cJSON_GetObjectItemCaseSensitive(objcache_get(&c, "n", "a"), "metadata"),
			    "managedFields") == NULL);
	ASSERT_EQ_INT(cJSON_GetObjectItemCaseSensitive(
			      cJSON_GetObjectItemCaseSensitive(objcache_get(&c, "n", "a"), "spec"), "x")
			      ->valueint,
		      1);
	st.upsert(st.ctx, o); /* relisted unchanged */
	ASSERT_EQ_INT(oc_calls, 1);
	objcache_release(&c);
	cJSON_Delete(o);
}
