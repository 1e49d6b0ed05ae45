/*
 * infermon run - argument parsing for the controller (lib/controller.c).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cmd.h"
#include "controller.h"
#include "leader.h"
#include "log.h"
#include "strparse.h"

#define MAX_NAMESPACES 64

static void usage(FILE *f)
{
	fputs("usage: infermon run [options]\n"
	      "\n"
	      "Watches pods labelled alibabacloud.com/inference-workload and\n"
	      "alibabacloud.com/inference-backend, scrapes their engines and judges them\n"
	      "against their live limits, reporting through /metrics, logs and Events.\n"
	      "\n"
	      "options:\n"
	      "  --kubeconfig PATH          kubeconfig file (default: $KUBECONFIG, else in-cluster)\n"
	      "  --context NAME             kubeconfig context (default: current-context)\n"
	      "  --namespace NS             watch only these namespaces (repeatable or\n"
	      "                             comma-separated; default: all namespaces)\n"
	      "  --metrics-bind-address A   [host]:port for /metrics, /healthz, /readyz\n"
	      "                             (default :8080; \"0\" disables the server)\n"
	      "  --engine-port P            engine metrics port name or number (default http)\n"
	      "  --engine-metrics-path P    engine metrics path (default /metrics)\n"
	      "  --scrape-interval D        how often each engine is scraped (default 15s)\n"
	      "  --scrape-timeout D         per request (default 10s)\n"
	      "  --drift-tolerance X        allowed drift of max-num-seqs from the KV-derived\n"
	      "                             concurrency, as a fraction (default 0.25)\n"
	      "  --no-events                do not post Kubernetes Events\n"
	      "  --no-reconcile             do not write generated objects or CR status\n"
	      "  --scrape-secret NS/NAME    the shared scrape-config Secret\n"
	      "                             (default monitoring/infermon-scrape-configs)\n"
	      "  --prune-grace D            how long generated objects of a workload without\n"
	      "                             a CR outlive its last pod (default 10m)\n"
	      "  --leader-elect[=BOOL]      only the holder of a Lease writes; others follow\n"
	      "                             with warm caches (default true)\n"
	      "  --leader-elect-namespace NS    namespace of the Lease (default $POD_NAMESPACE,\n"
	      "                             else infermon-system)\n"
	      "  --leader-elect-resource-name N name of the Lease (default infermon)\n"
	      "  --leader-elect-lease-duration D how long followers wait before taking over a\n"
	      "                             Lease that stopped changing (default 15s)\n"
	      "  --leader-elect-renew-deadline D the leader stops writing when it could not\n"
	      "                             renew for this long (default 10s)\n"
	      "  --leader-elect-retry-period D   between attempts to acquire or renew (default 2s)\n"
	      "  --log-level LEVEL          debug, info, warn, error (default info)\n"
	      "  --log-format FORMAT        text (logfmt) or json (default text)\n"
	      "  -h, --help                 this text\n"
	      "\n"
	      "Durations are written 500ms, 15s, 1m30s or as plain seconds.\n",
	      f);
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

/* "[host]:port", ":port", "port"; "0" disables. */
static int parse_bind(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(s, ':');
	const char *ps = colon ? colon + 1 : s;
	size_t hl = colon ? (size_t)(colon - s) : 0;
	uint64_t p;

	if (strparse_u64(ps, strlen(ps), 65535, &p))
		return -1;
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	}
	if (hl >= hostlen)
		return -1;
	if (hl == 0)
		snprintf(host, hostlen, "0.0.0.0");
	else
		snprintf(host, hostlen, "%.*s", (int)hl, s);
	*port = p == 0 && !colon ? -1 : (int)p;
	return 0;
}

/* Fills in the defaults and checks client-go's rules: the leader must give
 * up (renew deadline) before others may take over (lease duration), and
 * retry more than once within the deadline. */
