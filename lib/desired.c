#include "desired.h"

#include <string.h>

#include "alloc.h"
#include "hmap.h"
#include "kube.h"
#include "objcache.h"
#include "promselect.h"

const char *desired_cr_workload(const cJSON *cr)
{
	const char *w = obj_str(cr, "spec", "workloadName");
	return w && *w ? w : obj_str(cr, "metadata", "name");
}

const char *desired_cr_namespace(const cJSON *cr)
{
	const char *ns = obj_str(cr, "metadata", "namespace");
	return ns && *ns ? ns : "default";
}

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

int desired_cr_compare(const cJSON *a, const cJSON *b)
{
	/* RFC 3339 in UTC with a fixed layout, as the API server writes it:
	 * string order is time order; a CR without one (a file) sorts first */
	int c = strcmp(str_or_empty(obj_str(a, "metadata", "creationTimestamp")),
		       str_or_empty(obj_str(b, "metadata", "creationTimestamp")));
	if (c)
		return c;
	return strcmp(str_or_empty(obj_str(a, "metadata", "name")),
		      str_or_empty(obj_str(b, "metadata", "name")));
}

static bool selects(const cJSON *cr, const char *ns, const char *workload)
{
	const char *w = desired_cr_workload(cr);

	return w && obj_str(cr, "metadata", "name") && strcmp(desired_cr_namespace(cr), ns) == 0 &&
	       strcmp(w, workload) == 0 && !obj_str(cr, "metadata", "deletionTimestamp");
}

static int cmp_cr(const void *a, const void *b)
{
	return desired_cr_compare(*(const cJSON *const *)a, *(const cJSON *const *)b);
}

const cJSON *desired_pick(const cJSON *const *crs, size_t n, const char *ns, const char *workload,
			  const cJSON ***losers, size_t *nlosers)
{
	const cJSON *best = NULL, **all = NULL;
	size_t count = 0;

	if (losers) {
		*losers = NULL;
		*nlosers = 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (!selects(crs[i], ns, workload))
			continue;
		count++;
		if (!best || desired_cr_compare(crs[i], best) < 0)
			best = crs[i];
	}
	if (!losers || count < 2)
		return best;
	all = im_xcalloc(count, sizeof(*all));
	count = 0;
	for (size_t i = 0; i < n; i++)
		if (crs[i] != best && selects(crs[i], ns, workload))
			all[count++] = crs[i];
	qsort(all, count, sizeof(*all), cmp_cr);
	*losers = all;
	*nlosers = count;
	return best;
}

void desired_init(struct desired *d)
{
	memset(d, 0, sizeof(*d));
	buf_init(&d->error, 1024);
	buf_init(&d->selection.message, 2048);
	d->objects = cJSON_CreateArray();
}

void desired_release(struct desired *d)
{
	im_free(d->losers);
	if (d->have_spec)
		iwspec_release(&d->spec);
	buf_release(&d->error);
	buf_release(&d->selection.message);
	cJSON_Delete(d->objects);
	memset(d, 0, sizeof(*d));
}

static int cmp_pod(const void *a, const void *b)
{
	const struct pod *pa = *(const struct pod *const *)a, *pb = *(const struct pod *const *)b;

	return strcmp(pa->name, pb->name);
}

/* The backend label of the pod first by name. */
static enum backend pods_backend(const struct desired_workload *w)
{
	const struct pod *first = NULL;

	for (size_t i = 0; i < w->npods; i++)
		if (!first || strcmp(w->pods[i]->name, first->name) < 0)
			first = w->pods[i];
	return first ? backend_parse(pod_backend(first)) : BACKEND_UNKNOWN;
}

