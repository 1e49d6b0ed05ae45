#include "iwspec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "kube.h"
#include "strparse.h"

#define MAX_DURATION_MS (24ULL * 3600 * 1000)

/* The CRD schema's defaults (crds/), which are also the flags' defaults. */
void iw_defaults_init(struct iw_defaults *d)
{
	d->port = "http";
	d->path = "/metrics";
	d->interval = "15s";
	d->timeout = "10s";
	d->drift_tolerance = 0.25;
	d->match_prometheus = false;
}

void iwspec_release(struct iwspec *s)
{
	im_free(s->namespace);
	im_free(s->name);
	im_free(s->uid);
	im_free(s->workload);
	im_free(s->port);
	im_free(s->path);
	im_free(s->interval);
	im_free(s->timeout);
	im_free(s->tls_server_name);
	im_free(s->tls_ca.name);
	im_free(s->tls_ca.key);
	im_free(s->bearer.name);
	im_free(s->bearer.key);
	for (size_t i = 0; i < s->nmonitor_labels; i++) {
		im_free(s->monitor_labels[i].key);
		im_free(s->monitor_labels[i].value);
	}
	memset(s, 0, sizeof(*s));
}

static bool port_name_ok(const char *p)
{
	size_t n = strlen(p);
	bool letter = false;

	if (n == 0 || n > 15 || p[0] == '-' || p[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] >= 'a' && p[i] <= 'z')
			letter = true;
		else if (!((p[i] >= '0' && p[i] <= '9') || p[i] == '-'))
			return false;
	}
	return letter;
}

struct ctx {
	const char *ns, *name;
	struct buf *err;
};

static im_result bad(struct ctx *c, const char *field, const char *value, const char *why)
{
	buf_printf(c->err, "%s \"%.128s\" in %s/%s: %s", field, value, c->ns, c->name, why);
	return IM_CONFIG;
}

static const cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* Optional string field: NULL when absent; IM_CONFIG when not a string. */
static im_result opt_str(struct ctx *c, const cJSON *o, const char *k, const char *field,
			 const char **out)
{
	const cJSON *v = get(o, k);

	*out = NULL;
	if (!v || cJSON_IsNull(v))
		return IM_OK;
	if (!cJSON_IsString(v)) {
		buf_printf(c->err, "%s in %s/%s: must be a string", field, c->ns, c->name);
		return IM_CONFIG;
	}
	*out = v->valuestring;
	return IM_OK;
}

static im_result opt_bool(struct ctx *c, const cJSON *o, const char *k, const char *field,
			  bool *out)
{
	const cJSON *v = get(o, k);

	if (!v || cJSON_IsNull(v))
		return IM_OK;
	if (!cJSON_IsBool(v)) {
		buf_printf(c->err, "%s in %s/%s: must be true or false", field, c->ns, c->name);
		return IM_CONFIG;
	}
	*out = cJSON_IsTrue(v);
	return IM_OK;
}

static im_result opt_num(struct ctx *c, const cJSON *o, const char *k, const char *field,
			 double min_excl, double max, double *out)
{
	const cJSON *v = get(o, k);
	char tmp[64];

	if (!v || cJSON_IsNull(v))
		return IM_OK;
	if (!cJSON_IsNumber(v)) {
		buf_printf(c->err, "%s in %s/%s: must be a number", field, c->ns, c->name);
		return IM_CONFIG;
	}
	if (!(v->valuedouble > min_excl && v->valuedouble <= max)) {
		snprintf(tmp, sizeof(tmp), "%g", v->valuedouble);
		buf_printf(c->err, "%s %s in %s/%s: must be greater than %g and at most %g", field,
			   tmp, c->ns, c->name, min_excl, max);
		return IM_CONFIG;
	}
	*out = v->valuedouble;
	return IM_OK;
}

static im_result secret_ref(struct ctx *c, const cJSON *o, const char *field,
			    struct iw_secret_ref *out)
{
	const char *name, *key;
	char f[96];
	im_result result;

