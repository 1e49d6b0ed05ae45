#include "promselect.h"

#include <string.h>

#include "kube.h"
#include "objcache.h"

/* What prometheus-operator's Prometheus spec says about each kind it
 * selects, by enum promsel_kind; the kinds themselves are kube.h's. */
static const struct {
	enum owned_kind kind;
	const char *selector, *ns_selector;
} sel_kinds[] = {
	[PROMSEL_SERVICEMONITOR] = {OWNED_SERVICEMONITOR, "serviceMonitorSelector",
				    "serviceMonitorNamespaceSelector"},
	[PROMSEL_PODMONITOR] = {OWNED_PODMONITOR, "podMonitorSelector",
				"podMonitorNamespaceSelector"},
	[PROMSEL_SCRAPECONFIG] = {OWNED_SCRAPECONFIG, "scrapeConfigSelector",
				  "scrapeConfigNamespaceSelector"},
	[PROMSEL_RULE] = {OWNED_PROMETHEUSRULE, "ruleSelector", "ruleNamespaceSelector"},
};

int promsel_kind_of(const char *kind)
{
	int k = kube_owned_kind(kind);

	for (int i = 0; k >= 0 && i < (int)(sizeof(sel_kinds) / sizeof(sel_kinds[0])); i++)
		if (sel_kinds[i].kind == (enum owned_kind)k)
			return i;
	return -1;
}

static const char *label(const cJSON *labels, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(labels, key));
}

static bool in_values(const cJSON *values, const char *v)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, values)
	{
		if (cJSON_IsString(it) && strcmp(it->valuestring, v) == 0)
			return true;
	}
	return false;
}

bool labelsel_matches(const cJSON *sel, const cJSON *labels)
{
	const cJSON *it;

	if (!sel || cJSON_IsNull(sel))
		return false;
	if (!cJSON_IsObject(sel))
		return false;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(sel, "matchLabels"))
	{
		const char *have = label(labels, it->string);
		if (!cJSON_IsString(it) || !have || strcmp(have, it->valuestring) != 0)
			return false;
	}
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(sel, "matchExpressions"))
	{
		const char *key = obj_str(it, "key", NULL), *op = obj_str(it, "operator", NULL);
		const cJSON *values = cJSON_GetObjectItemCaseSensitive(it, "values");
		const char *have;

		if (!key || !op)
			return false;
		have = label(labels, key);
		if (strcmp(op, "In") == 0) {
			if (!have || !in_values(values, have))
				return false;
		} else if (strcmp(op, "NotIn") == 0) {
			if (have && in_values(values, have))
				return false;
		} else if (strcmp(op, "Exists") == 0) {
			if (!have)
				return false;
		} else if (strcmp(op, "DoesNotExist") == 0) {
			if (have)
				return false;
		} else {
			return false;
		}
	}
	return true;
}

static const cJSON *spec_field(const cJSON *prom, const char *field)
{
	return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(prom, "spec"),
						field);
}

/* Does prom look for objects of kind k in namespace ns? */
static bool admits_namespace(const cJSON *prom, enum promsel_kind k, const char *ns,
			     const cJSON *nsobj)
{
	const cJSON *sel = spec_field(prom, sel_kinds[k].ns_selector), *labels;
	const char *pns = obj_str(prom, "metadata", "namespace");
	cJSON *fallback;
	bool ok;

	if (!sel || cJSON_IsNull(sel))
		return pns && strcmp(pns, ns) == 0;
	labels = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(nsobj, "metadata"), "labels");
	if (labels)
		return labelsel_matches(sel, labels);
	fallback = cJSON_CreateObject();
	cJSON_AddStringToObject(fallback, "kubernetes.io/metadata.name", ns);
	ok = labelsel_matches(sel, fallback);
	cJSON_Delete(fallback);
	return ok;
}

bool promsel_selects(const cJSON *prom, enum promsel_kind k, const char *ns, const cJSON *nsobj,
		     const cJSON *labels)
{
	return admits_namespace(prom, k, ns, nsobj) &&
	       labelsel_matches(spec_field(prom, sel_kinds[k].selector), labels);
}

