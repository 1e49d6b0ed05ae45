/*
 * infermon run - argument parsing for the controller (lib/controller.c).
 *
 * Every setting is one option id with one setter (set_option), reached
 * from a flag or from a key of the --config file (lib/cfgfile.h), so both
 * are validated alike. Flags override the file. To add a setting: a row in
 * opts[] and, when the file should carry it, in keys[]; a case in
 * set_option; a line in usage().
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cfgfile.h"
#include "cmd.h"
#include "controller.h"
#include "leader.h"
#include "log.h"
#include "strparse.h"

#define MAX_NAMESPACES 64

/* Option ids: the getopt codes of the flags. */
enum {
	OPT_KUBECONFIG = 'k',
	OPT_CONTEXT = 'c',
	OPT_NAMESPACE = 'n',
	OPT_METRICS_BIND = 'm',
	OPT_METRICS_SECURE = 'S',
	OPT_METRICS_CERT_DIR = 'K',
	OPT_ENGINE_PORT = 'p',
	OPT_ENGINE_PATH = 'P',
	OPT_SCRAPE_INTERVAL = 'i',
	OPT_SCRAPE_TIMEOUT = 't',
	OPT_DRIFT = 'd',
	OPT_NO_EVENTS = 'E', /* value: "false" from --no-events, or the file's bool */
	OPT_NO_RECONCILE = 'R',
	OPT_MATCH_PROMETHEUS = 'M', /* value: "true" from the flag, or the file's bool */
	OPT_SCRAPE_SECRET = 's',
	OPT_PRUNE_GRACE = 'g',
	OPT_WATCH_TIMEOUT = 'w',
	OPT_LEADER_ELECT = 'L',
	OPT_LEADER_NS = 'N',
	OPT_LEADER_NAME = 'r',
	OPT_LEASE_DURATION = 'D',
	OPT_RENEW_DEADLINE = 'W',
	OPT_RETRY_PERIOD = 'T',
	OPT_LOG_LEVEL = 'l',
	OPT_LOG_FORMAT = 'f',
	OPT_CONFIG = 'C',
	OPT_HELP = 'h',
};

