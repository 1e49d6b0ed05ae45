/*
 * infermon run - the controller: watch labelled pods and act on workloads.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cmd.h"
#include "http.h"
#include "kubeclient.h"
#include "log.h"
#include "loop.h"
#include "podcache.h"
#include "reflector.h"

#define MAX_NAMESPACES 64

struct controller {
	struct loop loop;
	struct http http;
	struct kubeclient kc;
	struct podcache cache;
	struct reflector refl[MAX_NAMESPACES];
	size_t nrefl;
	uv_signal_t sigint, sigterm;
	struct http_call *crd_call;
	int exit_code;
};

static void usage(FILE *f)
{
	fputs("usage: infermon run [options]\n"
	      "\n"
	      "Watches pods labelled alibabacloud.com/inference-workload and\n"
	      "alibabacloud.com/inference-backend and keeps their monitoring wired.\n"
	      "\n"
	      "options:\n"
	      "  --kubeconfig PATH     kubeconfig file (default: $KUBECONFIG, else in-cluster)\n"
	      "  --context NAME        kubeconfig context (default: current-context)\n"
	      "  --namespace NS        watch only these namespaces (repeatable, or comma-separated;\n"
	      "                        default: all namespaces)\n"
	      "  --log-level LEVEL     debug, info, warn, error (default info)\n"
	      "  --log-format FORMAT   text (logfmt) or json (default text)\n"
	      "  -h, --help            this text\n",
	      f);
}

static void describe(const struct workload *w, char *pods, size_t np, char *ready, size_t nr,
		     const char **backend)
{
	size_t n = 0, r = 0;

	*backend = "";
	for (struct hmap_entry *e = hmap_first(&w->pods); e; e = hmap_next(&w->pods, e)) {
		const struct pod *p = e->value;
		n++;
		if (p->ready && !p->deleting)
			r++;
		*backend = pod_backend(p);
	}
	snprintf(pods, np, "%zu", n);
	snprintf(ready, nr, "%zu", r);
}

static void on_workload(void *ctx, enum workload_event ev, const struct workload *w)
{
	char pods[24], ready[24];
	const char *backend;
	static const char *const msgs[] = {"workload appeared", "workload changed",
					   "workload disappeared"};

	(void)ctx;
	describe(w, pods, sizeof(pods), ready, sizeof(ready), &backend);
	log_kv(LOG_INFO, msgs[ev], "namespace", w->namespace, "workload", w->name, "backend",
	       backend, "pods", pods, "ready", ready, NULL);
}

static void crd_done(struct http_call *c, im_result transport, void *data)
{
	struct controller *ctl = data;
	struct buf err;
	im_result result;

	buf_init(&err, 4096);
	result = kubeclient_result(c, transport, &err);
	ctl->crd_call = NULL;
	http_call_free(c);
	if (result == IM_NOTFOUND)
		log_kv(LOG_WARN,
		       "InferenceWorkload CRD (infermon.io/v1alpha1) is not installed; "
		       "handling labelled pods with the controller defaults",
		       "hint", "kubectl apply -k crds/", NULL);
	else if (result)
		log_kv(LOG_WARN, "cannot check for the InferenceWorkload CRD", "error", buf_str(&err),
		       NULL);
	buf_release(&err);
}

static void on_stop(void *arg)
{
	struct controller *ctl = arg;

	log_kv(LOG_INFO, "stopping", NULL);
	for (size_t i = 0; i < ctl->nrefl; i++)
		reflector_stop(&ctl->refl[i]);
	if (ctl->crd_call) {
		http_call_free(ctl->crd_call);
		ctl->crd_call = NULL;
	}
	uv_signal_stop(&ctl->sigint);
	uv_signal_stop(&ctl->sigterm);
	loop_close_handle((uv_handle_t *)&ctl->sigint, NULL);
	loop_close_handle((uv_handle_t *)&ctl->sigterm, NULL);
	http_release(&ctl->http);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct controller *ctl = h->data;

	log_kv(LOG_INFO, "signal received", "signal", signum == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
	loop_stop(&ctl->loop);
}

static int add_namespaces(char **list, size_t *n, const char *arg)
{
	const char *p = arg;

	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len) {
			if (*n >= MAX_NAMESPACES) {
				fprintf(stderr, "infermon run: more than %d namespaces\n", MAX_NAMESPACES);
				return -1;
			}
			list[(*n)++] = im_xstrndup(p, len);
		}
		p += len + (comma ? 1 : 0);
	}
	return 0;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"kubeconfig", required_argument, NULL, 'k'},
		{"context", required_argument, NULL, 'c'},
		{"namespace", required_argument, NULL, 'n'},
		{"log-level", required_argument, NULL, 'l'},
		{"log-format", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *kubeconfig = NULL, *context = NULL;
	char *namespaces[MAX_NAMESPACES];
	size_t nns = 0;
	int level = LOG_INFO, format = LOG_FORMAT_TEXT, c, rc = 0;
	struct controller *ctl = NULL;
	struct kubeconfig cfg;
	struct buf err;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': kubeconfig = optarg; break;
		case 'c': context = optarg; break;
		case 'n':
			if (add_namespaces(namespaces, &nns, optarg)) {
				rc = 2;
				goto out;
			}
			break;
		case 'l':
			if ((level = log_level_parse(optarg)) < 0) {
				fprintf(stderr, "infermon run: invalid --log-level \"%s\" (debug, info, warn, error)\n", optarg);
				rc = 2;
				goto out;
			}
			break;
		case 'f':
			if ((format = log_format_parse(optarg)) < 0) {
				fprintf(stderr, "infermon run: invalid --log-format \"%s\" (text, json)\n", optarg);
				rc = 2;
				goto out;
			}
			break;
		case 'h': usage(stdout); goto out;
		default: usage(stderr); rc = 2; goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "infermon run: unexpected argument \"%s\"\n", argv[optind]);
		rc = 2;
		goto out;
	}
	log_setup((enum log_level)level, (enum log_format)format);

	kubeconfig_init(&cfg);
	buf_init(&err, 4096);
	if (kubeconfig_load_default(&cfg, kubeconfig, context, &err)) {
		log_kv(LOG_ERROR, "cannot load API server configuration", "error", buf_str(&err), NULL);
		kubeconfig_release(&cfg);
		buf_release(&err);
		rc = 1;
		goto out;
	}
	buf_release(&err);

	ctl = im_xcalloc(1, sizeof(*ctl));
	if (loop_init(&ctl->loop) || http_init(&ctl->http, &ctl->loop)) {
		log_kv(LOG_ERROR, "cannot initialise the event loop", NULL);
		kubeconfig_release(&cfg);
		rc = 1;
		goto out;
	}
	log_kv(LOG_INFO, "starting", "server", cfg.server, "source", cfg.source, "context",
	       cfg.context ? cfg.context : "", NULL);
	kubeclient_init(&ctl->kc, &ctl->http, &cfg);
	podcache_init(&ctl->cache, on_workload, ctl);
	ctl->loop.on_stop = on_stop;
	ctl->loop.on_stop_arg = ctl;
	uv_signal_init(&ctl->loop.uv, &ctl->sigint);
	uv_signal_init(&ctl->loop.uv, &ctl->sigterm);
	ctl->sigint.data = ctl->sigterm.data = ctl;
	uv_signal_start(&ctl->sigint, on_signal, SIGINT);
	uv_signal_start(&ctl->sigterm, on_signal, SIGTERM);
	signal(SIGPIPE, SIG_IGN);

	ctl->crd_call = kubeclient_call(&ctl->kc, "GET", "/apis/infermon.io/v1alpha1");
	http_call_timeouts(ctl->crd_call, 10000, 30000, 0);
	if (http_call_start(ctl->crd_call, crd_done, ctl)) {
		http_call_free(ctl->crd_call);
		ctl->crd_call = NULL;
	}

	for (size_t i = 0; i < (nns ? nns : 1); i++) {
		struct reflector_opts ro = {.namespace = nns ? namespaces[i] : NULL};
		reflector_init(&ctl->refl[i], &ctl->kc, &ctl->cache, &ro);
		reflector_start(&ctl->refl[i], NULL, NULL);
		ctl->nrefl++;
	}

	loop_run(&ctl->loop);
	loop_release(&ctl->loop);
	for (size_t i = 0; i < ctl->nrefl; i++)
		reflector_release(&ctl->refl[i]);
	podcache_release(&ctl->cache);
	kubeclient_release(&ctl->kc);
	log_kv(LOG_INFO, "stopped", NULL);
out:
	for (size_t i = 0; i < nns; i++)
		im_free(namespaces[i]);
	im_free(ctl);
	return rc;
}
