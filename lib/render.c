#include "render.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "render_alerts.h"
#include "strparse.h"
#include "yamlout.h"

void render_config_init(struct render_config *c)
{
	c->secret_namespace = "monitoring";
	c->secret_name = "infermon-scrape-configs";
	c->secret_key = "scrape-configs.yaml";
	c->dashboard = true;
	c->dashboard_namespace = "monitoring";
	c->dashboard_name = "infermon-llm-inference";
	c->dashboard_key = "llm-inference.json";
	c->dashboard_label = (struct render_label){"grafana_dashboard", "1"};
	c->dashboard_folder = "LLM Inference";
	c->grafana_operator = false;
	c->grafana_instance[0] = (struct render_label){"dashboards", "grafana"};
	c->ngrafana_instance = 1;
}

/* ---- relabeling, one table for every output ---- */

struct relabel {
	const char *source; /* one source label */
	const char *target; /* NULL for keep/drop */
	const char *action; /* NULL: replace */
	const char *regex;  /* NULL: default */
	bool pd_only;
};

static const struct relabel relabels[] = {
	{"__meta_kubernetes_pod_phase", NULL, "keep", "Running", false},
	{"__meta_kubernetes_pod_label_leaderworkerset_sigs_k8s_io_worker_index", NULL, "drop",
	 "[1-9][0-9]*", false},
	{"__meta_kubernetes_namespace", "namespace", NULL, NULL, false},
	{"__meta_kubernetes_pod_name", "pod", NULL, NULL, false},
	{"__meta_kubernetes_pod_label_alibabacloud_com_inference_workload", "workload_name", NULL,
	 NULL, false},
	{"__meta_kubernetes_pod_label_alibabacloud_com_inference_backend", "backend", NULL, NULL,
	 false},
	{"__meta_kubernetes_pod_label_rolebasedgroup_workloads_x_k8s_io_role", "role", NULL, "(.+)",
	 true},
	{"__meta_kubernetes_pod_label_llm_d_ai_role", "role", NULL, "(.+)", true},
};

/* role relabels are added for -pd backends, and where the backend is not
 * known in advance */
static bool wants_role(const struct iwspec *s)
{
	return backend_is_pd(s->backend) || s->backend == BACKEND_UNKNOWN;
}

static void add_relabels(cJSON *arr, bool pd, bool prom)
{
	for (size_t i = 0; i < sizeof(relabels) / sizeof(relabels[0]); i++) {
		const struct relabel *r = &relabels[i];
		cJSON *o, *src;
		if (r->pd_only && !pd)
			continue;
		o = cJSON_CreateObject();
		src = cJSON_AddArrayToObject(o, prom ? "source_labels" : "sourceLabels");
		cJSON_AddItemToArray(src, cJSON_CreateString(r->source));
		if (r->regex)
			cJSON_AddStringToObject(o, "regex", r->regex);
		if (r->target) {
			cJSON_AddStringToObject(o, prom ? "target_label" : "targetLabel",
						r->target);
			if (r->regex)
				cJSON_AddStringToObject(o, "replacement", "$1");
		}
		cJSON_AddStringToObject(o, "action", r->action ? r->action : "replace");
		cJSON_AddItemToArray(arr, o);
	}
}

static bool port_is_number(const char *p, uint64_t *n)
{
	return strparse_u64(p, strlen(p), 65535, n) == IM_OK && *n > 0;
}

/* The engine port into o: a number under num_key, a name under name_key. */
static void add_port(cJSON *o, const char *num_key, const char *name_key, const char *port)
{
	uint64_t num;

	if (port_is_number(port, &num))
		cJSON_AddNumberToObject(o, num_key, (double)num);
	else
		cJSON_AddStringToObject(o, name_key, port);
}

/* The kubernetes_sd config of a workload's pods: Prometheus' own form
 * (snake_case, role "pod") or the ScrapeConfig CR's (role "Pod"). */