	if (!o || cJSON_IsNull(o))
		return IM_OK;
	snprintf(f, sizeof(f), "%s.name", field);
	if ((result = opt_str(c, o, "name", f, &name)))
		return result;
	snprintf(f, sizeof(f), "%s.key", field);
	if ((result = opt_str(c, o, "key", f, &key)))
		return result;
	if (!name || !*name || !key || !*key) {
		buf_printf(c->err, "%s in %s/%s: needs both name and key", field, c->ns, c->name);
		return IM_CONFIG;
	}
	if (!kube_dns_subdomain_ok(name, strlen(name)))
		return bad(c, f, name, "not a valid Secret name");
	out->name = im_xstrdup(name);
	out->key = im_xstrdup(key);
	return IM_OK;
}

static im_result duration(struct ctx *c, const char *field, const char *v, uint64_t *ms)
{
	if (strparse_duration_ms(v, strlen(v), MAX_DURATION_MS, ms) || *ms == 0)
		return bad(c, field, v, "not a duration (e.g. 15s, 1m, 1m30s)");
	return IM_OK;
}

static void set_defaults(struct iwspec *s, const struct iw_defaults *d)
{
	s->port = im_xstrdup(d->port);
	s->path = im_xstrdup(d->path);
	s->interval = im_xstrdup(d->interval);
	s->timeout = im_xstrdup(d->timeout);
	strparse_duration_ms(d->interval, strlen(d->interval), MAX_DURATION_MS, &s->interval_ms);
	strparse_duration_ms(d->timeout, strlen(d->timeout), MAX_DURATION_MS, &s->timeout_ms);
	if (s->timeout_ms > s->interval_ms) { /* Prometheus refuses a timeout above the interval */
		im_free(s->timeout);
		s->timeout = im_xstrdup(s->interval);
		s->timeout_ms = s->interval_ms;
	}
	s->monitor = MONITOR_SERVICE;
	s->scrape_config = true;
	s->dashboard = true;
	s->drift_tolerance = d->drift_tolerance;
}

void iwspec_default(struct iwspec *s, const struct iw_defaults *d, const char *ns,
		    const char *workload, enum backend b)
{
	memset(s, 0, sizeof(*s));
	s->namespace = im_xstrdup(ns);
	s->name = im_xstrdup("");
	s->workload = im_xstrdup(workload);
	s->backend = b;
	set_defaults(s, d);
	s->match_prometheus = d->match_prometheus;
}

const char *slo_sli_name(enum slo_sli sli)
{
	switch (sli) {
	case SLI_TTFT:
		return "ttft";
	case SLI_TPOT:
		return "tpot";
	case SLI_E2E:
		return "e2e";
	case SLI_AVAILABILITY:
		return "availability";
	}
	return "?";
}

enum hist_kind slo_sli_hist(enum slo_sli sli)
{
	return sli == SLI_TTFT ? HIST_TTFT : sli == SLI_TPOT ? HIST_TPOT : HIST_E2E;
}

/* The burn-rate windows reach 3d with the Workbook's budget shares (10% of
 * the budget in 3d, for a ticket): a window shorter than 28d makes those
 * alerts fire while the budget lasts; one past 90d keeps a quarter's
 * samples in every budget query. */
#define SLO_WINDOW_MIN_DAYS 28
#define SLO_WINDOW_MAX_DAYS 90

/* A window of whole days or weeks: "28d", "4w", "30d". */
static im_result slo_window(struct ctx *c, const char *field, const char *v, struct iw_objective *o)
{
	uint64_t n;
	size_t len = strlen(v);

	if (len < 2 || len >= sizeof(o->window) || (v[len - 1] != 'd' && v[len - 1] != 'w') ||
	    v[0] == '0' || strparse_u64(v, len - 1, 1000, &n) != IM_OK)
		return bad(c, field, v, "must be a number of days or weeks, e.g. 28d, 30d or 4w");
	if (v[len - 1] == 'w')
		n *= 7;
	if (n < SLO_WINDOW_MIN_DAYS || n > SLO_WINDOW_MAX_DAYS)
		return bad(c, field, v,
			   "must be 28d to 90d (the burn-rate alerts' longest window is 3d)");
	/* in days, so that 4w and 28d are one window in the rules */
	snprintf(o->window, sizeof(o->window), "%ud", (unsigned)n);
	o->window_s = n * 86400;
	return IM_OK;
}