static const struct option opts[] = {
	{"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
	{"context", required_argument, NULL, OPT_CONTEXT},
	{"namespace", required_argument, NULL, OPT_NAMESPACE},
	{"metrics-bind-address", required_argument, NULL, OPT_METRICS_BIND},
	{"metrics-secure", optional_argument, NULL, OPT_METRICS_SECURE},
	{"metrics-cert-dir", required_argument, NULL, OPT_METRICS_CERT_DIR},
	{"engine-port", required_argument, NULL, OPT_ENGINE_PORT},
	{"engine-metrics-path", required_argument, NULL, OPT_ENGINE_PATH},
	{"scrape-interval", required_argument, NULL, OPT_SCRAPE_INTERVAL},
	{"scrape-timeout", required_argument, NULL, OPT_SCRAPE_TIMEOUT},
	{"drift-tolerance", required_argument, NULL, OPT_DRIFT},
	{"no-events", no_argument, NULL, OPT_NO_EVENTS},
	{"no-reconcile", no_argument, NULL, OPT_NO_RECONCILE},
	{"match-prometheus", no_argument, NULL, OPT_MATCH_PROMETHEUS},
	{"scrape-secret", required_argument, NULL, OPT_SCRAPE_SECRET},
	{"prune-grace", required_argument, NULL, OPT_PRUNE_GRACE},
	{"watch-timeout", required_argument, NULL, OPT_WATCH_TIMEOUT},
	{"leader-elect", optional_argument, NULL, OPT_LEADER_ELECT},
	{"leader-elect-namespace", required_argument, NULL, OPT_LEADER_NS},
	{"leader-elect-resource-name", required_argument, NULL, OPT_LEADER_NAME},
	{"leader-elect-lease-duration", required_argument, NULL, OPT_LEASE_DURATION},
	{"leader-elect-renew-deadline", required_argument, NULL, OPT_RENEW_DEADLINE},
	{"leader-elect-retry-period", required_argument, NULL, OPT_RETRY_PERIOD},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"log-format", required_argument, NULL, OPT_LOG_FORMAT},
	DASHBOARD_LONG_OPTIONS,
	{"config", required_argument, NULL, OPT_CONFIG},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

/* The --config file's keys; every flag but --config and --help has one. */
static const struct cfg_key keys[] = {
	{"kubeconfig", CFG_STRING, OPT_KUBECONFIG, "--kubeconfig", "kubeconfig file"},
	{"context", CFG_STRING, OPT_CONTEXT, "--context", "kubeconfig context"},
	{"namespaces", CFG_STRING_LIST, OPT_NAMESPACE, "--namespace",
	 "namespaces to watch (default: all)"},
	{"metricsBindAddress", CFG_NAME, OPT_METRICS_BIND, "--metrics-bind-address",
	 "[host]:port of /metrics, /healthz, /readyz"},
	{"metricsSecure", CFG_BOOL, OPT_METRICS_SECURE, "--metrics-secure",
	 "HTTPS, /metrics for reviewed clients only (default true)"},
	{"metricsCertDir", CFG_STRING, OPT_METRICS_CERT_DIR, "--metrics-cert-dir",
	 "directory of tls.crt and tls.key"},
	{"enginePort", CFG_NAME, OPT_ENGINE_PORT, "--engine-port",
	 "engine metrics port name or number"},
	{"engineMetricsPath", CFG_STRING, OPT_ENGINE_PATH, "--engine-metrics-path",
	 "engine metrics path"},
	{"scrapeInterval", CFG_DURATION, OPT_SCRAPE_INTERVAL, "--scrape-interval",
	 "how often each engine is scraped"},
	{"scrapeTimeout", CFG_DURATION, OPT_SCRAPE_TIMEOUT, "--scrape-timeout",
	 "per scrape request"},
	{"driftTolerance", CFG_NUMBER, OPT_DRIFT, "--drift-tolerance",
	 "allowed limit drift, a fraction"},
	{"events", CFG_BOOL, OPT_NO_EVENTS, "--no-events", "post Kubernetes Events (default true)"},
	{"reconcile", CFG_BOOL, OPT_NO_RECONCILE, "--no-reconcile",
	 "write generated objects and CR status (default true)"},
	{"matchPrometheus", CFG_BOOL, OPT_MATCH_PROMETHEUS, "--match-prometheus",
	 "monitors of workloads without a CR get the labels Prometheus selects"},
	{"scrapeSecret", CFG_STRING, OPT_SCRAPE_SECRET, "--scrape-secret",
	 "NAMESPACE/NAME of the scrape-config Secret"},
	{"pruneGrace", CFG_DURATION, OPT_PRUNE_GRACE, "--prune-grace",
	 "how long pod-only objects outlive their last pod"},
	{"watchTimeout", CFG_DURATION, OPT_WATCH_TIMEOUT, "--watch-timeout",
	 "the shortest server-side watch timeout"},
	{"logLevel", CFG_STRING, OPT_LOG_LEVEL, "--log-level", "debug, info, warn, error"},
	{"logFormat", CFG_STRING, OPT_LOG_FORMAT, "--log-format", "text or json"},
	{"leaderElection.leaderElect", CFG_BOOL, OPT_LEADER_ELECT, "--leader-elect",
	 "elect a leader (default true)"},
	{"leaderElection.resourceNamespace", CFG_STRING, OPT_LEADER_NS, "--leader-elect-namespace",
	 "namespace of the Lease"},
	{"leaderElection.resourceName", CFG_STRING, OPT_LEADER_NAME, "--leader-elect-resource-name",
	 "name of the Lease"},
	{"leaderElection.leaseDuration", CFG_DURATION, OPT_LEASE_DURATION,
	 "--leader-elect-lease-duration", "followers' wait"},
	{"leaderElection.renewDeadline", CFG_DURATION, OPT_RENEW_DEADLINE,
	 "--leader-elect-renew-deadline", "leader's give-up time"},
	{"leaderElection.retryPeriod", CFG_DURATION, OPT_RETRY_PERIOD,
	 "--leader-elect-retry-period", "between attempts"},
	{"dashboard.enabled", CFG_BOOL, DASH_OPT_OFF, "--no-dashboard",
	 "deliver the dashboard (default true)"},
	{"dashboard.namespace", CFG_STRING, DASH_OPT_NAMESPACE, "--dashboards-namespace",
	 "namespace of the dashboard ConfigMap"},
	{"dashboard.label", CFG_STRING, DASH_OPT_LABEL, "--dashboard-label",
	 "KEY=VALUE Grafana's sidecar selects by"},
	{"dashboard.folder", CFG_STRING, DASH_OPT_FOLDER, "--dashboard-folder", "Grafana folder"},
	{"dashboard.grafanaOperator", CFG_BOOL, DASH_OPT_GRAFANA_OPERATOR, "--grafana-operator",
	 "also a GrafanaDashboard"},
	{"dashboard.grafanaInstanceSelector", CFG_STRING, DASH_OPT_INSTANCE,
	 "--grafana-instance-selector", "KEY=VALUE[,...] of the Grafana instances"},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static void usage(FILE *f)
{
	fputs("usage: infermon run [--config FILE] [options]\n"
	      "\n"
	      "Watches pods labelled alibabacloud.com/inference-workload and\n"
	      "alibabacloud.com/inference-backend, scrapes their engines and judges them\n"
	      "against their live limits, reporting through /metrics, logs and Events.\n"
	      "\n"
	      "options:\n"
	      "  --config FILE              read settings from a YAML file (keys below);\n"
	      "                             flags given as well override it\n"
	      "  --kubeconfig PATH          kubeconfig file (default: $KUBECONFIG, else in-cluster)\n"
	      "  --context NAME             kubeconfig context (default: current-context)\n"
	      "  --namespace NS             watch only these namespaces (repeatable or\n"
	      "                             comma-separated; default: all namespaces)\n"
	      "  --metrics-bind-address A   [host]:port for /metrics, /healthz, /readyz\n"
	      "                             (default :8443, :8080 with --metrics-secure=false;\n"
	      "                             \"0\" disables the server)\n"
	      "  --metrics-secure[=BOOL]    serve HTTPS, and /metrics only to clients whose\n"
	      "                             bearer token the API server accepts (TokenReview)\n"
	      "                             and allows to get /metrics (SubjectAccessReview);\n"
	      "                             false: plain HTTP, open to all (default true)\n"
	      "  --metrics-cert-dir DIR     tls.crt and tls.key of the HTTPS endpoint (a\n"
	      "                             mounted kubernetes.io/tls Secret; default: a\n"
	      "                             self-signed certificate made at start-up)\n"
	      "  --engine-port P            engine metrics port name or number (default http)\n"
	      "  --engine-metrics-path P    engine metrics path (default /metrics)\n"
	      "  --scrape-interval D        how often each engine is scraped (default 15s)\n"
	      "  --scrape-timeout D         per request (default 10s)\n"
	      "  --drift-tolerance X        allowed drift of max-num-seqs from the KV-derived\n"
	      "                             concurrency, as a fraction (default 0.25)\n"
	      "  --no-events                do not post Kubernetes Events\n"
	      "  --no-reconcile             do not write generated objects or CR status\n"
	      "  --match-prometheus         the monitors of workloads without an\n"
	      "                             InferenceWorkload get the labels the cluster's\n"
	      "                             Prometheus objects select, as a CR's\n"
	      "                             spec.monitor.matchPrometheus does (default off)\n"
	      "  --scrape-secret NS/NAME    the shared scrape-config Secret\n"
	      "                             (default monitoring/infermon-scrape-configs)\n"
	      "  --prune-grace D            how long generated objects of a workload without\n"
	      "                             a CR outlive its last pod (default 10m)\n"
	      "  --watch-timeout D          the API server ends each watch after a random\n"
	      "                             time in [D, 2D] and it resumes from its last\n"
	      "                             resourceVersion (whole seconds; default 5m)\n"
	      "  --leader-elect[=BOOL]      only the holder of a Lease writes; the other\n"
	      "                             replicas follow with warm caches (default true)\n"
	      "  --leader-elect-namespace NS     namespace of the Lease (default\n"
	      "                             $POD_NAMESPACE, else infermon-system)\n"
	      "  --leader-elect-resource-name N  name of the Lease (default infermon)\n"
	      "  --leader-elect-lease-duration D how long followers wait before taking over\n"
	      "                             a Lease that stopped changing (default 15s)\n"
	      "  --leader-elect-renew-deadline D the leader stops writing when it could not\n"
	      "                             renew for this long (default 10s)\n"
	      "  --leader-elect-retry-period D   between attempts to acquire or renew\n"
	      "                             (default 2s)\n" DASHBOARD_USAGE
	      "  --log-level LEVEL          debug, info, warn, error (default info)\n"
	      "  --log-format FORMAT        text (logfmt) or json (default text)\n"
	      "  -h, --help                 this text\n"
	      "\n"
	      "Durations are written 500ms, 15s, 1m30s or as plain seconds.\n"
	      "\n"
	      "config file keys, as the flag named (YAML; a.b is key b of mapping a;\n"
	      "events: false is --no-events; docs/config.md):\n",
	      f);
	for (size_t i = 0; i < NKEYS; i++) {
		static const char *const short_type[] = {
			[CFG_STRING] = "string", [CFG_NAME] = "name|int",
			[CFG_NUMBER] = "number", [CFG_DURATION] = "duration",
			[CFG_BOOL] = "bool",     [CFG_STRING_LIST] = "[string]"};
		fprintf(f, "  %-33s %-9s %s\n", keys[i].path, short_type[keys[i].type],
			keys[i].flag);
	}
	fputs("\n"
	      "Unknown keys and values of the wrong type are errors naming FILE:LINE;\n"
	      "infermon run then exits 2 having done nothing. Example:\n"
	      "\n"
	      "  namespaces: [llm, batch]\n"
	      "  scrapeInterval: 15s\n"
	      "  logFormat: json\n"
	      "  leaderElection:\n"
	      "    leaseDuration: 15s\n",
	      f);
}

struct run_args {
	struct controller_opts o;
	char *namespaces[MAX_NAMESPACES]; /* owned */
	size_t nns;
	char host[128], secret_ns[254];
	int level, format;
	bool port_set;   /* --metrics-bind-address given (else the scheme picks the port) */
	char *owned[64]; /* values read from the config file */
	size_t nowned;
};

static const char *flag_name(int id)
{
	for (size_t i = 0; opts[i].name; i++)
		if (opts[i].val == id)
			return opts[i].name;
	return "?";
}

static im_result add_namespaces(struct run_args *a, const char *arg, struct buf *err)
{
	const char *p = arg;

	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len) {
			if (a->nns >= MAX_NAMESPACES) {
				buf_printf(err, "more than %d namespaces", MAX_NAMESPACES);
				return IM_CONFIG;
			}
			a->namespaces[a->nns++] = im_xstrndup(p, len);
		}
		p += len + (comma ? 1 : 0);
	}
	return IM_OK;
}