static cJSON *sd_config(const struct iwspec *s, bool prom)
{
	cJSON *sdc = cJSON_CreateObject(), *nsd, *names, *sels, *one;
	struct buf b;

	cJSON_AddStringToObject(sdc, "role", prom ? "pod" : "Pod");
	nsd = cJSON_AddObjectToObject(sdc, "namespaces");
	names = cJSON_AddArrayToObject(nsd, "names");
	cJSON_AddItemToArray(names, cJSON_CreateString(s->namespace));
	sels = cJSON_AddArrayToObject(sdc, "selectors");
	one = cJSON_CreateObject();
	buf_init(&b, 1024);
	buf_printf(&b, "%s=%s,%s", LABEL_WORKLOAD, s->workload, LABEL_BACKEND);
	if (s->backend != BACKEND_UNKNOWN)
		buf_printf(&b, "=%s", backend_name(s->backend));
	cJSON_AddStringToObject(one, "role", prom ? "pod" : "Pod");
	cJSON_AddStringToObject(one, "label", buf_str(&b));
	buf_release(&b);
	cJSON_AddItemToArray(sels, one);
	return sdc;
}

/* With pod discovery every container port is a target: keep the metrics
 * port only. */
static cJSON *keep_metrics_port(const char *port, bool prom)
{
	cJSON *k = cJSON_CreateObject(), *src;
	uint64_t num;

	src = cJSON_AddArrayToObject(k, prom ? "source_labels" : "sourceLabels");
	cJSON_AddItemToArray(
		src, cJSON_CreateString(port_is_number(port, &num)
						? "__meta_kubernetes_pod_container_port_number"
						: "__meta_kubernetes_pod_container_port_name"));
	cJSON_AddStringToObject(k, "regex", port);
	cJSON_AddStringToObject(k, "action", "keep");
	return k;
}

static int service_port(const struct iwspec *s, const struct pod *const *pods, size_t npods)
{
	uint64_t n;

	if (port_is_number(s->port, &n))
		return (int)n;
	for (size_t i = 0; i < npods; i++) {
		int p = pod_port(pods[i], s->port);
		if (p)
			return p;
	}
	return 8000; /* any number works: the monitor refers to the port by name */
}

/* The engines' TLS settings and bearer token, in the form the monitors'
 * endpoints and the ScrapeConfig share (tlsConfig with the CA from a
 * Secret, authorization with credentials from a Secret). A ScrapeConfig
 * without them scraped an HTTPS engine with a private CA unverifiable and
 * without its token, while the monitor beside it did not (found by
 * it_operator.sh in the jobs prometheus-operator generated). */
static void add_tls_auth(cJSON *o, const struct iwspec *s)
{
	if (s->https && (s->tls_server_name || s->tls_insecure || s->tls_ca.name)) {
		cJSON *tls = cJSON_AddObjectToObject(o, "tlsConfig");
		if (s->tls_ca.name) {
			cJSON *ca = cJSON_AddObjectToObject(tls, "ca"), *sec;
			sec = cJSON_AddObjectToObject(ca, "secret");
			cJSON_AddStringToObject(sec, "name", s->tls_ca.name);
			cJSON_AddStringToObject(sec, "key", s->tls_ca.key);
		}
		if (s->tls_server_name)
			cJSON_AddStringToObject(tls, "serverName", s->tls_server_name);
		if (s->tls_insecure)
			cJSON_AddBoolToObject(tls, "insecureSkipVerify", true);
	}
	if (s->bearer.name) {
		cJSON *auth = cJSON_AddObjectToObject(o, "authorization"), *cred;
		cJSON_AddStringToObject(auth, "type", "Bearer");
		cred = cJSON_AddObjectToObject(auth, "credentials");
		cJSON_AddStringToObject(cred, "name", s->bearer.name);
		cJSON_AddStringToObject(cred, "key", s->bearer.key);
	}
}

static void add_endpoint_common(cJSON *ep, const struct iwspec *s)
{
	cJSON_AddStringToObject(ep, "path", s->path);
	cJSON_AddStringToObject(ep, "interval", s->interval);
	cJSON_AddStringToObject(ep, "scrapeTimeout", s->timeout);
	cJSON_AddStringToObject(ep, "scheme", s->https ? "https" : "http");
	add_tls_auth(ep, s);
	add_relabels(cJSON_AddArrayToObject(ep, "relabelings"), wants_role(s), false);
}

static cJSON *pod_selector(const struct iwspec *s)
{
	cJSON *sel = cJSON_CreateObject(), *ml, *exprs, *e, *ops;

	ml = cJSON_AddObjectToObject(sel, "matchLabels");
	cJSON_AddStringToObject(ml, LABEL_WORKLOAD, s->workload);
	exprs = cJSON_AddArrayToObject(sel, "matchExpressions");
	e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "key", LABEL_BACKEND);
	cJSON_AddStringToObject(e, "operator", s->backend != BACKEND_UNKNOWN ? "In" : "Exists");
	if (s->backend != BACKEND_UNKNOWN) {
		ops = cJSON_AddArrayToObject(e, "values");
		cJSON_AddItemToArray(ops, cJSON_CreateString(backend_name(s->backend)));
	}
	cJSON_AddItemToArray(exprs, e);
	return sel;
}

