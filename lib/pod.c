#include "pod.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "args.h"
#include "objcache.h"
#include "strparse.h"

/* Caps on what one pod may bring: more is an odd pod, rejected by name. */
#define MAX_LABELS 256
#define MAX_CONTAINERS 64
#define MAX_PORTS 128
#define MAX_ARGS 4096
#define MAX_STR (64 * 1024)

static const cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = get(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static char *dup_or_null(const char *s)
{
	return s ? im_xstrdup(s) : NULL;
}

static int cmp_kv(const void *a, const void *b)
{
	return strcmp(((const struct kv *)a)->key, ((const struct kv *)b)->key);
}

/* Frees what pod_decode built piece by piece. */
static void free_pieces(struct pod *p)
{
	im_free(p->namespace);
	im_free(p->name);
	im_free(p->uid);
	im_free(p->resource_version);
	for (size_t i = 0; i < p->nlabels; i++) {
		im_free(p->labels[i].key);
		im_free(p->labels[i].value);
	}
	im_free(p->labels);
	im_free(p->pod_ip);
	if (p->pod_ips)
		for (char **s = p->pod_ips; *s; s++)
			im_free(*s);
	im_free(p->pod_ips);
	im_free(p->phase);
	for (size_t i = 0; i < p->ncontainers; i++) {
		struct pod_container *c = &p->containers[i];
		im_free(c->name);
		for (size_t j = 0; j < c->nports; j++) {
			im_free(c->ports[j].name);
			im_free(c->ports[j].protocol);
		}
		im_free(c->ports);
		for (size_t j = 0; j < c->argc; j++)
			im_free(c->argv[j]);
		im_free(c->argv);
	}
	im_free(p->containers);
	im_free(p->owner_kind);
	im_free(p->owner_name);
	im_free(p->owner_uid);
	im_free(p);
}

void pod_free(struct pod *p)
{
	im_free(p); /* packed: the pod is one block */
}

/* ---- one block a pod ----
 * A decoded pod was some twenty small allocations (each string, each
 * array), most of them smaller than the allocator's per-block overhead;
 * with thousands of pods cached that overhead was megabytes. So the
 * decoded pod is copied into one block: the struct, then its arrays
 * (pointer-aligned: every element type is a multiple of 8 bytes), then its
 * strings. pack() runs twice: measuring (copy false), then copying. */
struct packer {
	bool copy;
	char *arr, *str;   /* copying: next free array and string byte */
	size_t narr, nstr; /* measuring: bytes needed */
};

static char *pk_str(struct packer *k, const char *s)
{
	size_t n;
	char *r;

	if (!s)
		return NULL;
	n = strlen(s) + 1;
	if (!k->copy) {
		k->nstr += n;
		return NULL;
	}
	r = k->str;
	memcpy(r, s, n);
	k->str += n;
	return r;
}

static void *pk_arr(struct packer *k, const void *src, size_t bytes)
{
	void *r;

	if (!src)
		return NULL;
	if (!k->copy) {
		k->narr += bytes;
		return NULL;
	}
	r = k->arr;
	memcpy(r, src, bytes);
	k->arr += bytes;
	return r;
}

/* Measures src (dst NULL) or copies it into dst (k->copy). */
static void pack(struct packer *k, const struct pod *src, struct pod *dst)
{
	struct pod tmp, *d = dst ? dst : &tmp;
	size_t nips = 0;

	*d = *src;
	d->namespace = pk_str(k, src->namespace);
	d->name = pk_str(k, src->name);
	d->uid = pk_str(k, src->uid);
	d->resource_version = pk_str(k, src->resource_version);
	d->labels = pk_arr(k, src->labels, src->nlabels * sizeof(*src->labels));
	for (size_t i = 0; i < src->nlabels; i++) {
		char *key = pk_str(k, src->labels[i].key), *value = pk_str(k, src->labels[i].value);
		if (k->copy) {
			d->labels[i].key = key;
			d->labels[i].value = value;
		}
	}
	d->pod_ip = pk_str(k, src->pod_ip);
	if (src->pod_ips)
		while (src->pod_ips[nips])
			nips++;
	d->pod_ips = pk_arr(k, src->pod_ips, (nips + 1) * sizeof(char *));
	for (size_t i = 0; i < nips; i++) {
		char *ip = pk_str(k, src->pod_ips[i]);
		if (k->copy)
			d->pod_ips[i] = ip;
	}
	d->phase = pk_str(k, src->phase);
	d->containers = pk_arr(k, src->containers, src->ncontainers * sizeof(*src->containers));
	for (size_t i = 0; i < src->ncontainers; i++) {
		const struct pod_container *sc = &src->containers[i];
		struct pod_container tc, *dc = k->copy ? &d->containers[i] : &tc;

		dc->name = pk_str(k, sc->name);
		dc->ports = pk_arr(k, sc->ports, sc->nports * sizeof(*sc->ports));
		for (size_t j = 0; j < sc->nports; j++) {
			char *name = pk_str(k, sc->ports[j].name);
			char *protocol = pk_str(k, sc->ports[j].protocol);
			if (k->copy) {
				dc->ports[j].name = name;
				dc->ports[j].protocol = protocol;
			}
		}
		dc->argv = pk_arr(k, sc->argv, (sc->argc + 1) * sizeof(char *));
		for (size_t j = 0; j < sc->argc; j++) {
			char *a = pk_str(k, sc->argv[j]);
			if (k->copy)
				dc->argv[j] = a;
		}
	}
	d->owner_kind = pk_str(k, src->owner_kind);
	d->owner_name = pk_str(k, src->owner_name);
	d->owner_uid = pk_str(k, src->owner_uid);
}

/* p as one block; frees p's pieces. */
static struct pod *pack_pod(struct pod *p)
{
	struct packer k = {0};
	struct pod *q;

	pack(&k, p, NULL);
	q = im_xmalloc(sizeof(*q) + k.narr + k.nstr);
	k.copy = true;
	k.arr = (char *)(q + 1);
	k.str = k.arr + k.narr;
	pack(&k, p, q);
	free_pieces(p);
	return q;
}

static im_result fail(struct pod *p, struct buf *err, const char *what)
{
	buf_printf(err, "pod %s/%s: %s", p->namespace ? p->namespace : "?", p->name ? p->name : "?",
		   what);
	free_pieces(p);
	return IM_PARSE;
}

static im_result decode_container(struct pod *p, const cJSON *c, struct pod_container *out,
				  struct buf *err)
{
	const cJSON *ports = get(c, "ports"), *it;
	const char *lists[2] = {"command", "args"};
	size_t n = 0;

	out->name = dup_or_null(str(c, "name"));
	if (!out->name)
		return IM_PARSE;
	if (cJSON_IsArray(ports)) {
		int np = cJSON_GetArraySize(ports);
		if (np > MAX_PORTS)
			return IM_TOOBIG;
		out->ports = im_xcalloc((size_t)np, sizeof(*out->ports));
		cJSON_ArrayForEach(it, ports)
		{
			const cJSON *cp = get(it, "containerPort");
			struct pod_port *pp = &out->ports[out->nports];
			if (!cJSON_IsNumber(cp) || cp->valuedouble < 1 || cp->valuedouble > 65535)
				return IM_PARSE;
			pp->port = (int)cp->valuedouble;
			pp->name = dup_or_null(str(it, "name"));
			pp->protocol = im_xstrdup(str(it, "protocol") ? str(it, "protocol")
								      : "TCP");
			out->nports++;
		}
	}
	for (int l = 0; l < 2; l++)
		if (cJSON_IsArray(get(c, lists[l])))
			n += (size_t)cJSON_GetArraySize(get(c, lists[l]));
	if (n > MAX_ARGS)
		return IM_TOOBIG;
	out->argv = im_xcalloc(n + 1, sizeof(char *));
	for (int l = 0; l < 2; l++) {
		cJSON_ArrayForEach(it, get(c, lists[l]))
		{
			if (!cJSON_IsString(it))
				return IM_PARSE;
			if (strlen(it->valuestring) > MAX_STR)
				return IM_TOOBIG;
			out->argv[out->argc++] = im_xstrdup(it->valuestring);
		}
	}
	(void)p;
	(void)err;
	return IM_OK;
}

im_result pod_decode(const cJSON *obj, struct pod **out, struct buf *err)
{
	struct pod *p = im_xcalloc(1, sizeof(*p));
	const cJSON *md = get(obj, "metadata"), *spec = get(obj, "spec"), *st = get(obj, "status");
	const cJSON *labels, *it;
	im_result result;

	p->namespace = dup_or_null(str(md, "namespace"));
	p->name = dup_or_null(str(md, "name"));
	if (!cJSON_IsObject(md) || !p->namespace || !p->name)
		return fail(p, err, "metadata.namespace and metadata.name are required");
	p->uid = im_xstrdup(str(md, "uid") ? str(md, "uid") : "");
	p->resource_version = im_xstrdup(str(md, "resourceVersion") ? str(md, "resourceVersion")
								    : "");
	p->deleting = str(md, "deletionTimestamp") != NULL;

	labels = get(md, "labels");
	if (cJSON_IsObject(labels)) {
		int n = cJSON_GetArraySize(labels);
		if (n > MAX_LABELS)
			return fail(p, err, "more than 256 labels");
		p->labels = im_xcalloc((size_t)n, sizeof(*p->labels));
		cJSON_ArrayForEach(it, labels)
		{
			if (!cJSON_IsString(it) || strlen(it->valuestring) > MAX_STR)
				return fail(p, err, "metadata.labels: value is not a string");
			p->labels[p->nlabels].key = im_xstrdup(it->string);
			p->labels[p->nlabels].value = im_xstrdup(it->valuestring);
			p->nlabels++;
		}
		qsort(p->labels, p->nlabels, sizeof(*p->labels), cmp_kv);
	}

	cJSON_ArrayForEach(it, get(md, "ownerReferences"))
	{
		if (cJSON_IsTrue(get(it, "controller"))) {
			p->owner_kind = dup_or_null(str(it, "kind"));
			p->owner_name = dup_or_null(str(it, "name"));
			p->owner_uid = dup_or_null(str(it, "uid"));
			break;
		}
	}

	if (cJSON_IsObject(spec)) {
		const cJSON *cs = get(spec, "containers");
		int n = cJSON_IsArray(cs) ? cJSON_GetArraySize(cs) : 0;
		if (n > MAX_CONTAINERS)
			return fail(p, err, "more than 64 containers");
		p->containers = im_xcalloc((size_t)n, sizeof(*p->containers));
		cJSON_ArrayForEach(it, cs)
		{
			result = decode_container(p, it, &p->containers[p->ncontainers], err);
			p->ncontainers++;
			if (result == IM_TOOBIG)
				return fail(p, err, "spec.containers: too many ports or arguments");
			if (result)
				return fail(p, err,
					    "spec.containers: invalid name, port or argument");
		}
	}

	p->phase = im_xstrdup(str(st, "phase") ? str(st, "phase") : "Unknown");
	p->pod_ip = dup_or_null(str(st, "podIP"));
	{
		const cJSON *ips = get(st, "podIPs");
		int n = cJSON_IsArray(ips) ? cJSON_GetArraySize(ips) : 0, i = 0;
		if (n > 16)
			n = 16;
		p->pod_ips = im_xcalloc((size_t)n + 1, sizeof(char *));
		cJSON_ArrayForEach(it, ips)
		{
			if (i < n && str(it, "ip"))
				p->pod_ips[i++] = im_xstrdup(str(it, "ip"));
		}
	}
	cJSON_ArrayForEach(it, get(st, "conditions"))
	{
		const char *t = str(it, "type"), *s = str(it, "status");
		if (t && s && strcmp(t, "Ready") == 0)
			p->ready = strcmp(s, "True") == 0;
	}
	*out = pack_pod(p);
	return IM_OK;
}

const char *pod_label(const struct pod *p, const char *key)
{
	struct kv k = {.key = (char *)key}, *hit;

	if (!p->nlabels)
		return NULL;
	hit = bsearch(&k, p->labels, p->nlabels, sizeof(k), cmp_kv);
	return hit ? hit->value : NULL;
}

void pod_key(const struct pod *p, struct buf *b)
{
	obj_key(b, p->namespace, p->name);
}

const char *pod_workload(const struct pod *p)
{
	const char *w = pod_label(p, LABEL_WORKLOAD);
	return w && *w ? w : NULL;
}

const char *pod_backend(const struct pod *p)
{
	const char *b = pod_label(p, LABEL_BACKEND);
	return b && *b ? b : NULL;
}

static bool str_differs(const char *a, const char *b)
{
	if (!a || !b)
		return a != b;
	return strcmp(a, b) != 0;
}

bool pod_differs(const struct pod *a, const struct pod *b)
{
	if (a->nlabels != b->nlabels || a->ncontainers != b->ncontainers || a->ready != b->ready ||
	    a->deleting != b->deleting || str_differs(a->pod_ip, b->pod_ip) ||
	    str_differs(a->phase, b->phase) || str_differs(a->uid, b->uid) ||
	    str_differs(a->owner_uid, b->owner_uid))
		return true;
	for (size_t i = 0; i < a->nlabels; i++)
		if (strcmp(a->labels[i].key, b->labels[i].key) ||
		    strcmp(a->labels[i].value, b->labels[i].value))
			return true;
	for (size_t i = 0; i < a->ncontainers; i++) {
		const struct pod_container *x = &a->containers[i], *y = &b->containers[i];
		if (strcmp(x->name, y->name) || x->nports != y->nports || x->argc != y->argc)
			return true;
		for (size_t j = 0; j < x->nports; j++)
			if (x->ports[j].port != y->ports[j].port ||
			    str_differs(x->ports[j].name, y->ports[j].name))
				return true;
		for (size_t j = 0; j < x->argc; j++)
			if (strcmp(x->argv[j], y->argv[j]))
				return true;
	}
	return false;
}

const char *pod_role(const struct pod *p)
{
	static const char *const labels[] = {"llm-d.ai/role",
					     "rolebasedgroup.workloads.x-k8s.io/role"};
	char word[16];

	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
		const char *v = pod_label(p, labels[i]);
		if (!v)
			continue;
		if (strcmp(v, "prefill") == 0 || strcmp(v, "decode") == 0)
			return strcmp(v, "prefill") == 0 ? "prefill" : "decode";
		if (strcmp(v, "both") == 0 || strcmp(v, "prefill-decode") == 0)
			return "both";
	}
	for (size_t i = 0; i < p->ncontainers; i++) {
		const struct pod_container *c = &p->containers[i];
		if (args_flag_contains(c->argv, c->argc, "--kv-transfer-config", "kv_producer"))
			return "prefill";
		if (args_flag_contains(c->argv, c->argc, "--kv-transfer-config", "kv_consumer"))
			return "decode";
		if (args_flag_contains(c->argv, c->argc, "--kv-transfer-config", "kv_both"))
			return "both";
		if (args_find_word(c->argv, c->argc, "--disaggregation-mode", word, sizeof(word))) {
			if (strcmp(word, "prefill") == 0)
				return "prefill";
			if (strcmp(word, "decode") == 0)
				return "decode";
		}
	}
	return "";
}

