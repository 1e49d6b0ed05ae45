#include "crstatus.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "objcache.h"

/* The conditions being built. */
struct conds {
	cJSON *arr;
	const cJSON *live; /* the live status */
	int64_t gen;
	char now[32];
};

/* status is "True", "False" or "Unknown" */
static void add_condition3(struct conds *cs, const char *type, const char *st, const char *reason,
			   const char *message)
{
	cJSON *c = cJSON_CreateObject(), *it;
	const char *ltt = NULL;

	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(cs->live, "conditions"))
	{
		if (obj_str(it, "type", NULL) && strcmp(obj_str(it, "type", NULL), type) == 0 &&
		    obj_str(it, "status", NULL) && strcmp(obj_str(it, "status", NULL), st) == 0)
			ltt = obj_str(it, "lastTransitionTime", NULL);
	}
	cJSON_AddStringToObject(c, "type", type);
	cJSON_AddStringToObject(c, "status", st);
	cJSON_AddNumberToObject(c, "observedGeneration", (double)cs->gen);
	cJSON_AddStringToObject(c, "lastTransitionTime", ltt ? ltt : cs->now);
	cJSON_AddStringToObject(c, "reason", reason);
	cJSON_AddStringToObject(c, "message", message);
	cJSON_AddItemToArray(cs->arr, c);
}

static void add_condition(struct conds *cs, const char *type, bool status, const char *reason,
			  const char *message)
{
	add_condition3(cs, type, status ? "True" : "False", reason, message);
}

const char *crstatus_condition(const cJSON *status, const char *type)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(status, "conditions"))
	{
		const char *t = obj_str(it, "type", NULL);
		if (t && strcmp(t, type) == 0)
			return obj_str(it, "status", NULL);
	}
	return NULL;
}

const cJSON *crstatus_turned(const cJSON *was_status, const cJSON *status, const char *type,
			     bool *warning)
{
	const char *was = crstatus_condition(was_status, type),
		   *now = crstatus_condition(status, type);
	const cJSON *it;

	if (!now || (was && strcmp(was, now) == 0))
		return NULL;
	if (strcmp(now, "False") == 0)
		*warning = true;
	else if (strcmp(now, "True") == 0 && was && strcmp(was, "False") == 0)
		*warning = false;
	else
		return NULL;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(status, "conditions"))
	{
		const char *t = obj_str(it, "type", NULL);
		if (t && strcmp(t, type) == 0)
			return it;
	}
	return NULL;
}

bool crstatus_ready_false(const cJSON *status, const char *reason, const char *message)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(status, "conditions"))
	{
		const char *t = obj_str(it, "type", NULL), *st = obj_str(it, "status", NULL),
			   *r = obj_str(it, "reason", NULL), *m = obj_str(it, "message", NULL);
		if (t && strcmp(t, "Ready") == 0 && st && strcmp(st, "False") == 0 && r &&
		    strcmp(r, reason) == 0 && m && strcmp(m, message) == 0)
			return true;
	}
	return false;
}

/* models stays sorted and without duplicates */
static void add_model(cJSON *models, const char *m)
{
	cJSON *it;
	int i = 0;

	if (!*m || cJSON_GetArraySize(models) >= 64)
		return;
	cJSON_ArrayForEach(it, models)
	{
		int c = strcmp(it->valuestring, m);
		if (c == 0)
			return;
		if (c > 0)
			break;
		i++;
	}
	cJSON_InsertItemInArray(models, i, cJSON_CreateString(m));
}

/* Rounded so that noise in a gauge does not rewrite the status. */
static double r2(double v)
{
	return round(v * 100) / 100;
}