static cJSON *namespace_selector(const struct iwspec *s)
{
	cJSON *ns = cJSON_CreateObject(), *names = cJSON_AddArrayToObject(ns, "matchNames");

	cJSON_AddItemToArray(names, cJSON_CreateString(s->namespace));
	return ns;
}

/* The ServiceMonitor's selector: the labels of the Service generated for s. */
static cJSON *service_selector(const struct iwspec *s)
{
	cJSON *sel = cJSON_CreateObject(), *ml = cJSON_AddObjectToObject(sel, "matchLabels");

	cJSON_AddStringToObject(ml, LABEL_MANAGED_BY, MANAGER_NAME);
	cJSON_AddStringToObject(ml, LABEL_IW_WORKLOAD, s->workload);
	return sel;
}

/* A monitor's spec: selector (taken), the namespace selector and one
 * endpoint in the list named endpoints. The endpoint is returned empty: the
 * caller writes its port, then add_endpoint_common (key order is output). */
static cJSON *monitor_endpoint(cJSON *o, const struct iwspec *s, cJSON *selector,
			       const char *endpoints)
{
	cJSON *spec = cJSON_AddObjectToObject(o, "spec"), *ep = cJSON_CreateObject();

	cJSON_AddItemToObject(spec, "selector", selector);
	cJSON_AddItemToObject(spec, "namespaceSelector", namespace_selector(s));
	cJSON_AddItemToArray(cJSON_AddArrayToObject(spec, endpoints), ep);
	return ep;
}

void render_workload(const struct render_config *c, const struct iwspec *s,
		     const struct pod *const *pods, size_t npods, cJSON *out)
{
	char name[80];
	cJSON *o, *spec, *arr, *p, *ep;

	(void)c;
	render_object_name(s->workload, name, sizeof(name));
	if (s->monitor == MONITOR_SERVICE) {
		o = render_object(OWNED_SERVICE, s->namespace, name, render_labels(s, false));
		spec = cJSON_AddObjectToObject(o, "spec");
		cJSON_AddStringToObject(spec, "clusterIP", "None");
		{
			cJSON *sel = cJSON_AddObjectToObject(spec, "selector");
			cJSON_AddStringToObject(sel, LABEL_WORKLOAD, s->workload);
		}
		arr = cJSON_AddArrayToObject(spec, "ports");
		p = cJSON_CreateObject();
		cJSON_AddStringToObject(p, "name", "metrics");
		cJSON_AddNumberToObject(p, "port", service_port(s, pods, npods));
		cJSON_AddStringToObject(p, "protocol", "TCP");
		add_port(p, "targetPort", "targetPort", s->port);
		cJSON_AddItemToArray(arr, p);
		cJSON_AddItemToArray(out, o);

		o = render_object(OWNED_SERVICEMONITOR, s->namespace, name, render_labels(s, true));
		ep = monitor_endpoint(o, s, service_selector(s), "endpoints");
		cJSON_AddStringToObject(ep, "port", "metrics");
	} else {
		o = render_object(OWNED_PODMONITOR, s->namespace, name, render_labels(s, true));
		ep = monitor_endpoint(o, s, pod_selector(s), "podMetricsEndpoints");
		add_port(ep, "portNumber", "port", s->port);
	}
	add_endpoint_common(ep, s);
	cJSON_AddItemToArray(out, o);
	if (s->scrape_config_resource) {
		cJSON *sd, *rl;
		o = render_object(OWNED_SCRAPECONFIG, s->namespace, name, render_labels(s, true));
		spec = cJSON_AddObjectToObject(o, "spec");
		cJSON_AddStringToObject(spec, "metricsPath", s->path);
		cJSON_AddStringToObject(spec, "scrapeInterval", s->interval);
		cJSON_AddStringToObject(spec, "scrapeTimeout", s->timeout);
		cJSON_AddStringToObject(spec, "scheme", s->https ? "HTTPS" : "HTTP");
		add_tls_auth(spec, s);
		sd = cJSON_AddArrayToObject(spec, "kubernetesSDConfigs");
		cJSON_AddItemToArray(sd, sd_config(s, false));
		rl = cJSON_AddArrayToObject(spec, "relabelings");
		cJSON_AddItemToArray(rl, keep_metrics_port(s->port, false));
		add_relabels(rl, wants_role(s), false);
		cJSON_AddItemToArray(out, o);
	}
	if (s->alerts || s->nobjectives)
		cJSON_AddItemToArray(out, render_alerts(s));
}

