#include "render_object.h"

#include <stdint.h>
#include <stdio.h>

void render_object_name(const char *workload, char *name, size_t len)
{
	char clean[64];
	size_t n = 0;
	bool changed = false;
	uint32_t h = 2166136261u;

	for (const char *p = workload; *p; p++) {
		char ch = *p;
		h = (h ^ (unsigned char)ch) * 16777619u;
		if (ch >= 'A' && ch <= 'Z') {
			ch = (char)(ch - 'A' + 'a');
			changed = true;
		} else if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-')) {
			ch = '-';
			changed = true;
		}
		if (n < 40)
			clean[n++] = ch;
		else
			changed = true;
	}
	while (n > 0 && clean[n - 1] == '-')
		n--, changed = true;
	clean[n] = '\0';
	if (changed)
		snprintf(name, len, "infermon-%s-%08x", clean, h);
	else
		snprintf(name, len, "infermon-%s", clean);
}

cJSON *render_labels(const struct iwspec *s, bool monitor)
{
	cJSON *l = cJSON_CreateObject();

	cJSON_AddStringToObject(l, LABEL_MANAGED_BY, MANAGER_NAME);
	cJSON_AddStringToObject(l, LABEL_IW_WORKLOAD, s->workload);
	if (monitor)
		for (size_t i = 0; i < s->nmonitor_labels; i++)
			if (!cJSON_GetObjectItemCaseSensitive(l, s->monitor_labels[i].key))
				cJSON_AddStringToObject(l, s->monitor_labels[i].key,
							s->monitor_labels[i].value);
	return l;
}

cJSON *render_object(enum owned_kind k, const char *ns, const char *name, cJSON *labels)
{
	cJSON *o = cJSON_CreateObject(), *md;

	cJSON_AddStringToObject(o, "apiVersion", kube_owned[k].api_version);
	cJSON_AddStringToObject(o, "kind", kube_owned[k].kind);
	md = cJSON_AddObjectToObject(o, "metadata");
	cJSON_AddStringToObject(md, "name", name);
	if (ns)
		cJSON_AddStringToObject(md, "namespace", ns);
	cJSON_AddItemToObject(md, "labels", labels);
	return o;
}
