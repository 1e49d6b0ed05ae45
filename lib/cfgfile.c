#include "cfgfile.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fileio.h"
#include "yamljson.h"

const char *cfg_type_desc(enum cfg_type t)
{
	switch (t) {
	case CFG_STRING:
		return "a string";
	case CFG_NAME:
		return "a name or a number";
	case CFG_NUMBER:
		return "a number";
	case CFG_DURATION:
		return "a duration (a string such as 15s, or seconds)";
	case CFG_BOOL:
		return "true or false";
	case CFG_STRING_LIST:
		return "a list of strings";
	}
	return "a value";
}

static const char *json_kind(const cJSON *v)
{
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsBool(v))
		return "a boolean";
	if (cJSON_IsArray(v))
		return "a list";
	if (cJSON_IsObject(v))
		return "a mapping";
	return "null";
}

struct walk {
	const struct yamljson_doc *doc;
	const char *source;
	const struct cfg_key *keys;
	size_t nkeys;
	cfg_set_cb set;
	void *ctx;
	struct buf *err;
};

static im_result fail_at(struct walk *w, const cJSON *node, im_result result, const char *msg)
{
	buf_reset(w->err);
	buf_printf(w->err, "%s:%d: %s", w->source, yamljson_line_of(w->doc, node), msg);
	return result;
}

/* Hands one scalar to the setter, as text. */
static im_result set_scalar(struct walk *w, const struct cfg_key *k, const cJSON *node,
			    const cJSON *v)
{
	char num[64];
	const char *text = NULL;
	struct buf msg;
	im_result result;

	switch (k->type) {
	case CFG_STRING:
	case CFG_STRING_LIST:
		if (cJSON_IsString(v))
			text = v->valuestring;
		break;
	case CFG_NAME:
		if (cJSON_IsString(v)) {
			text = v->valuestring;
		} else if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 1e15 &&
			   v->valuedouble == floor(v->valuedouble)) {
			snprintf(num, sizeof(num), "%.0f", v->valuedouble);
			text = num;
		}
		break;
	case CFG_NUMBER:
		if (cJSON_IsNumber(v)) {
			snprintf(num, sizeof(num), "%.17g", v->valuedouble);
			text = num;
		}
		break;
	case CFG_DURATION:
		if (cJSON_IsString(v)) {
			text = v->valuestring;
		} else if (cJSON_IsNumber(v)) {
			snprintf(num, sizeof(num), "%.17g", v->valuedouble);
			text = num;
		}
		break;
	case CFG_BOOL:
		if (cJSON_IsBool(v))
			text = cJSON_IsTrue(v) ? "true" : "false";
		break;
	}
	buf_init(&msg, 1024);
	if (!text) {
		if (k->type == CFG_STRING_LIST)
			buf_printf(&msg, "%s must be a list of strings, not a list holding %s",
				   k->path, json_kind(v));
		else
			buf_printf(&msg, "%s must be %s, not %s", k->path, cfg_type_desc(k->type),
				   json_kind(v));
		result = fail_at(w, v, IM_CONFIG, buf_str(&msg));
	} else if ((result = w->set(w->ctx, k, text, &msg)) != IM_OK) {
		result = fail_at(w, node, result, buf_str(&msg));
	}
	buf_release(&msg);
	return result;
}

static bool is_section(struct walk *w, const char *path)
{
	size_t n = strlen(path);

	for (size_t i = 0; i < w->nkeys; i++)
		if (strncmp(w->keys[i].path, path, n) == 0 && w->keys[i].path[n] == '.')
			return true;
	return false;
}

static im_result walk_object(struct walk *w, const cJSON *obj, const char *prefix)
{
	const cJSON *m;
	struct buf path, msg;
	im_result result = IM_OK;

	buf_init(&path, 4096);
	buf_init(&msg, 4096);
	cJSON_ArrayForEach(m, obj)
	{
		const struct cfg_key *k = NULL;

		buf_reset(&path);
		buf_reset(&msg);
		if (*prefix)
			buf_printf(&path, "%s.", prefix);
		buf_adds(&path, m->string);
		for (size_t i = 0; i < w->nkeys && !k; i++)
			if (strcmp(w->keys[i].path, buf_str(&path)) == 0)
				k = &w->keys[i];
		if (cJSON_IsNull(m)) {
			if (k || is_section(w, buf_str(&path)))
				continue; /* written without a value: the default */
		}
		if (k && k->type == CFG_STRING_LIST) {
			const cJSON *it;
			if (!cJSON_IsArray(m)) {
				buf_printf(&msg, "%s must be a list of strings, not %s", k->path,
					   json_kind(m));
				result = fail_at(w, m, IM_CONFIG, buf_str(&msg));
				break;
			}
			cJSON_ArrayForEach(it, m)
			{
				if ((result = set_scalar(w, k, m, it)) != IM_OK)
					break;
			}
			if (result)
				break;
		} else if (k) {
			if ((result = set_scalar(w, k, m, m)) != IM_OK)
				break;
		} else if (is_section(w, buf_str(&path))) {
			if (!cJSON_IsObject(m)) {
				buf_printf(&msg, "%s must be a mapping, not %s", buf_str(&path),
					   json_kind(m));
				result = fail_at(w, m, IM_CONFIG, buf_str(&msg));
				break;
			}
			if ((result = walk_object(w, m, buf_str(&path))) != IM_OK)
				break;
		} else {
			buf_adds(&msg, "unknown key ");
			buf_add_quoted(&msg, buf_str(&path), path.len, 0, 0);
			result = fail_at(w, m, IM_CONFIG, buf_str(&msg));
			break;
		}
	}
	buf_release(&path);
	buf_release(&msg);
	return result;
}

im_result cfgfile_parse(const char *data, size_t len, const char *source,
			const struct cfg_key *keys, size_t nkeys, cfg_set_cb set, void *ctx,
			struct buf *err)
{
	struct yamljson_doc *docs = NULL;
	size_t ndocs = 0;
	struct yamljson_opts opts = {.max_input = CFGFILE_MAX_BYTES, .max_depth = 16};
	struct walk w = {
		.source = source, .keys = keys, .nkeys = nkeys, .set = set, .ctx = ctx, .err = err};
	im_result result;

	if ((result = yamljson_parse(data, len, source, &opts, &docs, &ndocs, err)) != IM_OK)
		return result;
	if (ndocs > 1) {
		buf_reset(err);
		buf_printf(err, "%s:%d: a configuration file holds one document", source,
			   docs[1].line);
		result = IM_CONFIG;
	} else if (ndocs == 1 && !cJSON_IsObject(docs[0].json)) {
		buf_reset(err);
		buf_printf(err, "%s:%d: a configuration file holds a mapping of keys, not %s",
			   source, docs[0].line, json_kind(docs[0].json));
		result = IM_CONFIG;
	} else if (ndocs == 1) {
		w.doc = &docs[0];
		result = walk_object(&w, docs[0].json, "");
	}
	yamljson_docs_free(docs, ndocs);
	return result;
}

im_result cfgfile_load(const char *path, const struct cfg_key *keys, size_t nkeys, cfg_set_cb set,
		       void *ctx, struct buf *err)
{
	struct buf data;
	im_result result;

	buf_init(&data, CFGFILE_MAX_BYTES + 1);
	result = fileio_read(path, CFGFILE_MAX_BYTES, &data, err);
	if (!result)
		result = cfgfile_parse(buf_str(&data), data.len, path, keys, nkeys, set, ctx, err);
	buf_release(&data);
	return result;
}