static bool same_objective(const struct iw_objective *a, const struct iw_objective *b)
{
	return a->sli == b->sli && a->threshold == b->threshold && a->target == b->target &&
	       a->window_s == b->window_s;
}

static im_result parse_objective(struct ctx *c, const cJSON *o, size_t i, struct iwspec *s)
{
	struct iw_objective *obj = &s->objectives[i];
	char f[64], num[32];
	const char *v;
	const cJSON *it;
	im_result result;

	if (!cJSON_IsObject(o)) {
		buf_printf(c->err, "spec.slo.objectives[%zu] in %s/%s: must be an object", i, c->ns,
			   c->name);
		return IM_CONFIG;
	}
	cJSON_ArrayForEach(it, o)
	{
		if (strcmp(it->string, "sli") && strcmp(it->string, "thresholdSeconds") &&
		    strcmp(it->string, "target") && strcmp(it->string, "window")) {
			snprintf(f, sizeof(f), "spec.slo.objectives[%zu]", i);
			return bad(c, f, it->string,
				   "unknown field (sli, thresholdSeconds, target, window)");
		}
	}
	snprintf(f, sizeof(f), "spec.slo.objectives[%zu].sli", i);
	if ((result = opt_str(c, o, "sli", f, &v)))
		return result;
	if (!v) {
		buf_printf(c->err, "%s in %s/%s: required (ttft, tpot, e2e or availability)", f,
			   c->ns, c->name);
		return IM_CONFIG;
	}
	if (strcmp(v, "ttft") == 0)
		obj->sli = SLI_TTFT;
	else if (strcmp(v, "tpot") == 0)
		obj->sli = SLI_TPOT;
	else if (strcmp(v, "e2e") == 0)
		obj->sli = SLI_E2E;
	else if (strcmp(v, "availability") == 0)
		obj->sli = SLI_AVAILABILITY;
	else
		return bad(c, f, v, "must be ttft, tpot, e2e or availability");

	snprintf(f, sizeof(f), "spec.slo.objectives[%zu].thresholdSeconds", i);
	if ((result = opt_num(c, o, "thresholdSeconds", f, 0, obj->sli == SLI_E2E ? 86400 : 3600,
			      &obj->threshold)))
		return result;
	if (obj->sli == SLI_AVAILABILITY && get(o, "thresholdSeconds")) {
		buf_printf(c->err,
			   "%s in %s/%s: availability has no threshold (it counts requests "
			   "that finished without error)",
			   f, c->ns, c->name);
		return IM_CONFIG;
	}
	if (obj->sli != SLI_AVAILABILITY && obj->threshold == 0) {
		buf_printf(c->err, "%s in %s/%s: required for sli %s", f, c->ns, c->name, v);
		return IM_CONFIG;
	}
	if (obj->sli != SLI_AVAILABILITY && obj->threshold < 0.001) {
		snprintf(num, sizeof(num), "%g", obj->threshold);
		return bad(c, f, num,
			   "must be at least 0.001 (the engines' smallest histogram bucket)");
	}

	snprintf(f, sizeof(f), "spec.slo.objectives[%zu].target", i);
	if ((result = opt_num(c, o, "target", f, 0, 100, &obj->target)))
		return result;
	if (obj->target == 0) {
		buf_printf(c->err, "%s in %s/%s: required (a percentage, e.g. 99.0)", f, c->ns,
			   c->name);
		return IM_CONFIG;
	}
	if (obj->target >= 100 || obj->target < 50) {
		snprintf(num, sizeof(num), "%g", obj->target);
		return bad(c, f, num,
			   "must be at least 50 and below 100 (a percentage; 100 leaves no "
			   "error budget)");
	}

	snprintf(f, sizeof(f), "spec.slo.objectives[%zu].window", i);
	if ((result = opt_str(c, o, "window", f, &v)))
		return result;
	if ((result = slo_window(c, f, v ? v : "28d", obj)))
		return result;
	for (size_t j = 0; j < i; j++) {
		if (same_objective(&s->objectives[j], obj)) {
			buf_printf(c->err,
				   "spec.slo.objectives[%zu] in %s/%s: repeats objectives[%zu]", i,
				   c->ns, c->name, j);
			return IM_CONFIG;
		}
	}
	return IM_OK;
}

