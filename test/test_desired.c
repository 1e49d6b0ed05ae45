#include "t.h"
#include "t_kube.h"

#include "alloc.h"
#include "desired.h"
#include "objcache.h"
#include "promselect.h"

/* ---- fixtures ---- */

struct fixture {
	struct render_config rc;
	struct iw_defaults defaults;
	struct desired_in in;
};

static void fixture_init(struct fixture *f, const cJSON *const *crs, size_t ncrs)
{
	render_config_init(&f->rc);
	iw_defaults_init(&f->defaults);
	f->in = (struct desired_in){
		.rc = &f->rc,
		.defaults = &f->defaults,
		.crs = crs,
		.ncrs = ncrs,
		.proms_known = true,
	};
}

static const cJSON *find(const cJSON *objs, const char *kind)
{
	const cJSON *o;

	cJSON_ArrayForEach(o, objs)
	{
		if (strcmp(obj_str(o, "kind", NULL), kind) == 0)
			return o;
	}
	return NULL;
}

/* "Service,ServiceMonitor,..." */
static void kinds(const cJSON *objs, struct buf *out)
{
	const cJSON *o;

	buf_reset(out);
	cJSON_ArrayForEach(o, objs)
	{
		buf_printf(out, "%s%s", out->len ? "," : "", obj_str(o, "kind", NULL));
	}
}

static bool has_role_relabel(const cJSON *relabelings)
{
	const cJSON *r;

	cJSON_ArrayForEach(r, relabelings)
	{
		const char *t = obj_str(r, "targetLabel", NULL);
		if (t && strcmp(t, "role") == 0)
			return true;
	}
	return false;
}

static const cJSON *path(const cJSON *o, const char *a, const char *b, const char *c)
{
	o = cJSON_GetObjectItemCaseSensitive(o, a);
	o = b ? cJSON_GetObjectItemCaseSensitive(o, b) : o;
	return c ? cJSON_GetObjectItemCaseSensitive(o, c) : o;
}

/* ---- which CR governs: the conflict rule ---- */

TEST(desired_oldest_cr_governs_then_name)
{
	cJSON *a = t_cr("a", "qwen", "2026-03-01T00:00:00Z", NULL, NULL);
	cJSON *b = t_cr("b", "qwen", "2026-01-01T00:00:00Z", NULL, NULL);
	cJSON *c = t_cr("c", "qwen", "2026-01-01T00:00:00Z", NULL, NULL);
	cJSON *other = t_cr("z", "other", "2025-01-01T00:00:00Z", NULL, NULL);
	const cJSON *crs[] = {a, c, other, b}, **losers;
	size_t n;

	/* b and c are equally old: the name decides; a is the youngest */
	ASSERT_TRUE(desired_pick(crs, 4, "llm", "qwen", &losers, &n) == b);
	ASSERT_EQ_INT(n, 2);
	ASSERT_TRUE(losers[0] == c && losers[1] == a);
	im_free(losers);
	ASSERT_TRUE(desired_cr_compare(b, a) < 0 && desired_cr_compare(c, b) > 0);
	/* another namespace or workload selects nothing */
	ASSERT_TRUE(desired_pick(crs, 4, "other-ns", "qwen", &losers, &n) == NULL);
	ASSERT_TRUE(losers == NULL && n == 0);
	ASSERT_TRUE(desired_pick(crs, 4, "llm", "other", &losers, &n) == other);
	ASSERT_TRUE(losers == NULL && n == 0);
	/* a single CR: no losers array */
	ASSERT_TRUE(desired_pick(crs + 2, 1, "llm", "other", NULL, NULL) == other);
	cJSON_Delete(a);
	cJSON_Delete(b);
	cJSON_Delete(c);
	cJSON_Delete(other);
}

/* A CR being deleted selects nothing: the next oldest governs, without a
 * conflict. A CR without spec.workloadName selects the workload of its name. */