static void clear_namespaces(struct run_args *a)
{
	for (size_t i = 0; i < a->nns; i++)
		im_free(a->namespaces[i]);
	a->nns = 0;
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

static bool parse_bool(const char *v, bool *out)
{
	if (strcmp(v, "true") == 0)
		*out = true;
	else if (strcmp(v, "false") == 0)
		*out = false;
	else
		return false;
	return true;
}

/* Applies one setting. name is how the user wrote it ("--log-level" or
 * "logLevel"); on refusal err gets `invalid NAME "VALUE" (what is wanted)`.
 * v lives as long as the options (argv, or a copy of the file's value) and
 * may be split in place. Options parsed by other modules (say, flags shared
 * with infermon render) belong in the default case. */
static im_result set_option(struct run_args *a, int id, char *v, const char *name, struct buf *err)
{
	struct controller_opts *o = &a->o;
	const char *want = NULL;
	uint64_t ms;
	double d;
	bool b;

	switch (id) {
	case OPT_KUBECONFIG:
		o->kubeconfig = v;
		break;
	case OPT_CONTEXT:
		o->context = v;
		break;
	case OPT_NAMESPACE:
		if (add_namespaces(a, v, err))
			return IM_CONFIG;
		break;
	case OPT_METRICS_BIND:
		if (parse_bind(v, a->host, sizeof(a->host), &o->metrics_port))
			want = "[host]:port";
		else
			a->port_set = true;
		break;
	case OPT_METRICS_SECURE:
		if (!parse_bool(v, &o->metrics_secure))
			want = "true or false";
		break;
	case OPT_METRICS_CERT_DIR:
		if (!*v)
			want = "a directory";
		else
			o->metrics_cert_dir = v;
		break;
	case OPT_ENGINE_PORT:
		o->port_name = v;
		break;
	case OPT_ENGINE_PATH:
		if (v[0] != '/')
			want = "must start with /";
		else
			o->metrics_path = v;
		break;
	case OPT_SCRAPE_INTERVAL:
	case OPT_SCRAPE_TIMEOUT:
		if (!duration_flag_ok(v, &ms))
			want = DURATION_FLAG_RULE;
		else
			*(id == OPT_SCRAPE_INTERVAL ? &o->scrape_interval_ms
						    : &o->scrape_timeout_ms) = ms;
		break;
	case OPT_DRIFT:
		if (strparse_double(v, strlen(v), &d) || !isfinite(d) || d < 0 || d > 100)
			want = "a fraction such as 0.25";
		else
			o->drift_tolerance = d;
		break;
	case OPT_NO_EVENTS:
	case OPT_NO_RECONCILE:
		if (!parse_bool(v, &b))
			want = "true or false";
		else
			*(id == OPT_NO_EVENTS ? &o->events : &o->reconcile) = b;
		break;
	case OPT_MATCH_PROMETHEUS:
		if (!parse_bool(v, &o->match_prometheus))
			want = "true or false";
		break;
	case OPT_SCRAPE_SECRET: {
		const char *slash = strchr(v, '/');
		if (!slash || slash == v || !slash[1] ||
		    (size_t)(slash - v) >= sizeof(a->secret_ns)) {
			want = "NAMESPACE/NAME";
			break;
		}
		snprintf(a->secret_ns, sizeof(a->secret_ns), "%.*s", (int)(slash - v), v);
		o->secret_namespace = a->secret_ns;
		o->secret_name = slash + 1;
		break;
	}
	case OPT_PRUNE_GRACE:
		if (strparse_duration_ms(v, strlen(v), 7 * 86400000ULL, &ms))
			want = "a duration such as 10m";
		else
			o->prune_grace_ms = ms ? ms : 1;
		break;
	case OPT_WATCH_TIMEOUT:
		/* timeoutSeconds is whole seconds; 2D must fit in an hour */
		if (strparse_duration_ms(v, strlen(v), 1800000, &ms) || ms < 1000 || ms % 1000)
			want = "whole seconds from 1s to 30m, such as 5m";
		else
			o->watch_timeout_s = (unsigned)(ms / 1000);
		break;
	case OPT_LEADER_ELECT:
		if (!parse_bool(v, &o->leader_elect))
			want = "true or false";
		break;
	case OPT_LEADER_NS:
		if (!*v)
			want = "a namespace";
		else
			o->leader_namespace = v;
		break;
	case OPT_LEADER_NAME:
		if (!*v)
			want = "a name";
		else
			o->leader_name = v;
		break;
	case OPT_LEASE_DURATION:
	case OPT_RENEW_DEADLINE:
	case OPT_RETRY_PERIOD:
		if (!duration_flag_ok(v, &ms))
			want = DURATION_FLAG_RULE;
		else
			*(id == OPT_LEASE_DURATION   ? &o->lease_duration_ms
			  : id == OPT_RENEW_DEADLINE ? &o->renew_deadline_ms
						     : &o->retry_period_ms) = ms;
		break;
	case OPT_LOG_LEVEL:
		if ((a->level = log_level_parse(v)) < 0)
			want = "debug, info, warn, error";
		break;
	case OPT_LOG_FORMAT:
		if ((a->format = log_format_parse(v)) < 0)
			want = "text, json";
		break;
	default:
		switch (dashboard_option(id, v, name, &o->dashboard, err)) {
		case 1:
			return IM_OK;
		case -1:
			return IM_CONFIG;
		}
		buf_printf(err, "%s cannot be set here", name);
		return IM_CONFIG;
	}
	if (want) {
		buf_printf(err, "invalid %s ", name);
		buf_add_quoted(err, v, strlen(v), 0, 0);
		buf_printf(err, " (%s)", want);
		return IM_CONFIG;
	}
	return IM_OK;
}

static im_result set_from_file(void *ctx, const struct cfg_key *key, const char *value,
			       struct buf *err)
{
	struct run_args *a = ctx;
	char *v;

	if (a->nowned >= sizeof(a->owned) / sizeof(a->owned[0])) {
		buf_adds(err, "too many values");
		return IM_TOOBIG;
	}
	/* the options keep pointers: the values must outlive the parsed file */
	v = a->owned[a->nowned++] = im_xstrdup(value);
	return set_option(a, key->id, v, key->path, err);
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
		fprintf(stderr,
			"infermon run: the leader-election lease duration (%llums) must be at least 1s "
			"and longer than the renew deadline (%llums)\n",
			(unsigned long long)o->lease_duration_ms,
			(unsigned long long)o->renew_deadline_ms);
		return -1;
	}
	if (o->renew_deadline_ms * 10 <= o->retry_period_ms * 12) {
		fprintf(stderr,
			"infermon run: the leader-election renew deadline (%llums) must be longer than "
			"1.2 retry periods (%llums)\n",
			(unsigned long long)o->renew_deadline_ms,
			(unsigned long long)o->retry_period_ms);
		return -1;
	}
	return 0;
}

