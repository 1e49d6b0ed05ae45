#include "render_dashboard.h"

#include <string.h>

/* Defined by the source CMake generates from dashboards/llm-inference.json. */
extern const unsigned char render_dashboard_data[];
extern const size_t render_dashboard_size;

const char *render_dashboard_json(size_t *len)
{
	if (len)
		*len = render_dashboard_size;
	return (const char *)render_dashboard_data;
}

void render_dashboard_apply_opts(struct render_config *c, const struct dashboard_opts *o)
{
	c->dashboard = !o->off;
	if (o->namespace)
		c->dashboard_namespace = o->namespace;
	if (o->label.key)
		c->dashboard_label = o->label;
	if (o->folder)
		c->dashboard_folder = o->folder;
	c->grafana_operator = o->grafana_operator;
	if (o->ninstance) {
		for (size_t i = 0; i < o->ninstance && i < RENDER_MAX_SELECTOR; i++)
			c->grafana_instance[i] = o->instance[i];
		c->ngrafana_instance = o->ninstance;
	}
}

static cJSON *labels(const struct render_config *c, bool sidecar)
{
	cJSON *l = cJSON_CreateObject();

	cJSON_AddStringToObject(l, LABEL_MANAGED_BY, MANAGER_NAME);
	if (sidecar && strcmp(c->dashboard_label.key, LABEL_MANAGED_BY) != 0)
		cJSON_AddStringToObject(l, c->dashboard_label.key, c->dashboard_label.value);
	return l;
}

cJSON *render_dashboard_configmap(const struct render_config *c)
{
	cJSON *o = render_object(OWNED_CONFIGMAP, c->dashboard_namespace, c->dashboard_name,
				 labels(c, true));
	cJSON *md = cJSON_GetObjectItemCaseSensitive(o, "metadata"), *a, *data;

	/* the grafana helm chart's sidecar reads the folder from the annotation
	 * its folderAnnotation names (commonly grafana_folder); k8s-sidecar's
	 * own default is k8s-sidecar-target-directory */
	a = cJSON_AddObjectToObject(md, "annotations");
	cJSON_AddStringToObject(a, "grafana_folder", c->dashboard_folder);
	cJSON_AddStringToObject(a, "k8s-sidecar-target-directory", c->dashboard_folder);
	data = cJSON_AddObjectToObject(o, "data");
	cJSON_AddStringToObject(data, c->dashboard_key, render_dashboard_json(NULL));
	return o;
}

cJSON *render_grafana_dashboard(const struct render_config *c)
{
	cJSON *o = render_object(OWNED_GRAFANADASHBOARD, c->dashboard_namespace, c->dashboard_name,
				 labels(c, false));
	cJSON *spec = cJSON_AddObjectToObject(o, "spec"), *sel, *ml, *ref;

	sel = cJSON_AddObjectToObject(spec, "instanceSelector");
	ml = cJSON_AddObjectToObject(sel, "matchLabels");
	for (size_t i = 0; i < c->ngrafana_instance; i++)
		cJSON_AddStringToObject(ml, c->grafana_instance[i].key,
					c->grafana_instance[i].value);
	/* the Grafana instance usually lives in a namespace of its own */
	cJSON_AddBoolToObject(spec, "allowCrossNamespaceImport", true);
	cJSON_AddStringToObject(spec, "folder", c->dashboard_folder);
	ref = cJSON_AddObjectToObject(spec, "configMapRef");
	cJSON_AddStringToObject(ref, "name", c->dashboard_name);
	cJSON_AddStringToObject(ref, "key", c->dashboard_key);
	return o;
}