TEST(desired_deleting_cr_and_default_workload_name)
{
	cJSON *old = t_cr("old", "qwen", "2026-01-01T00:00:00Z", NULL, NULL);
	cJSON *young = t_json("{\"metadata\":{\"name\":\"qwen\",\"namespace\":\"llm\","
			      "\"creationTimestamp\":\"2026-02-01T00:00:00Z\"}}");
	const cJSON *crs[] = {old, young}, **losers;
	size_t n;

	ASSERT_STREQ(desired_cr_workload(young), "qwen");
	ASSERT_TRUE(desired_pick(crs, 2, "llm", "qwen", &losers, &n) == old);
	ASSERT_EQ_INT(n, 1);
	im_free(losers);
	cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(old, "metadata"),
				"deletionTimestamp", "2026-03-01T00:00:00Z");
	ASSERT_TRUE(desired_pick(crs, 2, "llm", "qwen", &losers, &n) == young);
	ASSERT_TRUE(losers == NULL && n == 0);
	cJSON_Delete(old);
	cJSON_Delete(young);
}

/* desired_compute reports the conflict and renders the winner's spec only. */
TEST(desired_compute_reports_losers_and_follows_the_winner)
{
	cJSON *win = t_cr("win", "qwen", "2026-01-01T00:00:00Z", "uid-win",
			  "\"monitor\":{\"kind\":\"PodMonitor\"}");
	cJSON *lose = t_cr(
		"lose", "qwen", "2026-02-01T00:00:00Z", "uid-lose",
		"\"monitor\":{\"kind\":\"ServiceMonitor\"},\"alerts\":{\"enabled\":true}");
	const cJSON *crs[] = {lose, win};
	struct fixture f;
	struct desired_workload w = {"llm", "qwen", NULL, 0};
	struct desired d;
	struct buf k;

	buf_init(&k, 1024);
	fixture_init(&f, crs, 2);
	desired_init(&d);
	desired_compute(&f.in, &w, NULL, &d);
	ASSERT_TRUE(d.cr == win && d.have_spec);
	ASSERT_EQ_INT(d.nlosers, 1);
	ASSERT_TRUE(d.losers[0] == lose);
	kinds(d.objects, &k);
	ASSERT_STREQ(buf_str(&k), "PodMonitor"); /* the loser's Service and rule are not there */
	desired_release(&d);
	buf_release(&k);
	cJSON_Delete(win);
	cJSON_Delete(lose);
}

/* ---- ownerReferences ---- */

TEST(desired_owner_references_only_with_a_uid)
{
	cJSON *with = t_cr("with", "a", NULL, "1234-uid", "\"alerts\":{\"enabled\":true}");
	cJSON *without = t_cr("without", "b", NULL, NULL, NULL);
	struct pod *p = t_pod("c-0", "c", "vllm", 8000);
	const struct pod *pods[] = {p};
	const cJSON *crs[] = {with, without}, *o;
	struct fixture f;
	struct desired_workload wa = {"llm", "a", NULL, 0}, wb = {"llm", "b", NULL, 0},
				wc = {"llm", "c", pods, 1};
	struct desired d;
	int n = 0;

	fixture_init(&f, crs, 2);
	desired_init(&d);
	desired_compute(&f.in, &wa, NULL, &d);
	ASSERT_EQ_INT(cJSON_GetArraySize(d.objects),
		      3); /* Service, ServiceMonitor, PrometheusRule */
	cJSON_ArrayForEach(o, d.objects)
	{
		const cJSON *refs = path(o, "metadata", "ownerReferences", NULL), *ref;
		ASSERT_EQ_INT(cJSON_GetArraySize(refs), 1);
		ref = cJSON_GetArrayItem(refs, 0);
		ASSERT_STREQ(obj_str(ref, "apiVersion", NULL), "infermon.io/v1alpha1");
		ASSERT_STREQ(obj_str(ref, "kind", NULL), "InferenceWorkload");
		ASSERT_STREQ(obj_str(ref, "name", NULL), "with");
		ASSERT_STREQ(obj_str(ref, "uid", NULL), "1234-uid");
		ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ref, "controller")));
		ASSERT_TRUE(
			cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ref, "blockOwnerDeletion")));
		n++;
	}
	ASSERT_EQ_INT(n, 3);
	desired_release(&d);
	/* a CR read from a file (no uid), and pods alone: no owner */
	desired_init(&d);
	desired_compute(&f.in, &wb, NULL, &d);
	ASSERT_TRUE(d.have_spec && cJSON_GetArraySize(d.objects) == 2);
	cJSON_ArrayForEach(o, d.objects)
	{
		ASSERT_TRUE(path(o, "metadata", "ownerReferences", NULL) == NULL);
	}
	desired_release(&d);
	desired_init(&d);
	desired_compute(&f.in, &wc, NULL, &d);
	ASSERT_TRUE(d.cr == NULL && d.have_spec && cJSON_GetArraySize(d.objects) == 2);
	cJSON_ArrayForEach(o, d.objects)
	{
		ASSERT_TRUE(path(o, "metadata", "ownerReferences", NULL) == NULL);
	}
	desired_release(&d);
	pod_free(p);
	cJSON_Delete(with);
	cJSON_Delete(without);
}

