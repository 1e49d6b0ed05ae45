/*
 * kube.h - the Kubernetes names infermon speaks, written once: the API
 * group/versions it reads and writes, and the table of the kinds it writes
 * (kind, apiVersion, REST path, resource), which the reconciler (paths and
 * resources), render (apiVersion and kind of every object) and promselect
 * (which kind a generated object is) all read.
 *
 * Constants and one read-only table; any thread.
 */
#ifndef INFERMON_KUBE_H
#define INFERMON_KUBE_H

#include <stdbool.h>
#include <stddef.h>

/* apiVersion values */
#define KUBE_GV_CORE "v1"
#define KUBE_GV_INFERMON "infermon.io/v1alpha1"
#define KUBE_GV_MONITORING "monitoring.coreos.com/v1"
#define KUBE_GV_MONITORING_ALPHA "monitoring.coreos.com/v1alpha1"
#define KUBE_GV_GRAFANA "grafana.integreatly.org/v1beta1"
#define KUBE_GV_EVENTS "events.k8s.io/v1"
#define KUBE_GV_COORDINATION "coordination.k8s.io/v1"
#define KUBE_GV_AUTHENTICATION "authentication.k8s.io/v1"
#define KUBE_GV_AUTHORIZATION "authorization.k8s.io/v1"

/* The REST path of a group/version: the core group is served under /api,
 * every named group under /apis. KUBE_PATH takes a string literal. */
#define KUBE_PATH_CORE "/api/" KUBE_GV_CORE
#define KUBE_PATH(gv) "/apis/" gv

/* The kinds infermon writes (and so owns, watches and prunes). */
enum owned_kind {
	OWNED_SERVICE,
	OWNED_SERVICEMONITOR,
	OWNED_PODMONITOR,
	OWNED_SCRAPECONFIG,
	OWNED_SECRET,
	OWNED_PROMETHEUSRULE,
	OWNED_CONFIGMAP,
	OWNED_GRAFANADASHBOARD,
	OWNED_COUNT
};

struct kube_kind {
	const char *kind;        /* "ServiceMonitor" */
	const char *api_version; /* "monitoring.coreos.com/v1" */
	const char *path;        /* "/apis/monitoring.coreos.com/v1" */
	const char *resource;    /* "servicemonitors" */
};

/* Indexed by enum owned_kind. */
extern const struct kube_kind kube_owned[OWNED_COUNT];

/* The owned kind a "kind" value names (NULL allowed), or -1. */
int kube_owned_kind(const char *kind);

/* Kubernetes' rules for names and labels, the one validator of each (the
 * spec decoder and the flags call them):
 *   label value  "" or up to 63 of [A-Za-z0-9._-], alphanumeric at both ends
 *   label key    [DNS subdomain "/"] name, the name as a non-empty value
 *   DNS label    (namespace names) 1 to 63 of [a-z0-9-], no '-' at an end
 *   DNS subdomain (Secret names, key prefixes) p[0..n): 1 to 253 of
 *                [a-z0-9.-], alphanumeric at both ends */
bool kube_label_value_ok(const char *v);
bool kube_label_key_ok(const char *k);
bool kube_dns_label_ok(const char *s);
bool kube_dns_subdomain_ok(const char *p, size_t n);

#endif
