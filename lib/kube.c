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