static im_result parse_slo(struct ctx *c, const cJSON *slo, struct iwspec *s)
{
	const cJSON *objs = get(slo, "objectives"), *o;
	im_result result;

	if ((result = opt_num(c, slo, "ttftP95Seconds", "spec.slo.ttftP95Seconds", 0, 3600,
			      &s->slo_ttft_p95)) ||
	    (result = opt_num(c, slo, "tpotP95Seconds", "spec.slo.tpotP95Seconds", 0, 3600,
			      &s->slo_tpot_p95)) ||
	    (result = opt_num(c, slo, "e2eP95Seconds", "spec.slo.e2eP95Seconds", 0, 86400,
			      &s->slo_e2e_p95)))
		return result;
	if (!objs || cJSON_IsNull(objs))
		return IM_OK;
	if (!cJSON_IsArray(objs)) {
		buf_printf(c->err, "spec.slo.objectives in %s/%s: must be a list", c->ns, c->name);
		return IM_CONFIG;
	}
	if (cJSON_GetArraySize(objs) > IW_MAX_OBJECTIVES) {
		buf_printf(c->err, "spec.slo.objectives in %s/%s: %d objectives, at most %d", c->ns,
			   c->name, cJSON_GetArraySize(objs), IW_MAX_OBJECTIVES);
		return IM_CONFIG;
	}
	cJSON_ArrayForEach(o, objs)
	{
		if ((result = parse_objective(c, o, s->nobjectives, s)))
			return result;
		s->nobjectives++;
	}
	return IM_OK;
}

static int cmp_kv(const void *a, const void *b)
{
	return strcmp(((const struct kv *)a)->key, ((const struct kv *)b)->key);
}

static im_result parse_metrics(struct ctx *c, const cJSON *m, struct iwspec *s)
{
	const cJSON *port = get(m, "port");
	const char *v;
	im_result result;

	if (port && cJSON_IsNumber(port)) {
		char num[16];
		if (port->valuedouble != floor(port->valuedouble) || port->valuedouble < 1 ||
		    port->valuedouble > 65535) {
			snprintf(num, sizeof(num), "%g", port->valuedouble);
			return bad(c, "spec.metrics.port", num,
				   "must be 1 to 65535 or a port name");
		}
		snprintf(num, sizeof(num), "%d", (int)port->valuedouble);
		im_free(s->port);
		s->port = im_xstrdup(num);
	} else if (port && !cJSON_IsNull(port)) {
		uint64_t n;
		if (!cJSON_IsString(port))
			return bad(c, "spec.metrics.port", "?", "must be a number or a port name");
		if (strparse_u64(port->valuestring, strlen(port->valuestring), 65535, &n) ==
		    IM_OK) {
			if (n == 0)
				return bad(c, "spec.metrics.port", port->valuestring,
					   "must be 1 to 65535");
		} else if (!port_name_ok(port->valuestring)) {
			return bad(
				c, "spec.metrics.port", port->valuestring,
				"not a port name (lower case letters, digits and '-', at most 15)");
		}
		im_free(s->port);
		s->port = im_xstrdup(port->valuestring);
	}
	if ((result = opt_str(c, m, "path", "spec.metrics.path", &v)))
		return result;
	if (v) {
		if (v[0] != '/' || strlen(v) > 1024 || strpbrk(v, " \t\n?#"))
			return bad(c, "spec.metrics.path", v, "must be a path starting with /");
		im_free(s->path);
		s->path = im_xstrdup(v);
	}
	if ((result = opt_str(c, m, "interval", "spec.metrics.interval", &v)))
		return result;
	if (v) {
		if ((result = duration(c, "spec.metrics.interval", v, &s->interval_ms)))
			return result;
		im_free(s->interval);
		s->interval = im_xstrdup(v);
	}
	if ((result = opt_str(c, m, "scrapeTimeout", "spec.metrics.scrapeTimeout", &v)))
		return result;
	if (v) {
		if ((result = duration(c, "spec.metrics.scrapeTimeout", v, &s->timeout_ms)))
			return result;
		im_free(s->timeout);
		s->timeout = im_xstrdup(v);
	}
	if (!v && s->timeout_ms > s->interval_ms) {
		/* no timeout given: the default, but never beyond the interval */
		im_free(s->timeout);
		s->timeout = im_xstrdup(s->interval);
		s->timeout_ms = s->interval_ms;
	}
	if (s->timeout_ms > s->interval_ms)
		return bad(c, "spec.metrics.scrapeTimeout", s->timeout,
			   "must not be longer than spec.metrics.interval");
	if ((result = opt_str(c, m, "scheme", "spec.metrics.scheme", &v)))
		return result;
	if (v && strcmp(v, "http") != 0 && strcmp(v, "https") != 0)
		return bad(c, "spec.metrics.scheme", v, "must be http or https");
	s->https = v && strcmp(v, "https") == 0;
	{
		const cJSON *tls = get(m, "tls");
		if (tls && !cJSON_IsNull(tls)) {
			if (!s->https)
				return bad(c, "spec.metrics.tls", "set",
					   "needs spec.metrics.scheme https");
			if ((result = opt_str(c, tls, "serverName", "spec.metrics.tls.serverName",
					      &v)))
				return result;
			s->tls_server_name = v ? im_xstrdup(v) : NULL;
			if ((result = opt_bool(c, tls, "insecureSkipVerify",
					       "spec.metrics.tls.insecureSkipVerify",
					       &s->tls_insecure)))
				return result;
			if ((result = secret_ref(c, get(get(tls, "ca"), "secretKeyRef"),
						 "spec.metrics.tls.ca.secretKeyRef", &s->tls_ca)))
				return result;
		}
	}
	return secret_ref(c, get(m, "bearerTokenSecret"), "spec.metrics.bearerTokenSecret",
			  &s->bearer);
}

