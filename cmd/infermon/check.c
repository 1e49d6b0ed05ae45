/*
 * infermon check URL - scrape one engine a few times and judge its live
 * limits: the gate a deploy pipeline runs after rollout.
 * Exit 0 healthy, 1 on drift or saturation, 2 on usage or connection errors.
 */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "args.h"
#include "cmd.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "scraper.h"
#include "strparse.h"

struct check_run {
	struct loop loop;
	struct http http;
	struct scraper scraper;
	struct scrape_target *t;
	uv_timer_t wait;
	int samples, done;
	uint64_t interval_ms;
	bool first_failed;
};

static void usage(FILE *f)
{
	fputs("usage: infermon check URL [options]\n"
	      "\n"
	      "Scrapes one engine (URL is its base, e.g. http://10.0.0.5:8000, or its\n"
	      "metrics URL) a few times and judges its live limits: max-num-seqs and\n"
	      "where it came from, KV-derived concurrency, saturation, drift.\n"
	      "\n"
	      "options:\n"
	      "  --backend B         vllm, sglang, vllm-pd, sglang-pd (default vllm)\n"
	      "  --args \"...\"        the engine's command line, to read limits such as\n"
	      "                      --max-num-seqs from (nothing else is read or printed)\n"
	      "  --tolerance X       allowed drift of max-num-seqs from the KV-derived\n"
	      "                      concurrency, as a fraction (default 0.25)\n"
	      "  --samples N         scrapes to take (default 3; trends need 2 or more)\n"
	      "  --interval SECONDS  between scrapes (default 1)\n"
	      "  --timeout SECONDS   per request (default 10)\n"
	      "  -o, --output FMT    text (default) or json\n"
	      "  -h, --help          this text\n"
	      "\n"
	      "exit status: 0 healthy, 1 limit drift or saturation, 2 usage or connection error\n",
	      f);
}

static void stop_all(struct check_run *r)
{
	scraper_stop(&r->scraper);
	loop_close_handle((uv_handle_t *)&r->wait, NULL);
	http_release(&r->http);
	loop_stop(&r->loop); /* closes the loop's wake-up handle: uv_run returns */
}

static void again(uv_timer_t *h)
{
	struct check_run *r = h->data;
	scraper_scrape_now(&r->scraper, r->t);
}

static void on_scrape(void *ctx, struct scrape_target *t)
{
	struct check_run *r = ctx;

	r->done++;
	if (r->done == 1 && !t->up) {
		r->first_failed = true;
		stop_all(r);
		return;
	}
	if (r->done >= r->samples) {
		stop_all(r);
		return;
	}
	uv_timer_start(&r->wait, again, r->interval_ms, 0);
}

static int parse_seconds(const char *s, double min, double max, double *out)
{
	double d;

	if (strparse_double(s, strlen(s), &d) || !isfinite(d) || d < min || d > max)
		return -1;
	*out = d;
	return 0;
}

static void print_text(const struct scrape_target *t, bool healthy)
{
	const struct engine_scrape *e = &t->engine;
	const struct resolved_limits *l = &t->limits;
	bool any = false;

	printf("engine        %s (%s)\n", t->base_url, backend_name(t->backend));
	printf("model         ");
	for (int i = 0; i < e->nmodels; i++)
		printf("%s%s", i ? ", " : "", e->models[i]);
	printf("%s\n", e->nmodels ? "" : "(not reported)");
	if (l->max_num_seqs.source != LIMIT_NONE)
		printf("running       %.0f / max-num-seqs %.0f (%s), saturation %.0f%%\n",
		       e->running, l->max_num_seqs.value, limit_source_name(l->max_num_seqs.source),
		       t->checks.saturation * 100);
	else
		printf("running       %.0f / max-num-seqs unknown\n", e->running);
	printf("waiting       %.0f\n", e->waiting);
	if (e->present & SERIES_KV_USAGE)
		printf("kv cache      usage %.1f%%\n", e->kv_usage * 100);
	else
		printf("kv cache      usage not reported\n");
	if (l->kv_concurrency.source != LIMIT_NONE)
		printf("kv-derived    max concurrency %.2f (%s)\n", l->kv_concurrency.value,
		       limit_source_name(l->kv_concurrency.source));
	else
		printf("kv-derived    max concurrency unknown\n");
	if (l->max_model_len.source != LIMIT_NONE)
		printf("max_model_len %.0f (%s)\n", l->max_model_len.value,
		       limit_source_name(l->max_model_len.source));
	printf("scrapes       %llu, %llu failed%s%s\n", (unsigned long long)t->scrapes,
	       (unsigned long long)t->failures, t->error[0] ? ": " : "", t->error);
	printf("verdicts\n");
	for (int k = 0; k < CHECK_COUNT; k++) {
		if (!t->checks.active[k])
			continue;
		any = true;
		printf("  %-16s %s%s\n", check_name((enum check_kind)k),
		       scraper_check_message(t, (enum check_kind)k),
		       check_is_failure((enum check_kind)k) ? "" : " (informational)");
	}
	if (!any)
		printf("  none\n");
	printf("result        %s\n", healthy ? "healthy" : "FAIL");
}

