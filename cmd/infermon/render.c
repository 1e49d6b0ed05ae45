/*
 * infermon render -f FILE... [-o DIR] - prints, offline and byte for byte
 * the same on every run, every object the controller would apply for the
 * InferenceWorkloads and labelled Pods in the files: it reads them and
 * prints what desired.h computes, as the controller applies it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "cmd.h"
#include "desired.h"
#include "fileio.h"
#include "histbounds.h"
#include "hmap.h"
#include "iwspec.h"
#include "kube.h"
#include "objcache.h"
#include "pod.h"
#include "promselect.h"
#include "render.h"
#include "render_dashboard.h"
#include "yamljson.h"
#include "yamlout.h"

#define MAX_FILES 256
#define MAX_INPUT ((size_t)16 * 1024 * 1024)

struct state {
	cJSON **crs;  /* the InferenceWorkloads read (owned copies) */
	char **where; /* file:line of each, for messages */
	size_t ncrs;
	struct pod **pods;
	size_t npods;
	struct iw_defaults defaults;
	struct buf err;
	struct hmap proms; /* ns/name -> Prometheus (cJSON*), for matchPrometheus */
	struct hmap nss;   /* /name -> Namespace (cJSON*), for their selectors */
};

static void usage(FILE *f)
{
	fputs("usage: infermon render -f FILE... [options]\n"
	      "\n"
	      "Prints, as multi-document YAML, every object the controller would apply\n"
	      "for the InferenceWorkloads and labelled Pods in the files (YAML or JSON,\n"
	      "multi-document, List objects allowed; - reads standard input). Pods\n"
	      "without an InferenceWorkload get the controller defaults. Prometheus\n"
	      "(monitoring.coreos.com/v1) and Namespace objects in the input are read as\n"
	      "the controller reads the cluster's: spec.monitor.matchPrometheus stamps the\n"
	      "labels their selectors need, and a monitor no Prometheus selects is noted\n"
	      "on standard error.\n"
	      "\n"
	      "options:\n"
	      "  -f, --filename FILE        input (repeatable)\n"
	      "  -o, --output-dir DIR       write one file per object into DIR instead\n"
	      "  --scrape-secret NS/NAME    the shared scrape-config Secret\n"
	      "                             (default monitoring/infermon-scrape-configs)\n"
	      "  --scrape-secret-key KEY    its key (default scrape-configs.yaml)\n"
	      "  --engine-port P            metrics port of workloads without a CR (http)\n"
	      "  --engine-metrics-path P    their metrics path (/metrics)\n"
	      "  --scrape-interval D        their interval (15s); a CR's absent fields take\n"
	      "                             the CRD's defaults, as in the cluster\n"
	      "  --scrape-timeout D         the scrape timeout of every workload (10s; the\n"
	      "                             CRD leaves it unset, so CRs take it too; never\n"
	      "                             above the interval), as run's flag\n"
	      "  --match-prometheus         workloads without a CR get the labels the\n"
	      "                             Prometheus objects in the input select, as\n"
	      "                             run's flag\n" DASHBOARD_USAGE
	      "  -h, --help                 this text\n"
	      "\n"
	      "The dashboard ConfigMap (and GrafanaDashboard) is printed when at least one\n"
	      "workload wants it (spec.dashboard.enabled; on for workloads without a CR).\n"
	      "Two InferenceWorkloads selecting one workload are refused, both named (the\n"
	      "controller follows the older and reports the other).\n"
	      "\n"
	      "exit status: 0 done, 2 invalid input or usage (nothing is printed then)\n",
	      f);
}

/* Spec errors start with the field path ("spec.metrics.interval …",
 * "spec.slo.objectives[1].target …"): the line of the deepest node on that
 * path is where the problem is. */
static int field_line(const struct yamljson_doc *doc, const cJSON *obj, const char *msg)
{
	const cJSON *node = obj, *next;
	char part[64];
	int line;

	while (*msg && *msg != ' ') {
		size_t n = strcspn(msg, ".[ ");
		if (n >= sizeof(part))
			break;
		if (n == 0 && *msg == '[') { /* [index] */
			char *end;
			long i = strtol(msg + 1, &end, 10);
			if (*end != ']' || !cJSON_IsArray(node) || i < 0 ||
			    !(next = cJSON_GetArrayItem(node, (int)i)))
				break;
			node = next;
			msg = end + 1 + (end[1] == '.');
			continue;
		}
		if (n == 0)
			break;
		memcpy(part, msg, n);
		part[n] = '\0';
		next = cJSON_IsObject(node) ? cJSON_GetObjectItemCaseSensitive(node, part) : NULL;
		if (!next)
			break;
		node = next;
		msg += n + (msg[n] == '.');
	}
	line = doc ? yamljson_line_of(doc, node) : 0;
	return line > 0 ? line : (doc ? doc->line : 0);
}