static im_result parse_monitor(struct ctx *c, const cJSON *m, struct iwspec *s)
{
	const cJSON *labels = get(m, "labels"), *it;
	const char *v;
	im_result result;

	if ((result = opt_str(c, m, "kind", "spec.monitor.kind", &v)))
		return result;
	if (v && strcmp(v, "ServiceMonitor") == 0)
		s->monitor = MONITOR_SERVICE;
	else if (v && strcmp(v, "PodMonitor") == 0)
		s->monitor = MONITOR_POD;
	else if (v)
		return bad(c, "spec.monitor.kind", v, "must be ServiceMonitor or PodMonitor");
	if (labels && !cJSON_IsNull(labels)) {
		if (!cJSON_IsObject(labels)) {
			buf_printf(c->err, "spec.monitor.labels in %s/%s: must be a map", c->ns,
				   c->name);
			return IM_CONFIG;
		}
		cJSON_ArrayForEach(it, labels)
		{
			if (s->nmonitor_labels >= IW_MAX_LABELS) {
				buf_printf(c->err,
					   "spec.monitor.labels in %s/%s: more than %d labels",
					   c->ns, c->name, IW_MAX_LABELS);
				return IM_CONFIG;
			}
			if (!kube_label_key_ok(it->string))
				return bad(c, "spec.monitor.labels key", it->string,
					   "not a valid label key");
			if (!cJSON_IsString(it) || !kube_label_value_ok(it->valuestring))
				return bad(c, "spec.monitor.labels value",
					   cJSON_IsString(it) ? it->valuestring : "?",
					   "not a valid label value");
			s->monitor_labels[s->nmonitor_labels].key = im_xstrdup(it->string);
			s->monitor_labels[s->nmonitor_labels].value = im_xstrdup(it->valuestring);
			s->nmonitor_labels++;
		}
		qsort(s->monitor_labels, s->nmonitor_labels, sizeof(struct kv), cmp_kv);
	}
	return opt_bool(c, m, "matchPrometheus", "spec.monitor.matchPrometheus",
			&s->match_prometheus);
}