/* ---- every backend and monitor kind ---- */

static const char *const backends[] = {"vllm", "sglang", "vllm-pd", "sglang-pd"};

/* Labelled pods alone (the defaults): Service + ServiceMonitor, the
 * backend taken from the pod first by name, role relabeling on -pd. */
TEST(desired_pods_alone_each_backend)
{
	for (size_t i = 0; i < 4; i++) {
		/* listed out of order: the first by name ("m-0") decides */
		struct pod *p1 = t_pod("m-1", "m", "vllm", 9001),
			   *p0 = t_pod("m-0", "m", backends[i], 9000);
		const struct pod *pods[] = {p1, p0};
		struct fixture f;
		struct desired_workload w = {"llm", "m", pods, 2};
		struct desired d;
		const cJSON *svc, *sm;
		struct buf k;

		buf_init(&k, 1024);
		fixture_init(&f, NULL, 0);
		desired_init(&d);
		desired_compute(&f.in, &w, NULL, &d);
		ASSERT_TRUE(d.have_spec && d.cr == NULL && d.nlosers == 0);
		ASSERT_STREQ(backend_name(d.spec.backend), backends[i]);
		kinds(d.objects, &k);
		ASSERT_STREQ(buf_str(&k), "Service,ServiceMonitor");
		svc = find(d.objects, "Service");
		sm = find(d.objects, "ServiceMonitor");
		ASSERT_EQ_INT(cJSON_GetArrayItem(path(svc, "spec", "ports", NULL), 0)
				      ->child->next->valuedouble,
			      9000); /* the port of the pod first by name */
		ASSERT_EQ_INT(has_role_relabel(path(
				      cJSON_GetArrayItem(path(sm, "spec", "endpoints", NULL), 0),
				      "relabelings", NULL, NULL)),
			      backend_is_pd(d.spec.backend));
		desired_release(&d);
		buf_release(&k);
		pod_free(p0);
		pod_free(p1);
	}
}

/* A CR per backend and monitor kind: ServiceMonitor (with its Service),
 * PodMonitor, and a ScrapeConfig next to either. */