bool promsel_stamp(const cJSON *prom, enum promsel_kind k, const char *ns, const cJSON *nsobj,
		   cJSON *labels)
{
	const cJSON *sel = spec_field(prom, sel_kinds[k].selector), *it;
	cJSON *want;
	bool ok = true;

	if (!admits_namespace(prom, k, ns, nsobj) || !cJSON_IsObject(sel))
		return false;
	want = cJSON_Duplicate(labels, true);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(sel, "matchLabels"))
	{
		const char *have = label(want, it->string);
		if (!cJSON_IsString(it) || (have && strcmp(have, it->valuestring) != 0)) {
			ok = false;
			break;
		}
		if (!have)
			cJSON_AddStringToObject(want, it->string, it->valuestring);
	}
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(sel, "matchExpressions"))
	{
		const char *key = obj_str(it, "key", NULL), *op = obj_str(it, "operator", NULL);
		const cJSON *values = cJSON_GetObjectItemCaseSensitive(it, "values");

		if (!ok || !key || !op)
			break;
		if (label(want, key))
			continue; /* judged below with the rest */
		if (strcmp(op, "In") == 0 && cJSON_IsString(cJSON_GetArrayItem(values, 0)))
			cJSON_AddStringToObject(want, key,
						cJSON_GetArrayItem(values, 0)->valuestring);
		else if (strcmp(op, "Exists") == 0)
			cJSON_AddStringToObject(want, key, "true");
	}
	ok = ok && labelsel_matches(sel, want);
	if (ok) {
		cJSON_ArrayForEach(it, want)
		{
			if (!cJSON_GetObjectItemCaseSensitive(labels, it->string))
				cJSON_AddStringToObject(labels, it->string, it->valuestring);
		}
	}
	cJSON_Delete(want);
	return ok;
}

static void describe_selector(const cJSON *sel, struct buf *out)
{
	const cJSON *it;
	bool first = true;

	buf_addc(out, '{');
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(sel, "matchLabels"))
	{
		buf_printf(out, "%s%s=%s", first ? "" : ",", it->string,
			   cJSON_IsString(it) ? it->valuestring : "?");
		first = false;
	}
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(sel, "matchExpressions"))
	{
		const char *key = obj_str(it, "key", NULL), *op = obj_str(it, "operator", NULL);
		const cJSON *v;
		bool vfirst = true;

		buf_printf(out, "%s%s %s", first ? "" : ",", key ? key : "?", op ? op : "?");
		first = false;
		if (!cJSON_GetObjectItemCaseSensitive(it, "values"))
			continue;
		buf_adds(out, " (");
		cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(it, "values"))
		{
			buf_printf(out, "%s%s", vfirst ? "" : ",",
				   cJSON_IsString(v) ? v->valuestring : "?");
			vfirst = false;
		}
		buf_addc(out, ')');
	}
	buf_addc(out, '}');
}

void promsel_describe(const cJSON *prom, enum promsel_kind k, struct buf *out)
{
	const cJSON *sel = spec_field(prom, sel_kinds[k].selector);
	const cJSON *nssel = spec_field(prom, sel_kinds[k].ns_selector);
	const char *pns = obj_str(prom, "metadata", "namespace");
	const char *name = obj_str(prom, "metadata", "name");

	buf_printf(out, "%s/%s ", pns ? pns : "", name ? name : "");
	if (!sel || cJSON_IsNull(sel)) {
		buf_printf(out, "selects no %ss (%s is not set)",
			   kube_owned[sel_kinds[k].kind].kind, sel_kinds[k].selector);
		return;
	}
	buf_printf(out, "selects %ss ", kube_owned[sel_kinds[k].kind].kind);
	describe_selector(sel, out);
	if (!nssel || cJSON_IsNull(nssel))
		buf_printf(out, " in its own namespace %s", pns ? pns : "");
	else if (!cJSON_GetObjectItemCaseSensitive(nssel, "matchLabels") &&
		 !cJSON_GetObjectItemCaseSensitive(nssel, "matchExpressions"))
		buf_adds(out, " in every namespace");
	else {
		buf_adds(out, " in namespaces ");
		describe_selector(nssel, out);
	}
}

cJSON *promsel_find_monitor(cJSON *objs, enum promsel_kind *k)
{
	cJSON *o;

	cJSON_ArrayForEach(o, objs)
	{
		int kind = promsel_kind_of(obj_str(o, "kind", NULL));
		if (kind == PROMSEL_SERVICEMONITOR || kind == PROMSEL_PODMONITOR) {
			*k = (enum promsel_kind)kind;
			return o;
		}
	}
	return NULL;
}

cJSON *promsel_monitor_labels(cJSON *monitor)
{
	cJSON *md = cJSON_GetObjectItemCaseSensitive(monitor, "metadata"), *labels;

	if (!md)
		md = cJSON_AddObjectToObject(monitor, "metadata");
	labels = cJSON_GetObjectItemCaseSensitive(md, "labels");
	return labels ? labels : cJSON_AddObjectToObject(md, "labels");
}

void promsel_stamp_all(cJSON *monitor, enum promsel_kind k, const cJSON *const *proms, size_t n,
		       const char *ns, const cJSON *nsobj)
{
	cJSON *labels = promsel_monitor_labels(monitor);

	for (size_t i = 0; i < n; i++)
		promsel_stamp(proms[i], k, ns, nsobj, labels);
}

void promsel_stamp_objects(cJSON *objs, const cJSON *const *proms, size_t n, const char *ns,
			   const cJSON *nsobj)
{
	cJSON *o;

	cJSON_ArrayForEach(o, objs)
	{
		int k = promsel_kind_of(obj_str(o, "kind", NULL));
		if (k >= 0)
			promsel_stamp_all(o, (enum promsel_kind)k, proms, n, ns, nsobj);
	}
}