static cJSON *limit_json(struct limit l)
{
	cJSON *o = cJSON_CreateObject();

	if (l.source != LIMIT_NONE)
		cJSON_AddNumberToObject(o, "value", round(l.value * 100) / 100);
	else
		cJSON_AddNullToObject(o, "value");
	cJSON_AddStringToObject(o, "source", limit_source_name(l.source));
	return o;
}

static void print_json(const struct scrape_target *t, bool healthy)
{
	const struct engine_scrape *e = &t->engine;
	cJSON *o = cJSON_CreateObject(), *models, *limits, *checks;
	char *s;

	cJSON_AddStringToObject(o, "url", t->base_url);
	cJSON_AddStringToObject(o, "backend", backend_name(t->backend));
	models = cJSON_AddArrayToObject(o, "models");
	for (int i = 0; i < e->nmodels; i++)
		cJSON_AddItemToArray(models, cJSON_CreateString(e->models[i]));
	cJSON_AddNumberToObject(o, "running", e->running);
	cJSON_AddNumberToObject(o, "waiting", e->waiting);
	if (e->present & SERIES_KV_USAGE)
		cJSON_AddNumberToObject(o, "kvUsage", e->kv_usage);
	else
		cJSON_AddNullToObject(o, "kvUsage");
	limits = cJSON_AddObjectToObject(o, "limits");
	cJSON_AddItemToObject(limits, "maxNumSeqs", limit_json(t->limits.max_num_seqs));
	cJSON_AddItemToObject(limits, "kvConcurrency", limit_json(t->limits.kv_concurrency));
	cJSON_AddItemToObject(limits, "maxModelLen", limit_json(t->limits.max_model_len));
	cJSON_AddNumberToObject(o, "saturation", round(t->checks.saturation * 1000) / 1000);
	cJSON_AddNumberToObject(o, "drift", round(t->checks.drift * 1000) / 1000);
	checks = cJSON_AddArrayToObject(o, "checks");
	for (int k = 0; k < CHECK_COUNT; k++) {
		cJSON *c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "type", check_name((enum check_kind)k));
		cJSON_AddStringToObject(c, "status", t->checks.active[k] ? "True" : "False");
		cJSON_AddStringToObject(c, "message", scraper_check_message(t, (enum check_kind)k));
		cJSON_AddItemToArray(checks, c);
	}
	cJSON_AddNumberToObject(o, "scrapes", (double)t->scrapes);
	cJSON_AddNumberToObject(o, "failedScrapes", (double)t->failures);
	cJSON_AddBoolToObject(o, "healthy", healthy);
	s = cJSON_Print(o);
	printf("%s\n", s);
	im_free(s);
	cJSON_Delete(o);
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{"backend", required_argument, NULL, 'b'},
		{"args", required_argument, NULL, 'a'},
		{"tolerance", required_argument, NULL, 't'},
		{"samples", required_argument, NULL, 'n'},
		{"interval", required_argument, NULL, 'i'},
		{"timeout", required_argument, NULL, 'T'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *backend_s = "vllm", *engine_args = NULL, *output = "text";
	double tolerance = 0.25, samples = 3, interval = 1, timeout = 10;
	char *url = NULL, *path = NULL;
	enum backend backend;
	uint64_t args_seqs = 0;
	struct check_run *r = NULL;
	struct scraper_opts so = {0};
	int c, rc = 2;
	bool healthy;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			backend_s = optarg;
			break;
		case 'a':
			engine_args = optarg;
			break;
		case 't':
			if (parse_seconds(optarg, 0, 100, &tolerance)) {
				fprintf(stderr,
					"infermon check: invalid --tolerance \"%s\" (a fraction such as 0.25)\n",
					optarg);
				return 2;
			}
			break;
		case 'n':
			if (parse_seconds(optarg, 1, 100, &samples) || samples != floor(samples)) {
				fprintf(stderr,
					"infermon check: invalid --samples \"%s\" (1 to 100)\n",
					optarg);
				return 2;
			}
			break;
		case 'i':
			if (parse_seconds(optarg, 0, 3600, &interval)) {
				fprintf(stderr,
					"infermon check: invalid --interval \"%s\" (seconds)\n",
					optarg);
				return 2;
			}
			break;
		case 'T':
			if (parse_seconds(optarg, 0.1, 600, &timeout)) {
				fprintf(stderr,
					"infermon check: invalid --timeout \"%s\" (seconds)\n",
					optarg);
				return 2;
			}
			break;
		case 'o':
			output = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (strcmp(output, "text") != 0 && strcmp(output, "json") != 0) {
		fprintf(stderr, "infermon check: invalid --output \"%s\" (text, json)\n", output);
		return 2;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "infermon check: expected one URL\n");
		usage(stderr);
		return 2;
	}
	backend = backend_parse(backend_s);
	if (backend == BACKEND_UNKNOWN) {
		fprintf(stderr,
			"infermon check: invalid --backend \"%s\" (vllm, sglang, vllm-pd, sglang-pd)\n",
			backend_s);
		return 2;
	}
	if (strncmp(argv[optind], "http://", 7) != 0 && strncmp(argv[optind], "https://", 8) != 0) {
		fprintf(stderr, "infermon check: URL \"%s\" must start with http:// or https://\n",
			argv[optind]);
		return 2;
	}
	url = im_xstrdup(argv[optind]);
	{
		/* base URL and metrics path: http://h:p[/path] */
		char *slash = strchr(strstr(url, "://") + 3, '/');
		path = im_xstrdup(slash && strcmp(slash, "/") != 0 ? slash : "/metrics");
		if (slash)
			*slash = '\0';
	}
	if (engine_args) {
		char *argvv[1] = {(char *)engine_args};
		const char *flag = backend_is_sglang(backend) ? "--max-running-requests"
							      : "--max-num-seqs";
		im_result ar = args_find_uint(argvv, 1, flag, 1u << 24, &args_seqs);
		if (ar != IM_OK && ar != IM_NOTFOUND) {
			fprintf(stderr,
				"infermon check: --args has %s without a whole number after it\n",
				flag);
			goto out;
		}
	}

	log_setup(LOG_WARN, LOG_FORMAT_TEXT);
	r = im_xcalloc(1, sizeof(*r));
	if (loop_init(&r->loop) || http_init(&r->http, &r->loop)) {
		fprintf(stderr, "infermon check: cannot initialise the event loop\n");
		goto out;
	}
	so.timeout_ms = (uint64_t)(timeout * 1000);
	so.interval_ms = (uint64_t)(interval * 1000) + 1;
	check_opts_default(&so.checks);
	so.checks.drift_tolerance = tolerance;
	scraper_init(&r->scraper, &r->http, &so, on_scrape, r);
	r->samples = (int)samples;
	r->interval_ms = (uint64_t)(interval * 1000);
	uv_timer_init(&r->loop.uv, &r->wait);
	r->wait.data = r;
	r->t = scraper_set_target(&r->scraper, url, url, path, backend, (double)args_seqs);
	r->t->tolerance = tolerance;
	scraper_scrape_now(&r->scraper, r->t);
	loop_run(&r->loop);

	if (r->first_failed || !r->t->up) {
		/* a connection error, first or last: no verdict on stale numbers */
		fprintf(stderr, "infermon check: %s\n", r->t->error);
		rc = 2;
	} else {
		healthy = true;
		for (int k = 0; k < CHECK_COUNT; k++)
			if (r->t->checks.active[k] && check_is_failure((enum check_kind)k))
				healthy = false;
		if (strcmp(output, "json") == 0)
			print_json(r->t, healthy);
		else
			print_text(r->t, healthy);
		rc = healthy ? 0 : 1;
	}
	loop_release(&r->loop);
	scraper_release(&r->scraper);
out:
	im_free(r);
	im_free(url);
	im_free(path);
	return rc;
}