/* Checks the CR's spec here, where its file and line are known, and keeps
 * a copy for desired.h. */
static int add_cr(struct state *st, const cJSON *obj, const char *where,
		  const struct yamljson_doc *doc, const char *file)
{
	struct iwspec spec;

	buf_reset(&st->err);
	if (iwspec_parse(obj, &st->defaults, &spec, &st->err)) {
		fprintf(stderr, "%s:%d: %s\n", file, field_line(doc, obj, buf_str(&st->err)),
			buf_str(&st->err));
		return -1;
	}
	iwspec_release(&spec);
	st->crs = im_xrealloc(st->crs, (st->ncrs + 1) * sizeof(*st->crs));
	st->where = im_xrealloc(st->where, (st->ncrs + 1) * sizeof(*st->where));
	st->crs[st->ncrs] = cJSON_Duplicate(obj, true);
	st->where[st->ncrs++] = im_xstrdup(where);
	return 0;
}

static int add_pod(struct state *st, cJSON *obj, const char *where)
{
	struct pod *p;
	cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");

	if (cJSON_IsObject(md) && !cJSON_GetObjectItemCaseSensitive(md, "namespace"))
		cJSON_AddStringToObject(md, "namespace", "default");
	buf_reset(&st->err);
	if (pod_decode(obj, &p, &st->err)) {
		fprintf(stderr, "%s: %s\n", where, buf_str(&st->err));
		return -1;
	}
	if (!pod_workload(p) || !pod_backend(p)) {
		pod_free(p); /* not an inference pod: nothing to render */
		return 0;
	}
	if (backend_parse(pod_backend(p)) == BACKEND_UNKNOWN) {
		fprintf(stderr,
			"%s: pod %s/%s: label %s \"%s\" must be vllm, sglang, vllm-pd or sglang-pd\n",
			where, p->namespace, p->name, LABEL_BACKEND, pod_backend(p));
		pod_free(p);
		return -1;
	}
	st->pods = im_xrealloc(st->pods, (st->npods + 1) * sizeof(*st->pods));
	st->pods[st->npods++] = p;
	return 0;
}

/* A Prometheus (namespaced; "default" when unset) or a Namespace. */
static int add_selector_input(struct state *st, const cJSON *obj, const char *kind,
			      const char *where)
{
	const char *name = obj_str(obj, "metadata", "name"),
		   *ns = obj_str(obj, "metadata", "namespace");
	bool is_ns = strcmp(kind, "Namespace") == 0;
	struct hmap *m = is_ns ? &st->nss : &st->proms;
	cJSON *copy;
	struct buf key;

	if (!name || !*name) {
		fprintf(stderr, "%s: %s without metadata.name\n", where, kind);
		return -1;
	}
	buf_init(&key, BUF_MAX_SMALL);
	obj_key(&key, is_ns ? NULL : (ns && *ns ? ns : "default"), name);
	if (hmap_get(m, key.ptr)) {
		fprintf(stderr, "%s: %s %s given twice\n", where, kind, is_ns ? name : key.ptr);
		buf_release(&key);
		return -1;
	}
	copy = cJSON_Duplicate(obj, true);
	if (!is_ns && !(ns && *ns))
		cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(copy, "metadata"),
					"namespace", "default");
	hmap_put(m, key.ptr, copy);
	buf_release(&key);
	return 0;
}