bool pod_is_leader(const struct pod *p)
{
	const char *w = pod_label(p, "leaderworkerset.sigs.k8s.io/worker-index");
	return !w || strcmp(w, "0") == 0;
}

int pod_port(const struct pod *p, const char *name)
{
	uint64_t n;
	size_t total = 0;
	int only = 0;

	if (strparse_u64(name, strlen(name), 65535, &n) == IM_OK)
		return n > 0 ? (int)n : 0;
	for (size_t i = 0; i < p->ncontainers; i++)
		for (size_t j = 0; j < p->containers[i].nports; j++) {
			const struct pod_port *pp = &p->containers[i].ports[j];
			if (pp->name && strcmp(pp->name, name) == 0)
				return pp->port;
			total++;
			only = pp->port;
		}
	return total == 1 ? only : 0;
}

im_result pod_arg_uint(const struct pod *p, const char *flag, uint64_t max, uint64_t *out)
{
	im_result last = IM_NOTFOUND;

	for (size_t i = 0; i < p->ncontainers; i++) {
		im_result r = args_find_uint(p->containers[i].argv, p->containers[i].argc, flag,
					     max, out);
		if (r == IM_OK)
			return IM_OK;
		if (r != IM_NOTFOUND)
			last = r;
	}
	return last;
}