TEST(desired_cr_each_backend_and_monitor_kind)
{
	static const struct {
		const char *spec, *kinds, *monitor;
	} cases[] = {
		{"\"monitor\":{\"kind\":\"ServiceMonitor\"}", "Service,ServiceMonitor",
		 "ServiceMonitor"},
		{"\"monitor\":{\"kind\":\"PodMonitor\"}", "PodMonitor", "PodMonitor"},
		{"\"monitor\":{\"kind\":\"PodMonitor\"},\"scrapeConfig\":{\"scrapeConfigResource\":"
		 "true}",
		 "PodMonitor,ScrapeConfig", "PodMonitor"},
		{"\"scrapeConfig\":{\"scrapeConfigResource\":true}",
		 "Service,ServiceMonitor,ScrapeConfig", "ServiceMonitor"},
	};

	for (size_t i = 0; i < 4; i++)
		for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			struct buf spec, k;
			cJSON *o;
			const cJSON *crs[1], *mon, *eps, *sc;
			struct fixture f;
			struct desired_workload w = {"llm", "qwen", NULL, 0};
			struct desired d;
			bool pd = strstr(backends[i], "-pd") != NULL;

			buf_init(&spec, 1024);
			buf_init(&k, 1024);
			buf_printf(&spec, "\"backend\":\"%s\",%s", backends[i], cases[c].spec);
			o = t_cr("q", "qwen", NULL, "u-1", buf_str(&spec));
			crs[0] = o;
			fixture_init(&f, crs, 1);
			desired_init(&d);
			desired_compute(&f.in, &w, NULL, &d);
			ASSERT_TRUE(d.have_spec && d.cr == o);
			kinds(d.objects, &k);
			ASSERT_STREQ(buf_str(&k), cases[c].kinds);
			mon = find(d.objects, cases[c].monitor);
			eps = path(mon, "spec",
				   strcmp(cases[c].monitor, "PodMonitor") == 0
					   ? "podMetricsEndpoints"
					   : "endpoints",
				   NULL);
			ASSERT_EQ_INT(has_role_relabel(path(cJSON_GetArrayItem(eps, 0),
							    "relabelings", NULL, NULL)),
				      pd);
			if ((sc = find(d.objects, "ScrapeConfig")) != NULL)
				ASSERT_EQ_INT(
					has_role_relabel(path(sc, "spec", "relabelings", NULL)),
					pd);
			if (strcmp(cases[c].monitor, "PodMonitor") == 0)
				ASSERT_STREQ(cJSON_GetArrayItem(path(mon, "spec", "selector",
								     "matchExpressions"),
								0)
						     ->child->next->next->child->valuestring,
					     backends[i]);
			desired_release(&d);
			buf_release(&spec);
			buf_release(&k);
			cJSON_Delete(o);
		}
}

/* ---- selection verdicts ---- */

TEST(desired_selection_verdicts)
{
	cJSON *plain = t_cr("q", "qwen", NULL, NULL, NULL);
	cJSON *match = t_cr("m", "matched", NULL, NULL, "\"monitor\":{\"matchPrometheus\":true}");
	cJSON *prom = t_json("{\"metadata\":{\"name\":\"k8s\",\"namespace\":\"monitoring\"},"
			     "\"spec\":{\"serviceMonitorSelector\":{\"matchLabels\":{\"release\":"
			     "\"kp\"}},\"serviceMonitorNamespaceSelector\":{}}}");
	const cJSON *crs[] = {plain, match}, *proms[] = {prom};
	struct fixture f;
	struct desired_workload wq = {"llm", "qwen", NULL, 0}, wm = {"llm", "matched", NULL, 0};
	struct desired d;

	fixture_init(&f, crs, 2);
	f.in.proms_known = false;
	desired_init(&d);
	desired_compute(&f.in, &wq, NULL, &d);
	ASSERT_STREQ(d.selection.status, "Unknown");
	ASSERT_STREQ(d.selection.reason, "PrometheusUnknown");
	desired_release(&d);

	f.in.proms_known = true;
	desired_init(&d);
	desired_compute(&f.in, &wq, NULL, &d);
	ASSERT_STREQ(d.selection.status, "False");
	ASSERT_STREQ(d.selection.reason, "NoPrometheus");
	ASSERT_CONTAINS(buf_str(&d.selection.message), "monitoring/infermon-scrape-configs");
	desired_release(&d);

	f.in.proms = proms;
	f.in.nproms = 1;
	desired_init(&d);
	desired_compute(&f.in, &wq, NULL, &d);
	ASSERT_STREQ(d.selection.status, "False");
	ASSERT_STREQ(d.selection.reason, "NotSelected");
	ASSERT_CONTAINS(buf_str(&d.selection.message), "no Prometheus selects ServiceMonitor "
						       "llm/infermon-qwen");
	ASSERT_CONTAINS(buf_str(&d.selection.message), "matchPrometheus: true");
	desired_release(&d);

	/* matchPrometheus stamps release=kp, and then it is selected */
	desired_init(&d);
	desired_compute(&f.in, &wm, NULL, &d);
	ASSERT_STREQ(d.selection.status, "True");
	ASSERT_STREQ(d.selection.reason, "Selected");
	ASSERT_CONTAINS(buf_str(&d.selection.message), "selected by Prometheus monitoring/k8s");
	ASSERT_STREQ(obj_label(find(d.objects, "ServiceMonitor"), "release"), "kp");
	desired_release(&d);
	cJSON_Delete(plain);
	cJSON_Delete(match);
	cJSON_Delete(prom);
}