static void add_owner(cJSON *objs, const cJSON *cr)
{
	const char *uid = obj_str(cr, "metadata", "uid");
	cJSON *o;

	if (!uid)
		return;
	cJSON_ArrayForEach(o, objs)
	{
		cJSON *md = cJSON_GetObjectItemCaseSensitive(o, "metadata");
		cJSON *refs = cJSON_AddArrayToObject(md, "ownerReferences");
		cJSON *ref = cJSON_CreateObject();
		cJSON_AddStringToObject(ref, "apiVersion", KUBE_GV_INFERMON);
		cJSON_AddStringToObject(ref, "kind", "InferenceWorkload");
		cJSON_AddStringToObject(ref, "name", obj_str(cr, "metadata", "name"));
		cJSON_AddStringToObject(ref, "uid", uid);
		cJSON_AddBoolToObject(ref, "controller", true);
		cJSON_AddBoolToObject(ref, "blockOwnerDeletion", true);
		cJSON_AddItemToArray(refs, ref);
	}
}

/* Appends "<namespace>/<name>" of prom to a message (not a key: b grows). */
static void prom_name(const cJSON *prom, struct buf *b)
{
	buf_printf(b, "%s/%s", str_or_empty(obj_str(prom, "metadata", "namespace")),
		   str_or_empty(obj_str(prom, "metadata", "name")));
}

/* matchPrometheus stamping, and whether any Prometheus selects the monitor. */
static void judge_selection(const struct desired_in *in, const struct iwspec *s, const cJSON *nsobj,
			    cJSON *objs, struct desired_verdict *out)
{
	cJSON *mon, *labels, *l;
	enum promsel_kind kind;
	size_t nselected = 0;
	struct buf selected, wants;
	bool first = true;

	mon = promsel_find_monitor(objs, &kind);
	if (!mon)
		return;
	if (!in->proms_known) {
		out->status = "Unknown";
		out->reason = "PrometheusUnknown";
		buf_adds(&out->message,
			 "the Prometheus objects could not be listed (is the prometheus-operator "
			 "CRD installed, and may infermon list prometheuses?)");
		return;
	}
	buf_init(&selected, 1024);
	buf_init(&wants, 2048);
	if (s->match_prometheus)
		promsel_stamp_objects(objs, in->proms, in->nproms, s->namespace, nsobj);
	labels = promsel_monitor_labels(mon);
	for (size_t i = 0; i < in->nproms; i++) {
		if (promsel_selects(in->proms[i], kind, s->namespace, nsobj, labels)) {
			if (nselected++)
				buf_adds(&selected, ", ");
			prom_name(in->proms[i], &selected);
		} else {
			buf_adds(&wants, "; ");
			promsel_describe(in->proms[i], kind, &wants);
		}
	}
	if (nselected) {
		out->status = "True";
		out->reason = "Selected";
		buf_printf(&out->message, "%s %s/%s is selected by Prometheus %s",
			   obj_str(mon, "kind", NULL), s->namespace,
			   obj_str(mon, "metadata", "name"), buf_str(&selected));
		goto out;
	}
	out->status = "False";
	if (!in->nproms) {
		out->reason = "NoPrometheus";
		buf_printf(
			&out->message,
			"no Prometheus object exists, so no prometheus-operator reads %s %s/%s; a "
			"Prometheus without the operator can use the scrape-config Secret %s/%s",
			obj_str(mon, "kind", NULL), s->namespace, obj_str(mon, "metadata", "name"),
			in->rc->secret_namespace, in->rc->secret_name);
		goto out;
	}
	out->reason = "NotSelected";
	buf_printf(&out->message, "no Prometheus selects %s %s/%s with labels {",
		   obj_str(mon, "kind", NULL), s->namespace, obj_str(mon, "metadata", "name"));
	cJSON_ArrayForEach(l, labels)
	{
		buf_printf(&out->message, "%s%s=%s", first ? "" : ",", l->string,
			   cJSON_IsString(l) ? l->valuestring : "");
		first = false;
	}
	buf_printf(&out->message, "}%s; add the labels in spec.monitor.labels%s", buf_str(&wants),
		   s->match_prometheus ? "" : " or set spec.monitor.matchPrometheus: true");
out:
	buf_release(&selected);
	buf_release(&wants);
}

static const char *str_or(const char *s, const char *dflt)
{
	return s ? s : dflt;
}