static int leader_timings(struct controller_opts *o)
{
	if (!o->lease_duration_ms)
		o->lease_duration_ms = LEADER_DEFAULT_LEASE_MS;
	if (!o->renew_deadline_ms)
		o->renew_deadline_ms = LEADER_DEFAULT_RENEW_MS;
	if (!o->retry_period_ms)
		o->retry_period_ms = LEADER_DEFAULT_RETRY_MS;
	if (o->lease_duration_ms < 1000 || o->lease_duration_ms <= o->renew_deadline_ms) {
		fprintf(stderr, "infermon run: the leader-election lease duration (%llums) must be at least 1s "
			"and longer than the renew deadline (%llums)\n",
			(unsigned long long)o->lease_duration_ms, (unsigned long long)o->renew_deadline_ms);
		return -1;
	}
	if (o->renew_deadline_ms * 10 <= o->retry_period_ms * 12) {
		fprintf(stderr, "infermon run: the leader-election renew deadline (%llums) must be longer than "
			"1.2 retry periods (%llums)\n",
			(unsigned long long)o->renew_deadline_ms, (unsigned long long)o->retry_period_ms);
		return -1;
	}
	return 0;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"kubeconfig", required_argument, NULL, 'k'},
		{"context", required_argument, NULL, 'c'},
		{"namespace", required_argument, NULL, 'n'},
		{"metrics-bind-address", required_argument, NULL, 'm'},
		{"engine-port", required_argument, NULL, 'p'},
		{"engine-metrics-path", required_argument, NULL, 'P'},
		{"scrape-interval", required_argument, NULL, 'i'},
		{"scrape-timeout", required_argument, NULL, 't'},
		{"drift-tolerance", required_argument, NULL, 'd'},
		{"no-events", no_argument, NULL, 'E'},
		{"no-reconcile", no_argument, NULL, 'R'},
		{"scrape-secret", required_argument, NULL, 's'},
		{"prune-grace", required_argument, NULL, 'g'},
		{"leader-elect", optional_argument, NULL, 'L'},
		{"leader-elect-namespace", required_argument, NULL, 'N'},
		{"leader-elect-resource-name", required_argument, NULL, 'r'},
		{"leader-elect-lease-duration", required_argument, NULL, 'D'},
		{"leader-elect-renew-deadline", required_argument, NULL, 'W'},
		{"leader-elect-retry-period", required_argument, NULL, 'T'},
		{"log-level", required_argument, NULL, 'l'},
		{"log-format", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct controller_opts o;
	char *namespaces[MAX_NAMESPACES];
	char host[128] = "0.0.0.0", secret_ns[254];
	size_t nns = 0;
	int level = LOG_INFO, format = LOG_FORMAT_TEXT, c, rc = 2;
	double d;

	controller_opts_default(&o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': o.kubeconfig = optarg; break;
		case 'c': o.context = optarg; break;
		case 'n':
			if (add_namespaces(namespaces, &nns, optarg))
				goto out;
			break;
		case 'm':
			if (parse_bind(optarg, host, sizeof(host), &o.metrics_port)) {
				fprintf(stderr, "infermon run: invalid --metrics-bind-address \"%s\" ([host]:port)\n", optarg);
				goto out;
			}
			break;
		case 'p': o.port_name = optarg; break;
		case 'P':
			if (optarg[0] != '/') {
				fprintf(stderr, "infermon run: invalid --engine-metrics-path \"%s\" (must start with /)\n", optarg);
				goto out;
			}
			o.metrics_path = optarg;
			break;
		case 'i':
		case 't': {
			uint64_t ms;
			if (strparse_duration_ms(optarg, strlen(optarg), 3600000, &ms) || ms < 100) {
				fprintf(stderr, "infermon run: invalid --%s \"%s\" (a duration such as 15s, at least 100ms)\n",
					c == 'i' ? "scrape-interval" : "scrape-timeout", optarg);
				goto out;
			}
			if (c == 'i')
				o.scrape_interval_ms = ms;
			else
				o.scrape_timeout_ms = ms;
			break;
		}
		case 'd':
			if (strparse_double(optarg, strlen(optarg), &d) || !isfinite(d) || d < 0 || d > 100) {
				fprintf(stderr, "infermon run: invalid --drift-tolerance \"%s\" (a fraction such as 0.25)\n", optarg);
				goto out;
			}
			o.drift_tolerance = d;
			break;
		case 'E': o.events = false; break;
		case 'R': o.reconcile = false; break;
		case 's': {
			const char *slash = strchr(optarg, '/');
			if (!slash || slash == optarg || !slash[1] || (size_t)(slash - optarg) >= sizeof(secret_ns)) {
				fprintf(stderr, "infermon run: invalid --scrape-secret \"%s\" (NAMESPACE/NAME)\n", optarg);
				goto out;
			}
			snprintf(secret_ns, sizeof(secret_ns), "%.*s", (int)(slash - optarg), optarg);
			o.secret_namespace = secret_ns;
			o.secret_name = slash + 1;
			break;
		}
		case 'g': {
			uint64_t ms;
			if (strparse_duration_ms(optarg, strlen(optarg), 7 * 86400000ULL, &ms)) {
				fprintf(stderr, "infermon run: invalid --prune-grace \"%s\" (a duration such as 10m)\n", optarg);
				goto out;
			}
			o.prune_grace_ms = ms ? ms : 1;
			break;
		}
		case 'L':
			if (!optarg || strcmp(optarg, "true") == 0) {
				o.leader_elect = true;
			} else if (strcmp(optarg, "false") == 0) {
				o.leader_elect = false;
			} else {
				fprintf(stderr, "infermon run: invalid --leader-elect \"%s\" (true or false)\n", optarg);
				goto out;
			}
			break;
		case 'N': o.leader_namespace = optarg; break;
		case 'r': o.leader_name = optarg; break;
		case 'D':
		case 'W':
		case 'T': {
			uint64_t ms;
			const char *name = c == 'D' ? "leader-elect-lease-duration"
				       : c == 'W' ? "leader-elect-renew-deadline" : "leader-elect-retry-period";
			if (strparse_duration_ms(optarg, strlen(optarg), 3600000, &ms) || ms < 100) {
				fprintf(stderr, "infermon run: invalid --%s \"%s\" (a duration such as 15s, at least 100ms)\n",
					name, optarg);
				goto out;
			}
			*(c == 'D' ? &o.lease_duration_ms : c == 'W' ? &o.renew_deadline_ms : &o.retry_period_ms) = ms;
			break;
		}
		case 'l':
			if ((level = log_level_parse(optarg)) < 0) {
				fprintf(stderr, "infermon run: invalid --log-level \"%s\" (debug, info, warn, error)\n", optarg);
				goto out;
			}
			break;
		case 'f':
			if ((format = log_format_parse(optarg)) < 0) {
				fprintf(stderr, "infermon run: invalid --log-format \"%s\" (text, json)\n", optarg);
				goto out;
			}
			break;
		case 'h':
			usage(stdout);
			rc = 0;
			goto out;
		default:
			usage(stderr);
			goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "infermon run: unexpected argument \"%s\"\n", argv[optind]);
		goto out;
	}
	if (leader_timings(&o))
		goto out;
	log_setup((enum log_level)level, (enum log_format)format);
	o.namespaces = namespaces;
	o.nnamespaces = nns;
	o.metrics_bind = host;
	rc = controller_run(&o);
out:
	for (size_t i = 0; i < nns; i++)
		im_free(namespaces[i]);
	return rc;
}