static int add_object(struct state *st, cJSON *obj, const char *file, int line,
		      const struct yamljson_doc *doc)
{
	const char *api = obj_str(obj, "apiVersion", NULL), *kind = obj_str(obj, "kind", NULL);
	char where[1100];

	snprintf(where, sizeof(where), "%s:%d", file, line);
	if (!cJSON_IsObject(obj) || !kind) {
		fprintf(stderr, "%s: not a Kubernetes object (no kind)\n", where);
		return -1;
	}
	if (strcmp(kind, "InferenceWorkload") == 0) {
		if (!api || strcmp(api, KUBE_GV_INFERMON) != 0) {
			fprintf(stderr,
				"%s: InferenceWorkload apiVersion \"%s\": want " KUBE_GV_INFERMON
				"\n",
				where, api ? api : "");
			return -1;
		}
		return add_cr(st, obj, where, doc, file);
	}
	if (strcmp(kind, "Pod") == 0)
		return add_pod(st, obj, where);
	if ((strcmp(kind, "Prometheus") == 0 && api && strcmp(api, KUBE_GV_MONITORING) == 0) ||
	    (strcmp(kind, "Namespace") == 0 && api && strcmp(api, KUBE_GV_CORE) == 0))
		return add_selector_input(st, obj, kind, where);
	if (strcmp(kind, "List") == 0 || strcmp(kind, "PodList") == 0 ||
	    strcmp(kind, "InferenceWorkloadList") == 0) {
		cJSON *it;
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(obj, "items"))
		{
			int l = doc ? yamljson_line_of(doc, it) : 0;
			if (add_object(st, it, file, l > 0 ? l : line, doc))
				return -1;
		}
		return 0;
	}
	fprintf(stderr,
		"%s: unsupported kind \"%s\" (InferenceWorkload, Pod, Prometheus, Namespace or List)\n",
		where, kind);
	return -1;
}

static int read_file(struct state *st, const char *path)
{
	struct buf data, err;
	struct yamljson_doc *docs = NULL;
	size_t ndocs = 0;
	int rc = 0;
	const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;

	buf_init(&data, MAX_INPUT);
	buf_init(&err, 4096);
	if (strcmp(path, "-") == 0) {
		char chunk[65536];
		size_t n;
		while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
			if (buf_add(&data, chunk, n)) {
				fprintf(stderr, "%s: larger than %zu bytes\n", name, MAX_INPUT);
				rc = -1;
				goto out;
			}
	} else if (fileio_read(path, MAX_INPUT, &data, &err)) {
		fprintf(stderr, "%s\n", buf_str(&err));
		rc = -1;
		goto out;
	}
	if (yamljson_parse(buf_str(&data), data.len, name, NULL, &docs, &ndocs, &err)) {
		fprintf(stderr, "%s\n", buf_str(&err));
		rc = -1;
		goto out;
	}
	for (size_t i = 0; i < ndocs && rc == 0; i++)
		rc = add_object(st, docs[i].json, name, docs[i].line, &docs[i]);
out:
	yamljson_docs_free(docs, ndocs);
	buf_release(&data);
	buf_release(&err);
	return rc;
}

/* A workload of the input: its pods (in file order). */
struct wl {
	char *namespace, *workload;
	const struct pod **pods;
	size_t npods;
};

static struct wl *wl_get(struct hmap *wls, const char *ns, const char *workload)
{
	struct buf key;
	struct wl *w;

	buf_init(&key, BUF_MAX_SMALL);
	obj_key(&key, ns, workload);
	w = hmap_get(wls, key.ptr);
	if (!w) {
		w = im_xcalloc(1, sizeof(*w));
		w->namespace = im_xstrdup(ns);
		w->workload = im_xstrdup(workload);
		hmap_put(wls, key.ptr, w);
	}
	buf_release(&key);
	return w;
}

static const char *where_of(const struct state *st, const cJSON *cr)
{
	for (size_t i = 0; i < st->ncrs; i++)
		if (st->crs[i] == cr)
			return st->where[i];
	return "?";
}

/* A latency objective of a vLLM workload whose threshold is not a bound of
 * vLLM's default buckets measures nothing: say so (the controller checks
 * the live engines' buckets, SLOMeasurable; SGLang's are set per
 * deployment, --bucket-time-to-first-token and its kin, so only the
 * controller can judge them). */
static void note_slo_bounds(const struct state *st, const struct desired *d, const char *pod_be)
{
	const struct iwspec *s = &d->spec;
	enum backend b = s->backend != BACKEND_UNKNOWN
				 ? s->backend
				 : (pod_be ? backend_parse(pod_be) : BACKEND_UNKNOWN);

	if (b != BACKEND_VLLM && b != BACKEND_VLLM_PD)
		return;
	for (size_t i = 0; i < s->nobjectives; i++) {
		const struct iw_objective *o = &s->objectives[i];
		enum hist_kind h = slo_sli_hist(o->sli);
		double below, above;
		char near[80];
		if (o->sli == SLI_AVAILABILITY ||
		    histbounds_has(&histbounds_vllm_default, h, o->threshold, &below, &above))
			continue;
		histbounds_nearest(near, sizeof(near), below, above);
		fprintf(stderr,
			"infermon render: note: %s: InferenceWorkload %s/%s objectives[%zu] (%s %gs) "
			"is not a bucket bound of vLLM's %s histogram (%s): the SLI "
			"has no data unless the engines' buckets differ from vLLM's defaults\n",
			where_of(st, d->cr), s->namespace, s->name, i, slo_sli_name(o->sli),
			o->threshold, hist_kind_name(h), near);
	}
}