void desired_judge_bindings(const cJSON *live, const char *kind, struct desired_verdict *v)
{
	const cJSON *b, *c, *status = cJSON_GetObjectItemCaseSensitive(live, "status");
	const cJSON *gen = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(live, "metadata"), "generation");
	size_t accepted = 0, rejected = 0;
	struct buf why;

	if (!v->status || strcmp(v->status, "True") != 0 || !status)
		return;
	buf_init(&why, 4096);
	cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(status, "bindings"))
	{
		cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(b, "conditions"))
		{
			const char *type = obj_str(c, "type", NULL),
				   *st = obj_str(c, "status", NULL);
			const cJSON *og = cJSON_GetObjectItemCaseSensitive(c, "observedGeneration");
			if (!type || !st || strcmp(type, "Accepted") != 0)
				continue;
			/* a verdict on an older spec of the monitor says nothing yet */
			if (cJSON_IsNumber(gen) && cJSON_IsNumber(og) &&
			    og->valuedouble < gen->valuedouble)
				continue;
			if (strcmp(st, "True") == 0) {
				accepted++;
			} else if (strcmp(st, "False") == 0) {
				buf_printf(&why, "%sPrometheus %s/%s rejects it: %s",
					   rejected ? "; " : "",
					   str_or(obj_str(b, "namespace", NULL), ""),
					   str_or(obj_str(b, "name", NULL), ""),
					   str_or(obj_str(c, "message", NULL), ""));
				rejected++;
			}
		}
	}
	if (!rejected)
		goto out;
	if (!accepted) {
		v->status = "False";
		v->reason = "Rejected";
		buf_reset(&v->message);
		buf_printf(&v->message, "%s %s/%s is selected but not loaded: %s", kind,
			   str_or(obj_str(live, "metadata", "namespace"), ""),
			   str_or(obj_str(live, "metadata", "name"), ""), buf_str(&why));
	} else {
		buf_printf(&v->message, "; %s", buf_str(&why));
	}
out:
	buf_release(&why);
}

void desired_compute(const struct desired_in *in, const struct desired_workload *w,
		     const cJSON *nsobj, struct desired *d)
{
	const struct pod **pods = NULL;

	d->cr = desired_pick(in->crs, in->ncrs, w->namespace, w->workload, &d->losers, &d->nlosers);
	if (d->cr) {
		if (iwspec_parse(d->cr, in->defaults, &d->spec, &d->error) != IM_OK)
			return;
	} else if (w->npods) {
		iwspec_default(&d->spec, in->defaults, w->namespace, w->workload, pods_backend(w));
	} else {
		return;
	}
	d->have_spec = true;
	if (w->npods) {
		pods = im_xcalloc(w->npods, sizeof(*pods));
		memcpy(pods, w->pods, w->npods * sizeof(*pods));
		qsort(pods, w->npods, sizeof(*pods), cmp_pod);
	}
	render_workload(in->rc, &d->spec, pods, w->npods, d->objects);
	judge_selection(in, &d->spec, nsobj, d->objects, &d->selection);
	if (d->cr)
		add_owner(d->objects, d->cr);
	im_free(pods);
}

void desired_spec(const struct desired_in *in, const char *ns, const char *workload, enum backend b,
		  struct iwspec *s)
{
	const cJSON *cr = desired_pick(in->crs, in->ncrs, ns, workload, NULL, NULL);
	struct buf err;

	buf_init(&err, 1024);
	if (!cr || iwspec_parse(cr, in->defaults, s, &err) != IM_OK)
		iwspec_default(s, in->defaults, ns, workload, b);
	else if (s->backend == BACKEND_UNKNOWN)
		s->backend = b;
	buf_release(&err);
}

/* Sorts CRs by namespace, workload, then age: each workload's run of CRs
 * starts with the one governing it. */
static int cmp_selected(const void *a, const void *b)
{
	const cJSON *ca = *(const cJSON *const *)a, *cb = *(const cJSON *const *)b;
	int c = strcmp(desired_cr_namespace(ca), desired_cr_namespace(cb));

	if (!c)
		c = strcmp(desired_cr_workload(ca), desired_cr_workload(cb));
	return c ? c : desired_cr_compare(ca, cb);
}