/* --match-prometheus: a workload without a CR takes matchPrometheus from
 * the controller's defaults (off unless set), so a kube-prometheus-stack
 * Prometheus selects its monitor without a CR written for it. */
TEST(desired_match_prometheus_default_for_workloads_without_a_cr)
{
	cJSON *prom = t_json("{\"metadata\":{\"name\":\"k8s\",\"namespace\":\"monitoring\"},"
			     "\"spec\":{\"serviceMonitorSelector\":{\"matchLabels\":{\"release\":"
			     "\"kp\"}},\"serviceMonitorNamespaceSelector\":{}}}");
	struct pod *p = t_pod("c-0", "c", "vllm", 8000);
	const struct pod *pods[] = {p};
	const cJSON *proms[] = {prom};
	struct fixture f;
	struct desired_workload w = {"llm", "c", pods, 1};
	struct desired d;

	fixture_init(&f, NULL, 0);
	f.in.proms = proms;
	f.in.nproms = 1;
	desired_init(&d);
	desired_compute(&f.in, &w, NULL, &d);
	ASSERT_STREQ(d.selection.reason, "NotSelected");
	ASSERT_TRUE(obj_label(find(d.objects, "ServiceMonitor"), "release") == NULL);
	desired_release(&d);

	f.defaults.match_prometheus = true;
	desired_init(&d);
	desired_compute(&f.in, &w, NULL, &d);
	ASSERT_STREQ(d.selection.status, "True");
	ASSERT_STREQ(d.selection.reason, "Selected");
	ASSERT_STREQ(obj_label(find(d.objects, "ServiceMonitor"), "release"), "kp");
	desired_release(&d);
	pod_free(p);
	cJSON_Delete(prom);
}

/* The operator's status.bindings on the live monitor: Accepted=False
 * everywhere turns a selected verdict into Rejected (it_operator found a
 * monitor whose CA Secret is missing dropped by prometheus-operator while
 * MonitorSelected said True); a Prometheus that accepts it keeps it True. */
TEST(desired_bindings_rejected_by_the_operator)
{
	static const char *const rejected =
		"{\"metadata\":{\"name\":\"infermon-qwen\",\"namespace\":\"llm\"},\"status\":"
		"{\"bindings\":[{\"group\":\"monitoring.coreos.com\",\"resource\":\"prometheuses\","
		"\"name\":\"k8s\",\"namespace\":\"monitoring\",\"conditions\":[{\"type\":\"Accepted\","
		"\"status\":\"False\",\"reason\":\"InvalidConfiguration\",\"message\":\"endpoints[0]: "
		"tlsConfig: failed to get ca\"}]}]}}";
	static const char *const mixed =
		"{\"metadata\":{\"name\":\"infermon-qwen\",\"namespace\":\"llm\"},\"status\":"
		"{\"bindings\":[{\"name\":\"a\",\"namespace\":\"m\",\"conditions\":[{\"type\":"
		"\"Accepted\",\"status\":\"True\"}]},{\"name\":\"b\",\"namespace\":\"m\","
		"\"conditions\":[{\"type\":\"Accepted\",\"status\":\"False\",\"message\":\"no\"}]}]}}";
	struct desired_verdict v;
	cJSON *live;

	buf_init(&v.message, 4096);
	v.status = "True";
	v.reason = "Selected";
	buf_adds(&v.message,
		 "ServiceMonitor llm/infermon-qwen is selected by Prometheus monitoring/k8s");
	desired_judge_bindings(NULL, "ServiceMonitor", &v); /* no live object: unchanged */
	ASSERT_STREQ(v.reason, "Selected");
	live = t_json("{\"metadata\":{\"name\":\"infermon-qwen\",\"namespace\":\"llm\"}}");
	desired_judge_bindings(live, "ServiceMonitor", &v); /* no status: unchanged */
	ASSERT_STREQ(v.status, "True");
	cJSON_Delete(live);

	live = t_json(mixed);
	desired_judge_bindings(live, "ServiceMonitor", &v);
	ASSERT_STREQ(v.status, "True");
	ASSERT_STREQ(v.reason, "Selected");
	ASSERT_CONTAINS(buf_str(&v.message), "; Prometheus m/b rejects it: no");
	cJSON_Delete(live);

	/* a rejection of generation 1 while the monitor is at 2: not yet */
	live = t_json("{\"metadata\":{\"name\":\"infermon-qwen\",\"namespace\":\"llm\","
		      "\"generation\":2},\"status\":{\"bindings\":[{\"name\":\"k8s\","
		      "\"namespace\":\"monitoring\",\"conditions\":[{\"type\":\"Accepted\","
		      "\"status\":\"False\",\"observedGeneration\":1,\"message\":\"old\"}]}]}}");
	desired_judge_bindings(live, "ServiceMonitor", &v);
	ASSERT_STREQ(v.status, "True");
	cJSON_Delete(live);

	live = t_json(rejected);
	desired_judge_bindings(live, "ServiceMonitor", &v);
	ASSERT_STREQ(v.status, "False");
	ASSERT_STREQ(v.reason, "Rejected");
	ASSERT_STREQ(buf_str(&v.message),
		     "ServiceMonitor llm/infermon-qwen is selected but not loaded: Prometheus "
		     "monitoring/k8s rejects it: endpoints[0]: tlsConfig: failed to get ca");
	/* a verdict that is not True is the selectors' word: left alone */
	v.status = "False";
	v.reason = "NotSelected";
	desired_judge_bindings(live, "ServiceMonitor", &v);
	ASSERT_STREQ(v.reason, "NotSelected");
	cJSON_Delete(live);
	buf_release(&v.message);
}