/* One job of the shared scrape_configs: the scrape settings its workloads
 * share, and the workloads. */
struct scrape_group {
	char *job_name;
	char *port, *path, *interval, *timeout, *tls_server_name;
	bool https, tls_insecure, pd;
	struct hmap members;    /* "namespace;workload;backend" as regexes */
	struct hmap namespaces; /* where to discover pods */
};

void scrape_jobs_init(struct scrape_jobs *j)
{
	hmap_init(&j->groups);
}

static void group_free(struct scrape_group *g)
{
	im_free(g->job_name);
	im_free(g->port);
	im_free(g->path);
	im_free(g->interval);
	im_free(g->timeout);
	im_free(g->tls_server_name);
	hmap_release(&g->members);
	hmap_release(&g->namespaces);
	im_free(g);
}

void scrape_jobs_release(struct scrape_jobs *j)
{
	for (struct hmap_entry *e = hmap_first(&j->groups); e; e = hmap_next(&j->groups, e))
		group_free(e->value);
	hmap_release(&j->groups);
}

/* Appends s with the characters RE2 gives a meaning escaped. */
static void regex_quote(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (strchr("\\.+*?()|[]{}^$", *s))
			buf_addc(b, '\\');
		buf_addc(b, *s);
	}
}

void scrape_jobs_add(struct scrape_jobs *j, const struct iwspec *s)
{
	struct buf name, member;
	struct scrape_group *g;
	bool pd = wants_role(s);

	buf_init(&name, BUF_MAX_SMALL);
	buf_printf(&name, "infermon/port=%s,path=%s,interval=%s,timeout=%s,scheme=%s", s->port,
		   s->path, s->interval, s->timeout, s->https ? "https" : "http");
	if (s->https && s->tls_server_name)
		buf_printf(&name, ",server_name=%s", s->tls_server_name);
	if (s->https && s->tls_insecure)
		buf_adds(&name, ",insecure_skip_verify");
	if (pd)
		buf_adds(&name, ",role");
	g = hmap_get(&j->groups, buf_str(&name));
	if (!g) {
		g = im_xcalloc(1, sizeof(*g));
		g->job_name = im_xstrdup(buf_str(&name));
		g->port = im_xstrdup(s->port);
		g->path = im_xstrdup(s->path);
		g->interval = im_xstrdup(s->interval);
		g->timeout = im_xstrdup(s->timeout);
		g->https = s->https;
		g->tls_server_name = s->https && s->tls_server_name ? im_xstrdup(s->tls_server_name)
								    : NULL;
		g->tls_insecure = s->https && s->tls_insecure;
		g->pd = pd;
		hmap_init(&g->members);
		hmap_init(&g->namespaces);
		hmap_put(&j->groups, g->job_name, g);
	}
	buf_init(&member, BUF_MAX_SMALL);
	regex_quote(&member, s->namespace);
	buf_addc(&member, ';');
	regex_quote(&member, s->workload);
	buf_addc(&member, ';');
	if (s->backend != BACKEND_UNKNOWN)
		regex_quote(&member, backend_name(s->backend));
	else
		buf_adds(&member, ".+");
	hmap_put(&g->members, buf_str(&member), g);
	hmap_put(&g->namespaces, s->namespace, g);
	buf_release(&member);
	buf_release(&name);
}

