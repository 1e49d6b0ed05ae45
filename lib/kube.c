#include "kube.h"

#include <string.h>

const struct kube_kind kube_owned[OWNED_COUNT] = {
	[OWNED_SERVICE] = {"Service", KUBE_GV_CORE, KUBE_PATH_CORE, "services"},
	[OWNED_SERVICEMONITOR] = {"ServiceMonitor", KUBE_GV_MONITORING,
				  KUBE_PATH(KUBE_GV_MONITORING), "servicemonitors"},
	[OWNED_PODMONITOR] = {"PodMonitor", KUBE_GV_MONITORING, KUBE_PATH(KUBE_GV_MONITORING),
			      "podmonitors"},
	[OWNED_SCRAPECONFIG] = {"ScrapeConfig", KUBE_GV_MONITORING_ALPHA,
				KUBE_PATH(KUBE_GV_MONITORING_ALPHA), "scrapeconfigs"},
	[OWNED_SECRET] = {"Secret", KUBE_GV_CORE, KUBE_PATH_CORE, "secrets"},
	[OWNED_PROMETHEUSRULE] = {"PrometheusRule", KUBE_GV_MONITORING,
				  KUBE_PATH(KUBE_GV_MONITORING), "prometheusrules"},
	[OWNED_CONFIGMAP] = {"ConfigMap", KUBE_GV_CORE, KUBE_PATH_CORE, "configmaps"},
	[OWNED_GRAFANADASHBOARD] = {"GrafanaDashboard", KUBE_GV_GRAFANA, KUBE_PATH(KUBE_GV_GRAFANA),
				    "grafanadashboards"},
};

int kube_owned_kind(const char *kind)
{
	for (int i = 0; kind && i < OWNED_COUNT; i++)
		if (strcmp(kube_owned[i].kind, kind) == 0)
			return i;
	return -1;
}

/* ---- names and labels ---- */

static bool alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool kube_label_value_ok(const char *v)
{
	size_t n = strlen(v);

	if (n == 0)
		return true;
	if (n > 63 || !alnum(v[0]) || !alnum(v[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!alnum(v[i]) && v[i] != '-' && v[i] != '_' && v[i] != '.')
			return false;
	return true;
}

bool kube_dns_subdomain_ok(const char *p, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return false;
	}
	return alnum(p[0]) && alnum(p[n - 1]);
}

bool kube_label_key_ok(const char *k)
{
	const char *slash = strchr(k, '/');
	const char *name = slash ? slash + 1 : k;

	if (slash && !kube_dns_subdomain_ok(k, (size_t)(slash - k)))
		return false;
	return *name && strlen(name) <= 63 && kube_label_value_ok(name);
}

bool kube_dns_label_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}
