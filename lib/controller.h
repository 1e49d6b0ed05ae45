/*
 * controller.h - the running controller: watch, scrape, judge, report.
 *
 *   reflectors ──▶ podcache ──workload events──▶ scrape targets (ready leader
 *                                                pods, the configured port)
 *   scraper ──each scrape──▶ checks ──transitions──▶ log lines + Events
 *                          └──────────────▶ /metrics snapshot (every 2 s)
 *   CRs, generated objects ──informers──▶ work queue ──▶ reconciler
 *                                     (server-side apply, CR status)
 *
 * Events (events.k8s.io/v1) go to the pod they concern: Warning when a
 * check becomes true, Normal when it clears; never one per scrape.
 *
 * With leader election on, every replica watches and scrapes, but only the
 * holder of the Lease reconciles and posts Events; a replica that loses the
 * Lease stops writing at once and follows, caches warm
 * (docs/leader-election.md).
 *
 * controller_run owns the loop thread; the HTTP server (httpserver.h) runs
 * on its own thread and reads only the published snapshot.
 */
#ifndef INFERMON_CONTROLLER_H
#define INFERMON_CONTROLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "render_dashboard.h"

struct controller_opts {
	const char *kubeconfig;  /* NULL: $KUBECONFIG, else in-cluster */
	const char *context;     /* NULL: current-context */
	char *const *namespaces; /* NULL/0: all namespaces */
	size_t nnamespaces;
	const char *metrics_bind;     /* "0.0.0.0" */
	int metrics_port;             /* 8443; -1 disables the HTTP server */
	bool metrics_secure;          /* HTTPS, /metrics for reviewed clients (httpserver.h) */
	const char *metrics_cert_dir; /* tls.crt + tls.key; NULL: self-signed */
	const char *port_name;        /* engine metrics port name or number: "http" */
	const char *metrics_path;     /* "/metrics" */
	uint64_t scrape_interval_ms;
	uint64_t scrape_timeout_ms;
	double drift_tolerance;
	bool match_prometheus;        /* for workloads without a CR (iw_defaults) */
	bool events;                  /* post Events on check transitions */
	const char *instance;         /* reportingInstance; NULL: hostname */
	bool reconcile;               /* write generated objects and status */
	const char *secret_namespace; /* scrape-config Secret; NULL: monitoring */
	const char *secret_name;      /* NULL: infermon-scrape-configs */
	uint64_t prune_grace_ms;      /* pod-only workloads; 0: 10 min */
	unsigned watch_timeout_s;     /* watches end after [t, 2t] s and resume; 0: 300 */
	/* leader election (leader.h): only the Lease holder writes */
	bool leader_elect;               /* false: this replica writes from the start */
	const char *leader_namespace;    /* NULL: $POD_NAMESPACE, else infermon-system */
	const char *leader_name;         /* NULL: infermon */
	uint64_t lease_duration_ms;      /* 0: 15 s */
	uint64_t renew_deadline_ms;      /* 0: 10 s */
	uint64_t retry_period_ms;        /* 0: 2 s */
	struct dashboard_opts dashboard; /* the dashboard ConfigMap / GrafanaDashboard */
};

void controller_opts_default(struct controller_opts *o);

/* Runs until SIGTERM/SIGINT. Returns the process exit status: 0 after a
 * clean stop, 1 when start-up failed (message logged). */
int controller_run(const struct controller_opts *o);

#endif