static void add_pod_status(cJSON *arr, const struct pod *p, const struct pod_runtime *rt)
{
	cJSON *o;

	if (cJSON_GetArraySize(arr) >= 1024)
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", p->name);
	cJSON_AddBoolToObject(o, "ready", p->ready && !p->deleting && rt->known && rt->up);
	if (*pod_role(p))
		cJSON_AddStringToObject(o, "role", pod_role(p));
	if (rt->known && rt->up) {
		cJSON_AddNumberToObject(o, "running", round(rt->running));
		cJSON_AddNumberToObject(o, "waiting", round(rt->waiting));
		cJSON_AddNumberToObject(o, "kvUsage", r2(rt->kv_usage));
	}
	if (rt->known && rt->limits.max_num_seqs.source != LIMIT_NONE) {
		cJSON_AddNumberToObject(o, "maxNumSeqs", rt->limits.max_num_seqs.value);
		cJSON_AddStringToObject(o, "maxNumSeqsSource",
					limit_source_name(rt->limits.max_num_seqs.source));
		if (rt->up && rt->limits.max_num_seqs.value > 0)
			cJSON_AddNumberToObject(o, "saturation",
						r2(rt->running / rt->limits.max_num_seqs.value));
	}
	if (rt->known && rt->limits.kv_concurrency.source != LIMIT_NONE)
		cJSON_AddNumberToObject(o, "kvConcurrency", r2(rt->limits.kv_concurrency.value));
	cJSON_AddItemToArray(arr, o);
}

/* What the pods' histograms say of the SLO thresholds: per objective, the
 * pods that show its histogram, and the first that lacks its bound. */
struct slo_bounds {
	size_t checked[IW_MAX_OBJECTIVES];
	bool missed[IW_MAX_OBJECTIVES];
	char pod[IW_MAX_OBJECTIVES][64];
	double below[IW_MAX_OBJECTIVES], above[IW_MAX_OBJECTIVES];
};

/* Prefill pods are left out of the latency SLIs, as the rules leave them. */
static void slo_bounds_add(struct slo_bounds *sb, const struct iwspec *s, const struct pod *p,
			   const struct pod_runtime *rt)
{
	if (!s || !rt->bounds || strcmp(pod_role(p), "prefill") == 0)
		return;
	for (size_t i = 0; i < s->nobjectives; i++) {
		const struct iw_objective *o = &s->objectives[i];
		enum hist_kind h = slo_sli_hist(o->sli);
		double below, above;
		if (o->sli == SLI_AVAILABILITY || !rt->bounds->n[h])
			continue;
		sb->checked[i]++;
		if (!sb->missed[i] &&
		    !histbounds_has(rt->bounds, h, o->threshold, &below, &above)) {
			sb->missed[i] = true;
			snprintf(sb->pod[i], sizeof(sb->pod[i]), "%s", p->name);
			sb->below[i] = below, sb->above[i] = above;
		}
	}
}

/* SLOMeasurable: whether every latency threshold is a bucket bound of the
 * histograms the workload's engines export (a histogram counts the
 * requests within a threshold only at a bound); none without latency
 * objectives. */
static void slo_condition(struct conds *cs, const struct iwspec *s, const struct slo_bounds *sb)
{
	size_t latency = 0, missed = 0, first = 0, unseen = IW_MAX_OBJECTIVES;
	char m[480], near[80];

	for (size_t i = 0; s && i < s->nobjectives; i++) {
		if (s->objectives[i].sli == SLI_AVAILABILITY)
			continue;
		latency++;
		if (sb->missed[i] && !missed++)
			first = i;
		if (!sb->checked[i] && unseen == IW_MAX_OBJECTIVES)
			unseen = i;
	}
	if (!latency)
		return;
	if (missed) {
		const struct iw_objective *o = &s->objectives[first];
		histbounds_nearest(near, sizeof(near), sb->below[first], sb->above[first]);
		snprintf(m, sizeof(m),
			 "objectives[%zu] (%s %gs): not a bucket bound of %s on pod %s (%s): the "
			 "histogram cannot count requests within it, so the SLI has no data; set "
			 "thresholdSeconds to a bound%s",
			 first, slo_sli_name(o->sli), o->threshold,
			 hist_kind_name(slo_sli_hist(o->sli)), sb->pod[first], near,
			 missed > 1 ? " (other objectives too)" : "");
		add_condition(cs, "SLOMeasurable", false, "ThresholdNotABucketBound", m);
	} else if (unseen < IW_MAX_OBJECTIVES) {
		snprintf(m, sizeof(m), "objectives[%zu] (%s): no scraped pod shows %s yet", unseen,
			 slo_sli_name(s->objectives[unseen].sli),
			 hist_kind_name(slo_sli_hist(s->objectives[unseen].sli)));
		add_condition3(cs, "SLOMeasurable", "Unknown", "NoHistogram", m);
	} else {
		add_condition(cs, "SLOMeasurable", true, "BucketBounds",
			      "every latency threshold is a bucket bound of the scraped engines' "
			      "histograms");
	}
}