im_result iwspec_parse(const cJSON *obj, const struct iw_defaults *d, struct iwspec *s,
		       struct buf *err)
{
	const cJSON *md = get(obj, "metadata"), *spec = get(obj, "spec"), *sub;
	const char *ns = cJSON_GetStringValue(get(md, "namespace"));
	const char *name = cJSON_GetStringValue(get(md, "name"));
	const char *v;
	struct ctx c;
	struct iw_defaults crd;
	im_result result;
	double num;

	memset(s, 0, sizeof(*s));
	if (!name || !*name) {
		buf_printf(err, "InferenceWorkload without metadata.name");
		return IM_PARSE;
	}
	c = (struct ctx){.ns = ns && *ns ? ns : "default", .name = name, .err = err};
	s->namespace = im_xstrdup(c.ns);
	s->name = im_xstrdup(name);
	v = cJSON_GetStringValue(get(md, "uid"));
	s->uid = v ? im_xstrdup(v) : NULL;
	if (cJSON_IsNumber(get(md, "generation")))
		s->generation = (int64_t)get(md, "generation")->valuedouble;
	/* A CR's absent fields take the CRD schema's defaults, which the API
	 * server writes into every CR the controller reads, so that a CR read
	 * from a file (render) comes out as the same CR read from the cluster.
	 * d (the flags) is for workloads without a CR, except the timeout: the
	 * schema has no default for it. */
	iw_defaults_init(&crd);
	crd.timeout = d->timeout;
	set_defaults(s, &crd);
	if (spec && !cJSON_IsObject(spec)) {
		buf_printf(err, "spec in %s/%s: must be an object", c.ns, name);
		result = IM_CONFIG;
		goto fail;
	}
	if ((result = opt_str(&c, spec, "workloadName", "spec.workloadName", &v)))
		goto fail;
	if (v && (!*v || !kube_label_value_ok(v))) {
		result = bad(&c, "spec.workloadName", v, "not a valid label value");
		goto fail;
	}
	s->workload = im_xstrdup(v ? v : name);
	if (!v && !kube_label_value_ok(name)) {
		result = bad(&c, "metadata.name", name,
			     "longer than 63 characters: set spec.workloadName");
		goto fail;
	}
	if ((result = opt_str(&c, spec, "backend", "spec.backend", &v)))
		goto fail;
	if (v) {
		s->backend = backend_parse(v);
		if (s->backend == BACKEND_UNKNOWN) {
			result = bad(&c, "spec.backend", v,
				     "must be vllm, sglang, vllm-pd or sglang-pd");
			goto fail;
		}
	}
	if ((sub = get(spec, "metrics")) && (result = parse_metrics(&c, sub, s)))
		goto fail;
	if ((sub = get(spec, "monitor")) && (result = parse_monitor(&c, sub, s)))
		goto fail;
	sub = get(spec, "scrapeConfig");
	if ((result = opt_bool(&c, sub, "enabled", "spec.scrapeConfig.enabled",
			       &s->scrape_config)) ||
	    (result = opt_bool(&c, sub, "scrapeConfigResource",
			       "spec.scrapeConfig.scrapeConfigResource",
			       &s->scrape_config_resource)) ||
	    (result = opt_bool(&c, get(spec, "dashboard"), "enabled", "spec.dashboard.enabled",
			       &s->dashboard)) ||
	    (result = opt_bool(&c, get(spec, "alerts"), "enabled", "spec.alerts.enabled",
			       &s->alerts)))
		goto fail;
	sub = get(spec, "limits");
	num = 0;
	if ((result = opt_num(&c, sub, "maxNumSeqs", "spec.limits.maxNumSeqs", 0, 1 << 24, &num)))
		goto fail;
	if (num != floor(num)) {
		result = bad(&c, "spec.limits.maxNumSeqs", "fraction", "must be a whole number");
		goto fail;
	}
	s->expected_max_num_seqs = (uint64_t)num;
	if ((result = opt_num(&c, sub, "driftTolerance", "spec.limits.driftTolerance", 0, 10,
			      &s->drift_tolerance)))
		goto fail;
	if ((result = parse_slo(&c, get(spec, "slo"), s)))
		goto fail;
	return IM_OK;
fail:
	iwspec_release(s);
	return result;
}