static cJSON *group_job(const struct scrape_group *g)
{
	cJSON *job = cJSON_CreateObject(), *sd, *sdc, *names, *sels, *one, *rl, *k, *src;
	const char **keys;
	struct buf re;

	cJSON_AddStringToObject(job, "job_name", g->job_name);
	cJSON_AddStringToObject(job, "scrape_interval", g->interval);
	cJSON_AddStringToObject(job, "scrape_timeout", g->timeout);
	cJSON_AddStringToObject(job, "metrics_path", g->path);
	cJSON_AddStringToObject(job, "scheme", g->https ? "https" : "http");
	if (g->tls_server_name || g->tls_insecure) {
		cJSON *tls = cJSON_AddObjectToObject(job, "tls_config");
		if (g->tls_server_name)
			cJSON_AddStringToObject(tls, "server_name", g->tls_server_name);
		if (g->tls_insecure)
			cJSON_AddBoolToObject(tls, "insecure_skip_verify", true);
	}
	sd = cJSON_AddArrayToObject(job, "kubernetes_sd_configs");
	sdc = cJSON_CreateObject();
	cJSON_AddStringToObject(sdc, "role", "pod");
	names = cJSON_AddArrayToObject(cJSON_AddObjectToObject(sdc, "namespaces"), "names");
	keys = hmap_sorted_keys(&g->namespaces);
	for (size_t i = 0; keys[i]; i++)
		cJSON_AddItemToArray(names, cJSON_CreateString(keys[i]));
	im_free(keys);
	sels = cJSON_AddArrayToObject(sdc, "selectors");
	one = cJSON_CreateObject();
	cJSON_AddStringToObject(one, "role", "pod");
	cJSON_AddStringToObject(one, "label", LABEL_WORKLOAD "," LABEL_BACKEND);
	cJSON_AddItemToArray(sels, one);
	cJSON_AddItemToArray(sd, sdc);

	rl = cJSON_AddArrayToObject(job, "relabel_configs");
	cJSON_AddItemToArray(rl, keep_metrics_port(g->port, true));
	k = cJSON_CreateObject();
	src = cJSON_AddArrayToObject(k, "source_labels");
	cJSON_AddItemToArray(src, cJSON_CreateString("__meta_kubernetes_pod_ready"));
	cJSON_AddStringToObject(k, "regex", "true");
	cJSON_AddStringToObject(k, "action", "keep");
	cJSON_AddItemToArray(rl, k);
	/* only this job's workloads: the others' settings differ */
	k = cJSON_CreateObject();
	src = cJSON_AddArrayToObject(k, "source_labels");
	cJSON_AddItemToArray(src, cJSON_CreateString("__meta_kubernetes_namespace"));
	cJSON_AddItemToArray(
		src, cJSON_CreateString(
			     "__meta_kubernetes_pod_label_alibabacloud_com_inference_workload"));
	cJSON_AddItemToArray(
		src, cJSON_CreateString(
			     "__meta_kubernetes_pod_label_alibabacloud_com_inference_backend"));
	cJSON_AddStringToObject(k, "separator", ";");
	buf_init(&re, BUF_MAX_LARGE);
	keys = hmap_sorted_keys(&g->members);
	for (size_t i = 0; keys[i]; i++)
		buf_printf(&re, "%s%s", i ? "|" : "", keys[i]);
	im_free(keys);
	cJSON_AddStringToObject(k, "regex", buf_str(&re));
	buf_release(&re);
	cJSON_AddStringToObject(k, "action", "keep");
	cJSON_AddItemToArray(rl, k);
	add_relabels(rl, g->pd, true);
	return job;
}

cJSON *scrape_jobs_render(const struct scrape_jobs *j)
{
	cJSON *arr = cJSON_CreateArray();
	const char **keys = hmap_sorted_keys(&j->groups);

	for (size_t i = 0; keys[i]; i++)
		cJSON_AddItemToArray(arr, group_job(hmap_get(&j->groups, keys[i])));
	im_free(keys);
	return arr;
}

cJSON *render_scrape_secret(const struct render_config *c, cJSON *jobs, struct buf *err)
{
	cJSON *o, *root, *sd;
	struct buf text;
	im_result result;

	root = cJSON_CreateObject();
	cJSON_AddItemToObject(root, "scrape_configs", jobs);
	buf_init(&text, BUF_MAX_LARGE);
	/* the key holds the list itself, as additionalScrapeConfigs expects */
	result = yamlout_value(&text, cJSON_GetObjectItemCaseSensitive(root, "scrape_configs"), 0);
	cJSON_Delete(root);
	if (result) {
		buf_printf(err, "cannot write the scrape configs: %s", im_strerror(result));
		buf_release(&text);
		return NULL;
	}
	{
		cJSON *l = cJSON_CreateObject();
		cJSON_AddStringToObject(l, LABEL_MANAGED_BY, MANAGER_NAME);
		o = render_object(OWNED_SECRET, c->secret_namespace, c->secret_name, l);
	}
	cJSON_AddStringToObject(o, "type", "Opaque");
	sd = cJSON_AddObjectToObject(o, "stringData");
	cJSON_AddStringToObject(sd, c->secret_key, buf_str(&text));
	buf_release(&text);
	return o;
}