/* Appends to objs what desired.h wants for the input: every workload's
 * objects in namespace/workload order, then the shared Secret and the
 * dashboard. Two CRs selecting one workload are an error naming both. */
static int compute(struct state *st, const struct render_config *rc, cJSON *objs)
{
	struct hmap wls;
	const char **keys = NULL, **pkeys = hmap_sorted_keys(&st->proms);
	const cJSON **proms = im_xcalloc(st->proms.count + 1, sizeof(*proms));
	struct desired_workload *dws = NULL;
	cJSON *secret = NULL;
	struct desired_in in;
	size_t nproms = 0, n = 0, njobs;
	struct buf key;
	int rc_ = -1;

	hmap_init(&wls);
	buf_init(&key, BUF_MAX_SMALL);
	for (size_t i = 0; pkeys[i]; i++)
		proms[nproms++] = hmap_get(&st->proms, pkeys[i]);
	in = (struct desired_in){
		.rc = rc,
		.defaults = &st->defaults,
		.crs = (const cJSON *const *)st->crs,
		.ncrs = st->ncrs,
		.proms = proms,
		.nproms = nproms,
		/* no Prometheus in the input: nothing to judge */
		.proms_known = nproms > 0,
	};
	for (size_t i = 0; i < st->ncrs; i++)
		wl_get(&wls, desired_cr_namespace(st->crs[i]), desired_cr_workload(st->crs[i]));
	for (size_t i = 0; i < st->npods; i++) {
		struct wl *w = wl_get(&wls, st->pods[i]->namespace, pod_workload(st->pods[i]));
		w->pods = im_xrealloc(w->pods, (w->npods + 1) * sizeof(*w->pods));
		w->pods[w->npods++] = st->pods[i];
	}
	keys = hmap_sorted_keys(&wls);
	dws = im_xcalloc(wls.count + 1, sizeof(*dws));
	for (size_t i = 0; keys[i]; i++) {
		const struct wl *w = hmap_get(&wls, keys[i]);
		struct desired_workload *dw = &dws[n++];
		struct desired d;
		cJSON *o;
		*dw = (struct desired_workload){w->namespace, w->workload, w->pods, w->npods};
		buf_reset(&key);
		buf_printf(&key, "/%s", w->namespace);
		desired_init(&d);
		desired_compute(&in, dw, hmap_get(&st->nss, key.ptr), &d);
		if (d.nlosers) {
			fprintf(stderr,
				"%s: InferenceWorkload %s/%s selects workload \"%s\", as %s/%s does "
				"(%s); one workload takes one InferenceWorkload\n",
				where_of(st, d.losers[0]), desired_cr_namespace(d.losers[0]),
				obj_str(d.losers[0], "metadata", "name"), w->workload,
				desired_cr_namespace(d.cr), obj_str(d.cr, "metadata", "name"),
				where_of(st, d.cr));
			desired_release(&d);
			goto out;
		}
		if (d.cr && !d.have_spec) { /* add_cr checked it: not expected */
			fprintf(stderr, "%s: %s\n", where_of(st, d.cr), buf_str(&d.error));
			desired_release(&d);
			goto out;
		}
		if (d.selection.status && strcmp(d.selection.status, "False") == 0) {
			enum promsel_kind k;
			const cJSON *mon = promsel_find_monitor(d.objects, &k);
			fprintf(stderr,
				"infermon render: note: no Prometheus in the input selects %s %s/%s\n",
				obj_str(mon, "kind", NULL), w->namespace,
				obj_str(mon, "metadata", "name"));
		}
		if (d.have_spec)
			note_slo_bounds(st, &d, w->npods ? pod_backend(w->pods[0]) : NULL);
		while ((o = cJSON_DetachItemFromArray(d.objects, 0)) != NULL)
			cJSON_AddItemToArray(objs, o);
		desired_release(&d);
	}
	secret = desired_scrape_secret(&in, dws, n, &njobs, &st->err);
	if (!secret) {
		fprintf(stderr, "infermon render: %s\n", buf_str(&st->err));
		goto out;
	}
	if (njobs > 0) {
		cJSON_AddItemToArray(objs, secret);
		secret = NULL;
	}
	if (desired_dashboard(&in, dws, n)) {
		cJSON_AddItemToArray(objs, render_dashboard_configmap(rc));
		if (rc->grafana_operator)
			cJSON_AddItemToArray(objs, render_grafana_dashboard(rc));
	}
	rc_ = 0;
out:
	cJSON_Delete(secret);
	for (struct hmap_entry *e = hmap_first(&wls); e; e = hmap_next(&wls, e)) {
		struct wl *w = e->value;
		im_free(w->namespace);
		im_free(w->workload);
		im_free(w->pods);
		im_free(w);
	}
	hmap_release(&wls);
	im_free(keys);
	im_free(pkeys);
	im_free(proms);
	im_free(dws);
	buf_release(&key);
	return rc_;
}