int cmd_run(int argc, char **argv)
{
	struct run_args a;
	const char *config = NULL;
	bool ns_flag = false;
	struct buf err;
	int c, rc = 2;

	memset(&a, 0, sizeof(a));
	controller_opts_default(&a.o);
	snprintf(a.host, sizeof(a.host), "0.0.0.0");
	a.level = LOG_INFO;
	a.format = LOG_FORMAT_TEXT;
	buf_init(&err, 4096);

	/* first pass: --config and --help only; the file goes under the flags */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == OPT_CONFIG) {
			config = optarg;
		} else if (c == OPT_HELP) {
			usage(stdout);
			rc = 0;
			goto out;
		}
	}
	if (config && cfgfile_load(config, keys, NKEYS, set_from_file, &a, &err)) {
		fprintf(stderr, "infermon run: %s\n", buf_str(&err));
		goto out;
	}
	optind = 0;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		static char no[] = "false", yes[] = "true";
		char name[64], *v = optarg;

		if (c == OPT_CONFIG)
			continue;
		if (c == '?' || c == ':') {
			usage(stderr);
			goto out;
		}
		if (c == OPT_NAMESPACE && !ns_flag) {
			clear_namespaces(&a); /* the flags' list replaces the file's */
			ns_flag = true;
		}
		if (c == OPT_NO_EVENTS || c == OPT_NO_RECONCILE)
			v = no;
		else if (((c == OPT_LEADER_ELECT || c == OPT_METRICS_SECURE) && !v) ||
			 c == OPT_MATCH_PROMETHEUS)
			v = yes;
		snprintf(name, sizeof(name), "--%s", flag_name(c));
		buf_reset(&err);
		if (set_option(&a, c, v, name, &err)) {
			fprintf(stderr, "infermon run: %s\n", buf_str(&err));
			goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "infermon run: unexpected argument \"%s\"\n", argv[optind]);
		goto out;
	}
	if (leader_timings(&a.o))
		goto out;
	if (!a.port_set) /* kubebuilder's ports: 8443 for HTTPS, 8080 for HTTP */
		a.o.metrics_port = a.o.metrics_secure ? 8443 : 8080;
	if (a.o.metrics_cert_dir && !a.o.metrics_secure) {
		fprintf(stderr, "infermon run: --metrics-cert-dir needs --metrics-secure (it is "
				"false)\n");
		goto out;
	}
	log_setup((enum log_level)a.level, (enum log_format)a.format);
	a.o.namespaces = a.namespaces;
	a.o.nnamespaces = a.nns;
	a.o.metrics_bind = a.host;
	rc = controller_run(&a.o);
out:
	clear_namespaces(&a);
	for (size_t i = 0; i < a.nowned; i++)
		im_free(a.owned[i]);
	buf_release(&err);
	return rc;
}