/* No CR and no pods: nothing wanted. An invalid CR: its error, no objects. */
TEST(desired_nothing_and_invalid)
{
	cJSON *bad = t_cr("bad", "qwen", NULL, NULL, "\"metrics\":{\"interval\":\"15x\"}");
	const cJSON *crs[] = {bad};
	struct fixture f;
	struct desired_workload w = {"llm", "qwen", NULL, 0}, none = {"llm", "none", NULL, 0};
	struct desired d;

	fixture_init(&f, crs, 1);
	desired_init(&d);
	desired_compute(&f.in, &none, NULL, &d);
	ASSERT_TRUE(!d.cr && !d.have_spec && cJSON_GetArraySize(d.objects) == 0);
	ASSERT_TRUE(d.selection.status == NULL);
	desired_release(&d);
	desired_init(&d);
	desired_compute(&f.in, &w, NULL, &d);
	ASSERT_TRUE(d.cr == bad && !d.have_spec && cJSON_GetArraySize(d.objects) == 0);
	ASSERT_CONTAINS(buf_str(&d.error), "spec.metrics.interval \"15x\" in llm/bad");
	desired_release(&d);
	cJSON_Delete(bad);
}

/* ---- the spec for the built-in scraper ---- */

TEST(desired_spec_from_the_governing_cr_or_defaults)
{
	cJSON *o = t_cr("q", "qwen", NULL, NULL, "\"metrics\":{\"port\":\"9100\"}");
	const cJSON *crs[] = {o};
	struct fixture f;
	struct iwspec s;

	fixture_init(&f, crs, 1);
	desired_spec(&f.in, "llm", "qwen", BACKEND_SGLANG, &s);
	ASSERT_STREQ(s.port, "9100");
	ASSERT_STREQ(s.name, "q");
	ASSERT_EQ_INT(s.backend, BACKEND_SGLANG); /* the CR names none: the pods' */
	iwspec_release(&s);
	desired_spec(&f.in, "llm", "other", BACKEND_VLLM, &s);
	ASSERT_STREQ(s.port, "http");
	ASSERT_STREQ(s.name, "");
	ASSERT_EQ_INT(s.backend, BACKEND_VLLM);
	iwspec_release(&s);
	cJSON_Delete(o);
}

/* The flags' defaults are for pods alone; a CR's absent fields take the
 * CRD's, as the API server would have written them (render reads CRs the
 * API server has not seen). */