static int write_dir(const char *dir, const cJSON *objs)
{
	const cJSON *o;

	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "infermon render: cannot create \"%s\": %s\n", dir,
			strerror(errno));
		return -1;
	}
	cJSON_ArrayForEach(o, objs)
	{
		struct buf path, text;
		FILE *f;
		const char *ns = obj_str(o, "metadata", "namespace");
		char kind[64];
		size_t i;

		snprintf(kind, sizeof(kind), "%s", obj_str(o, "kind", NULL));
		for (i = 0; kind[i]; i++)
			if (kind[i] >= 'A' && kind[i] <= 'Z')
				kind[i] = (char)(kind[i] - 'A' + 'a');
		buf_init(&path, 4096);
		buf_init(&text, BUF_MAX_LARGE);
		buf_printf(&path, "%s/%s_%s_%s.yaml", dir, ns ? ns : "cluster", kind,
			   obj_str(o, "metadata", "name"));
		yamlout_doc(&text, o);
		if (path.overflow || text.overflow) {
			fprintf(stderr,
				"infermon render: %s %s/%s: %s over its cap; nothing written for it\n",
				obj_str(o, "kind", NULL), ns ? ns : "",
				obj_str(o, "metadata", "name"),
				path.overflow ? "file name" : "YAML");
			buf_release(&path);
			buf_release(&text);
			return -1;
		}
		f = fopen(buf_str(&path), "w");
		if (!f || fwrite(text.ptr, 1, text.len, f) != text.len || fclose(f) != 0) {
			fprintf(stderr, "infermon render: cannot write \"%s\": %s\n",
				buf_str(&path), strerror(errno));
			buf_release(&path);
			buf_release(&text);
			return -1;
		}
		buf_release(&path);
		buf_release(&text);
	}
	return 0;
}