/* Calls fn with the spec of every workload: its governing CR's (workloads
 * whose CR is invalid are skipped), else, for the workloads of pods alone
 * in wls, the defaults. fn returns false to stop. */
static void each_spec(const struct desired_in *in, const struct desired_workload *wls, size_t nwls,
		      bool (*fn)(void *ctx, const struct iwspec *s), void *ctx)
{
	const cJSON **crs = im_xcalloc(in->ncrs + 1, sizeof(*crs));
	size_t n = 0;
	struct hmap seen;
	struct buf key, err;
	bool go = true;

	hmap_init(&seen);
	buf_init(&key, BUF_MAX_SMALL);
	buf_init(&err, 1024);
	for (size_t i = 0; i < in->ncrs; i++)
		if (desired_cr_workload(in->crs[i]) &&
		    selects(in->crs[i], desired_cr_namespace(in->crs[i]),
			    desired_cr_workload(in->crs[i])))
			crs[n++] = in->crs[i];
	qsort(crs, n, sizeof(*crs), cmp_selected);
	for (size_t i = 0; i < n && go; i++) {
		struct iwspec s;
		obj_key(&key, desired_cr_namespace(crs[i]), desired_cr_workload(crs[i]));
		if (hmap_get(&seen, key.ptr))
			continue; /* a loser */
		hmap_put(&seen, key.ptr, (void *)1);
		buf_reset(&err);
		if (iwspec_parse(crs[i], in->defaults, &s, &err) != IM_OK)
			continue;
		go = fn(ctx, &s);
		iwspec_release(&s);
	}
	for (size_t i = 0; i < nwls && go; i++) {
		struct iwspec s;
		if (!wls[i].npods)
			continue;
		obj_key(&key, wls[i].namespace, wls[i].workload);
		if (hmap_get(&seen, key.ptr))
			continue;
		hmap_put(&seen, key.ptr, (void *)1);
		iwspec_default(&s, in->defaults, wls[i].namespace, wls[i].workload,
			       pods_backend(&wls[i]));
		go = fn(ctx, &s);
		iwspec_release(&s);
	}
	hmap_release(&seen);
	buf_release(&key);
	buf_release(&err);
	im_free(crs);
}

static bool add_job(void *ctx, const struct iwspec *s)
{
	if (s->scrape_config)
		scrape_jobs_add(ctx, s);
	return true;
}

cJSON *desired_scrape_secret(const struct desired_in *in, const struct desired_workload *wls,
			     size_t nwls, size_t *njobs, struct buf *err)
{
	struct scrape_jobs jobs;
	cJSON *secret;

	scrape_jobs_init(&jobs);
	each_spec(in, wls, nwls, add_job, &jobs);
	*njobs = jobs.groups.count;
	secret = render_scrape_secret(in->rc, scrape_jobs_render(&jobs), err);
	scrape_jobs_release(&jobs);
	return secret;
}

static bool wants_dashboard(void *ctx, const struct iwspec *s)
{
	bool *want = ctx;

	*want = s->dashboard;
	return !*want; /* the first that wants it decides */
}

bool desired_dashboard(const struct desired_in *in, const struct desired_workload *wls, size_t nwls)
{
	bool want = false;

	if (in->rc->dashboard)
		each_spec(in, wls, nwls, wants_dashboard, &want);
	return want;
}

const char *desired_kind_namespace(const struct render_config *rc, enum owned_kind k)
{
	if (k == OWNED_SECRET)
		return rc->secret_namespace;
	if (k == OWNED_CONFIGMAP || k == OWNED_GRAFANADASHBOARD)
		return rc->dashboard_namespace;
	return NULL;
}

bool desired_kind_enabled(const struct render_config *rc, enum owned_kind k)
{
	if (k == OWNED_CONFIGMAP)
		return rc->dashboard;
	if (k == OWNED_GRAFANADASHBOARD)
		return rc->dashboard && rc->grafana_operator;
	return true;
}