cJSON *crstatus_build(const struct crstatus_in *in)
{
	const cJSON *cr = in->cr;
	const struct iwspec *s = in->spec;
	const struct workload *w = in->w;
	struct conds cs = {0};
	struct tm tm;
	uint64_t want = s ? s->expected_max_num_seqs : 0;
	size_t compared = 0;
	char mismatch[400] = "";
	cJSON *st = cJSON_CreateObject(), *models;
	size_t n = 0, ready = 0;
	double limit = 0, kv = 0;
	const char *source = NULL,
		   *backend = s && s->backend != BACKEND_UNKNOWN ? backend_name(s->backend) : "";
	bool active[CHECK_COUNT] = {0};
	double running = 0;
	cJSON *pod_status = cJSON_CreateArray();
	char msg[CHECK_COUNT][400] = {{0}}, buf[64];
	struct slo_bounds *sb = im_xcalloc(1, sizeof(*sb));
	const cJSON *gen = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(cr, "metadata"), "generation");

	cs.live = cJSON_GetObjectItemCaseSensitive(cr, "status");
	cs.gen = cJSON_IsNumber(gen) ? (int64_t)gen->valuedouble : 0;
	gmtime_r(&in->now, &tm);
	strftime(cs.now, sizeof(cs.now), "%Y-%m-%dT%H:%M:%SZ", &tm);
	models = cJSON_CreateArray();
	if (w) {
		const char **keys = hmap_sorted_keys(&w->pods);
		for (size_t i = 0; keys[i]; i++) {
			const struct pod *p = hmap_get(&w->pods, keys[i]);
			struct pod_runtime rt = {0};
			n++;
			ready += p->ready && !p->deleting;
			if (!*backend && pod_backend(p))
				backend = pod_backend(p);
			if (in->runtime)
				in->runtime(in->runtime_ctx, p->namespace, p->name, &rt);
			add_pod_status(pod_status, p, &rt);
			if (!rt.known)
				continue;
			slo_bounds_add(sb, s, p, &rt);
			for (int m = 0; m < rt.nmodels; m++)
				add_model(models, rt.models[m]);
			if (rt.up)
				running += rt.running;
			if (rt.limits.max_num_seqs.source != LIMIT_NONE) {
				limit += rt.limits.max_num_seqs.value;
				if (!source)
					source = limit_source_name(rt.limits.max_num_seqs.source);
			}
			if (rt.limits.kv_concurrency.source != LIMIT_NONE)
				kv += rt.limits.kv_concurrency.value;
			/* an assumed default is no evidence of what the engine runs */
			if (want && rt.limits.max_num_seqs.source != LIMIT_NONE &&
			    rt.limits.max_num_seqs.source != LIMIT_DEFAULT) {
				double per = rt.limits.max_num_seqs.value /
					     (rt.engines >= 1 ? rt.engines : 1);
				compared++;
				if (fabs(per - (double)want) >= 0.5 && !*mismatch)
					snprintf(
						mismatch, sizeof(mismatch),
						"pod %s runs max-num-seqs %.0f%s (from %s); spec.limits.maxNumSeqs "
						"is %llu",
						p->name, per, rt.engines > 1 ? " per engine" : "",
						limit_source_name(rt.limits.max_num_seqs.source),
						(unsigned long long)want);
			}
			for (int k = 0; k < CHECK_COUNT; k++)
				if (rt.active[k] && !active[k]) {
					active[k] = true;
					/* a long pod name shortens the message: truncation is fine */
					if (snprintf(msg[k], sizeof(msg[k]), "pod %s: %s", p->name,
						     rt.message[k]) < 0)
						msg[k][0] = '\0';
				}
		}
		im_free(keys);
	}
	cJSON_AddNumberToObject(st, "observedGeneration", (double)cs.gen);
	cJSON_AddStringToObject(st, "backend", backend);
	cJSON_AddNumberToObject(st, "pods", (double)n);
	cJSON_AddNumberToObject(st, "readyPods", (double)ready);
	snprintf(buf, sizeof(buf), "%zu/%zu", ready, n);
	cJSON_AddStringToObject(st, "podsReady", buf);
	cJSON_AddItemToObject(st, "models", models);
	cJSON_AddNumberToObject(st, "running", round(running));
	cJSON_AddNumberToObject(st, "limit", limit);
	if (limit > 0) {
		snprintf(buf, sizeof(buf), "%.0f/%.0f", running, limit);
		cJSON_AddStringToObject(st, "runningLimit", buf);
		snprintf(buf, sizeof(buf), "%.0f%%", running / limit * 100);
		cJSON_AddStringToObject(st, "saturation", buf);
	} else {
		snprintf(buf, sizeof(buf), "%.0f/unknown", running);
		cJSON_AddStringToObject(st, "runningLimit", buf);
		cJSON_AddStringToObject(st, "saturation", "unknown");
	}
	cJSON_AddItemToObject(st, "podStatus", pod_status);
	cJSON_AddStringToObject(st, "limitSource", source ? source : "unknown");
	if (limit > 0 && kv > 0)
		snprintf(buf, sizeof(buf), "%+.0f%%", (limit - kv) / kv * 100);
	else
		snprintf(buf, sizeof(buf), "unknown");
	cJSON_AddStringToObject(st, "drift", buf);
	cJSON_AddItemToObject(st, "generated", cJSON_Duplicate(in->generated, true));
	cs.arr = cJSON_AddArrayToObject(st, "conditions");
	if (in->not_ready)
		add_condition(&cs, "Ready", false, in->not_ready, in->message);
	else
		add_condition(&cs, "Ready", true, "Reconciled", "generated objects are applied");
	for (int k = 0; k < CHECK_COUNT; k++)
		add_condition(&cs, check_name((enum check_kind)k), active[k],
			      active[k] ? check_name((enum check_kind)k) : "NotObserved",
			      active[k] ? msg[k] : "not observed on any pod");
	if (in->sel && in->sel->status)
		add_condition3(&cs, "MonitorSelected", in->sel->status, in->sel->reason,
			       buf_str(&in->sel->message));
	if (want) {
		char m[160];
		cJSON_AddNumberToObject(st, "expectedLimit", (double)want);
		if (*mismatch) {
			add_condition(&cs, "LimitMatchesSpec", false, "LimitMismatch", mismatch);
		} else if (compared) {
			snprintf(m, sizeof(m), "every scraped pod runs max-num-seqs %llu",
				 (unsigned long long)want);
			add_condition(&cs, "LimitMatchesSpec", true, "MatchesSpec", m);
		} else {
			add_condition3(&cs, "LimitMatchesSpec", "Unknown", "NotScraped",
				       "no pod's live max-num-seqs is known yet");
		}
	}
	slo_condition(&cs, s, sb);
	im_free(sb);
	return st;
}