TEST(desired_flags_do_not_reach_a_cr)
{
	cJSON *o = t_cr("q", "qwen", NULL, NULL, NULL);
	const cJSON *crs[] = {o};
	struct fixture f;
	struct iwspec s;

	fixture_init(&f, crs, 1);
	f.defaults.interval = "1s";
	f.defaults.port = "metrics";
	f.defaults.path = "/m";
	desired_spec(&f.in, "llm", "qwen", BACKEND_VLLM, &s);
	ASSERT_STREQ(s.interval, "15s");
	ASSERT_STREQ(s.port, "http");
	ASSERT_STREQ(s.path, "/metrics");
	iwspec_release(&s);
	desired_spec(&f.in, "llm", "pods-alone", BACKEND_VLLM, &s);
	ASSERT_STREQ(s.interval, "1s");
	ASSERT_STREQ(s.timeout, "1s"); /* no timeout above the interval */
	ASSERT_STREQ(s.port, "metrics");
	ASSERT_STREQ(s.path, "/m");
	iwspec_release(&s);
	cJSON_Delete(o);
}

/* ---- shared objects ---- */

static size_t job_members(const cJSON *secret)
{
	const char *text = obj_str(path(secret, "stringData", NULL, NULL), "scrape-configs.yaml",
				   NULL);
	size_t n = 0;

	/* one "namespace;workload;backend" alternative per workload */
	for (const char *p = text; p && (p = strstr(p, "llm;")) != NULL; p++)
		n++;
	return n;
}

TEST(desired_shared_jobs_and_dashboard)
{
	/* the winner opts out of both, the loser wants both: the winner decides */
	cJSON *win = t_cr("win", "qwen", "2026-01-01T00:00:00Z", NULL,
			  "\"scrapeConfig\":{\"enabled\":false},\"dashboard\":{\"enabled\":false}");
	cJSON *lose = t_cr("lose", "qwen", "2026-02-01T00:00:00Z", NULL, NULL);
	cJSON *bad = t_cr("bad", "broken", NULL, NULL, "\"metrics\":{\"interval\":\"15x\"}");
	struct pod *p = t_pod("m-0", "m", "vllm-pd", 8000),
		   *q = t_pod("broken-0", "broken", "vllm", 1);
	const struct pod *mp[] = {p}, *bp[] = {q};
	const cJSON *crs[] = {lose, bad, win};
	struct desired_workload wls[] = {{"llm", "m", mp, 1}, {"llm", "broken", bp, 1}};
	struct fixture f;
	struct buf err;
	cJSON *secret;
	size_t njobs;

	buf_init(&err, 1024);
	fixture_init(&f, crs, 3);
	secret = desired_scrape_secret(&f.in, wls, 0, &njobs, &err);
	ASSERT_EQ_INT(njobs, 0);
	ASSERT_STREQ(obj_str(secret, "metadata", "name"), "infermon-scrape-configs");
	ASSERT_TRUE(!desired_dashboard(&f.in, wls, 0));
	cJSON_Delete(secret);

	/* pods of m alone: the defaults want a job and the dashboard; the
	 * invalid CR's workload gets none, not the defaults */
	secret = desired_scrape_secret(&f.in, wls, 2, &njobs, &err);
	ASSERT_EQ_INT(njobs, 1);
	ASSERT_EQ_INT(job_members(secret), 1);
	ASSERT_CONTAINS(
		obj_str(path(secret, "stringData", NULL, NULL), "scrape-configs.yaml", NULL),
		"llm;m;vllm-pd");
	ASSERT_TRUE(desired_dashboard(&f.in, wls, 2));
	cJSON_Delete(secret);

	/* --no-dashboard */
	f.rc.dashboard = false;
	ASSERT_TRUE(!desired_dashboard(&f.in, wls, 2));

	/* without the winner, the loser governs and wants both */
	f.rc.dashboard = true;
	f.in.ncrs = 2;
	secret = desired_scrape_secret(&f.in, wls, 0, &njobs, &err);
	ASSERT_EQ_INT(njobs, 1);
	ASSERT_CONTAINS(
		obj_str(path(secret, "stringData", NULL, NULL), "scrape-configs.yaml", NULL),
		"llm;qwen;");
	ASSERT_TRUE(desired_dashboard(&f.in, wls, 0));
	cJSON_Delete(secret);
	pod_free(p);
	pod_free(q);
	cJSON_Delete(win);
	cJSON_Delete(lose);
	cJSON_Delete(bad);
	buf_release(&err);
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}