int cmd_render(int argc, char **argv)
{
	static const struct option opts[] = {
		{"filename", required_argument, NULL, 'f'},
		{"output-dir", required_argument, NULL, 'o'},
		{"scrape-secret", required_argument, NULL, 's'},
		{"scrape-secret-key", required_argument, NULL, 'k'},
		{"engine-port", required_argument, NULL, 'p'},
		{"engine-metrics-path", required_argument, NULL, 'P'},
		{"scrape-interval", required_argument, NULL, 'i'},
		{"scrape-timeout", required_argument, NULL, 't'},
		{"match-prometheus", no_argument, NULL, 'M'},
		DASHBOARD_LONG_OPTIONS,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *files[MAX_FILES], *outdir = NULL;
	size_t nfiles = 0;
	struct state st;
	struct render_config rc_cfg;
	struct dashboard_opts dash = {0};
	char secret_ns[254] = "", secret_name[254] = "";
	cJSON *objs = NULL;
	struct buf out;
	int c, rc = 2;

	memset(&st, 0, sizeof(st));
	hmap_init(&st.proms);
	hmap_init(&st.nss);
	iw_defaults_init(&st.defaults);
	buf_init(&st.err, 4096);
	buf_init(&out, BUF_MAX_LARGE);
	render_config_init(&rc_cfg);
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (nfiles >= MAX_FILES) {
				fprintf(stderr, "infermon render: more than %d files\n", MAX_FILES);
				goto out;
			}
			files[nfiles++] = optarg;
			break;
		case 'o':
			outdir = optarg;
			break;
		case 's': {
			const char *slash = strchr(optarg, '/');
			if (!slash || slash == optarg || !slash[1] ||
			    (size_t)(slash - optarg) >= sizeof(secret_ns) ||
			    strlen(slash + 1) >= sizeof(secret_name)) {
				fprintf(stderr,
					"infermon render: invalid --scrape-secret \"%s\" (NAMESPACE/NAME)\n",
					optarg);
				goto out;
			}
			snprintf(secret_ns, sizeof(secret_ns), "%.*s", (int)(slash - optarg),
				 optarg);
			snprintf(secret_name, sizeof(secret_name), "%s", slash + 1);
			rc_cfg.secret_namespace = secret_ns;
			rc_cfg.secret_name = secret_name;
			break;
		}
		case 'k':
			rc_cfg.secret_key = optarg;
			break;
		case 'p':
			st.defaults.port = optarg;
			break;
		case 'P':
			st.defaults.path = optarg;
			break;
		case 'i':
			st.defaults.interval = optarg;
			break;
		case 't': {
			/* as run's flag; cut to the interval where longer */
			uint64_t ms;
			if (!duration_flag_ok(optarg, &ms)) {
				fprintf(stderr,
					"infermon render: invalid --scrape-timeout \"%s\" (%s)\n",
					optarg, DURATION_FLAG_RULE);
				goto out;
			}
			st.defaults.timeout = optarg;
			break;
		}
		case 'M':
			st.defaults.match_prometheus = true;
			break;
		case 'h':
			usage(stdout);
			rc = 0;
			goto out;
		default: {
			char name[64];
			const struct option *op = opts;
			while (op->name && op->val != c)
				op++;
			snprintf(name, sizeof(name), "--%s", op->name ? op->name : "?");
			buf_reset(&st.err);
			switch (dashboard_option(c, optarg, name, &dash, &st.err)) {
			case 1:
				break;
			case 0:
				usage(stderr);
				goto out;
			default:
				fprintf(stderr, "infermon render: %s\n", buf_str(&st.err));
				goto out;
			}
		}
		}
	}
	render_dashboard_apply_opts(&rc_cfg, &dash);
	if (optind < argc || nfiles == 0) {
		fprintf(stderr,
			optind < argc ? "infermon render: unexpected argument \"%s\"\n"
				      : "infermon render: no input (-f FILE)%s\n",
			optind < argc ? argv[optind] : "");
		usage(stderr);
		goto out;
	}
	{
		/* the defaults are validated like a CR's */
		cJSON *probe = cJSON_CreateObject(), *md, *spec, *m;
		struct iwspec tmp;
		md = cJSON_AddObjectToObject(probe, "metadata");
		cJSON_AddStringToObject(md, "name", "defaults");
		cJSON_AddStringToObject(md, "namespace", "flags");
		spec = cJSON_AddObjectToObject(probe, "spec");
		m = cJSON_AddObjectToObject(spec, "metrics");
		cJSON_AddStringToObject(m, "port", st.defaults.port);
		cJSON_AddStringToObject(m, "path", st.defaults.path);
		cJSON_AddStringToObject(m, "interval", st.defaults.interval);
		if (iwspec_parse(probe, &st.defaults, &tmp, &st.err)) {
			fprintf(stderr, "infermon render: %s\n", buf_str(&st.err));
			cJSON_Delete(probe);
			goto out;
		}
		iwspec_release(&tmp);
		cJSON_Delete(probe);
	}
	for (size_t i = 0; i < nfiles; i++)
		if (read_file(&st, files[i]))
			goto out;
	objs = cJSON_CreateArray();
	if (compute(&st, &rc_cfg, objs))
		goto out;
	if (outdir) {
		if (write_dir(outdir, objs))
			goto out;
	} else {
		const cJSON *o;
		cJSON_ArrayForEach(o, objs)
		{
			yamlout_doc(&out, o);
		}
		if (out.overflow) {
			fprintf(stderr, "infermon render: output larger than %zu bytes\n", out.max);
			goto out;
		}
		fwrite(buf_str(&out), 1, out.len, stdout);
	}
	rc = 0;
out:
	cJSON_Delete(objs);
	for (size_t i = 0; i < st.ncrs; i++) {
		cJSON_Delete(st.crs[i]);
		im_free(st.where[i]);
	}
	im_free(st.crs);
	im_free(st.where);
	for (struct hmap_entry *e = hmap_first(&st.proms); e; e = hmap_next(&st.proms, e))
		cJSON_Delete(e->value);
	hmap_release(&st.proms);
	for (struct hmap_entry *e = hmap_first(&st.nss); e; e = hmap_next(&st.nss, e))
		cJSON_Delete(e->value);
	hmap_release(&st.nss);
	for (size_t i = 0; i < st.npods; i++)
		pod_free(st.pods[i]);
	im_free(st.pods);
	buf_release(&st.err);
	buf_release(&out);
	return rc;
}
