/*
 * The dashboard settings `infermon run` (flags and --config keys) and
 * `infermon render` (flags) share.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "kube.h"
#include "render_dashboard.h"

static int invalid(struct buf *err, const char *name, const char *v, const char *want)
{
	buf_printf(err, "invalid %s ", name);
	buf_add_quoted(err, v, strlen(v), 0, 0);
	buf_printf(err, " (%s)", want);
	return -1;
}

/* "KEY=VALUE" in place: v's '=' becomes the NUL ending the key. */
static int one_label(const char *name, char *v, struct render_label *out, struct buf *err)
{
	char *eq = strchr(v, '=');
	int rc = 0;

	if (!eq)
		return invalid(err, name, v, "KEY=VALUE");
	*eq = '\0';
	if (!kube_label_key_ok(v))
		rc = -1,
		buf_printf(err, "invalid %s \"%s=%s\": not a valid label key", name, v, eq + 1);
	else if (!kube_label_value_ok(eq + 1))
		rc = -1,
		buf_printf(err, "invalid %s \"%s=%s\": not a valid label value", name, v, eq + 1);
	else if (strcmp(v, LABEL_MANAGED_BY) == 0)
		rc = -1, buf_printf(err, "invalid %s \"%s=%s\": infermon sets that label itself",
				    name, v, eq + 1);
	if (rc) {
		*eq = '=';
		return rc;
	}
	*out = (struct render_label){v, eq + 1};
	return 0;
}

/* A switch: NULL (the flag alone) means on; else "true" or "false". */
static int switch_value(const char *name, const char *v, bool *on, struct buf *err)
{
	if (!v || strcmp(v, "true") == 0)
		*on = true;
	else if (strcmp(v, "false") == 0)
		*on = false;
	else
		return invalid(err, name, v, "true or false");
	return 0;
}

int dashboard_option(int id, char *v, const char *name, struct dashboard_opts *o, struct buf *err)
{
	bool on;

	switch (id) {
	case DASH_OPT_NAMESPACE:
		if (!kube_dns_label_ok(v))
			return invalid(err, name, v, "a namespace name");
		o->namespace = v;
		return 1;
	case DASH_OPT_LABEL:
		return one_label(name, v, &o->label, err) ? -1 : 1;
	case DASH_OPT_FOLDER: {
		size_t n = strlen(v);
		if (n == 0 || n > 253 || strpbrk(v, "/\\\n\r\t"))
			return invalid(err, name, v,
				       "1-253 characters, no slashes or control characters");
		o->folder = v;
		return 1;
	}
	case DASH_OPT_GRAFANA_OPERATOR:
		if (switch_value(name, v, &o->grafana_operator, err))
			return -1;
		return 1;
	case DASH_OPT_INSTANCE: {
		char *p = v;
		o->ninstance = 0;
		while (p) {
			char *comma = strchr(p, ',');
			if (comma)
				*comma = '\0';
			if (o->ninstance >= RENDER_MAX_SELECTOR) {
				buf_printf(err, "invalid %s: more than %d labels", name,
					   RENDER_MAX_SELECTOR);
				return -1;
			}
			if (one_label(name, p, &o->instance[o->ninstance], err))
				return -1;
			o->ninstance++;
			p = comma ? comma + 1 : NULL;
		}
		return 1;
	}
	case DASH_OPT_OFF:
		/* --no-dashboard alone, or the file's dashboard.enabled */
		if (!v) {
			o->off = true;
		} else {
			if (switch_value(name, v, &on, err))
				return -1;
			o->off = !on;
		}
		return 1;
	}
	return 0;
}
