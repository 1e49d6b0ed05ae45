#include "objcache.h"

#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "reflector.h"

/* The objects of one group (objcache_group_by). */
struct objcache_group {
	size_t n, cap;
	const cJSON *objs[];
};

void objcache_init(struct objcache *c, objcache_cb cb, void *ctx)
{
	hmap_init(&c->objs);
	hmap_init(&c->shared);
	hmap_init(&c->groups);
	c->group_label = NULL;
	c->cb = cb;
	c->ctx = ctx;
}

void objcache_group_by(struct objcache *c, const char *label)
{
	c->group_label = label;
}

void objcache_release(struct objcache *c)
{
	for (struct hmap_entry *e = hmap_first(&c->objs); e; e = hmap_next(&c->objs, e))
		objcache_free(c, e->value);
	hmap_release(&c->objs);
	hmap_release(&c->shared); /* empty: the objects let go of every list */
	for (struct hmap_entry *e = hmap_first(&c->groups); e; e = hmap_next(&c->groups, e))
		im_free(e->value);
	hmap_release(&c->groups);
}

/* o's group key into b; false when c is not grouped or o has no label. */
static bool group_key(const struct objcache *c, const cJSON *o, struct buf *b)
{
	const char *v = c->group_label ? obj_label(o, c->group_label) : NULL;

	if (!v)
		return false;
	obj_key(b, obj_str(o, "metadata", "namespace"), v);
	return true;
}

static void group_add(struct objcache *c, const cJSON *o)
{
	struct buf k;
	struct objcache_group *g;

	buf_init(&k, BUF_MAX_SMALL);
	if (group_key(c, o, &k)) {
		g = hmap_get(&c->groups, k.ptr);
		if (!g || g->n == g->cap) {
			size_t cap = g ? g->cap * 2 : 4, n = g ? g->n : 0;
			g = im_xrealloc(g, sizeof(*g) + cap * sizeof(g->objs[0]));
			g->n = n;
			g->cap = cap;
			hmap_put(&c->groups, k.ptr, g);
		}
		g->objs[g->n++] = o;
	}
	buf_release(&k);
}

static void group_remove(struct objcache *c, const cJSON *o)
{
	struct buf k;
	struct objcache_group *g;

	buf_init(&k, BUF_MAX_SMALL);
	if (group_key(c, o, &k) && (g = hmap_get(&c->groups, k.ptr)) != NULL) {
		for (size_t i = 0; i < g->n; i++)
			if (g->objs[i] == o) {
				g->objs[i] = g->objs[--g->n];
				break;
			}
		if (g->n == 0)
			im_free(hmap_del(&c->groups, k.ptr));
	}
	buf_release(&k);
}

const cJSON *const *objcache_group(const struct objcache *c, const char *ns, const char *value,
				   size_t *n)
{
	struct buf k;
	const struct objcache_group *g;

	buf_init(&k, BUF_MAX_SMALL);
	g = hmap_get(&c->groups, obj_key(&k, ns, value));
	buf_release(&k);
	*n = g ? g->n : 0;
	return g ? g->objs : NULL;
}

/* ---- one block an object ----
 *
 * A frozen object is one block: [the shared lists it holds][their number]
 * [its cJSON nodes][their strings], the root node after the count. An
 * array of SHARE_MIN_NODES nodes or more (below the root) is not copied
 * but shared: every cache keeps one frozen copy of each such array, by its
 * text, and the objects that hold it point their array node's child at
 * that copy's children (every generated ServiceMonitor's endpoints, with
 * their relabelings, read the same). */
#define SHARE_MIN_NODES 16

struct shared_list {
	size_t refs;   /* objects holding it */
	cJSON *frozen; /* the array, frozen on its own */
	char *key;     /* its text: the key in the cache's shared map */
};

/* What a copy leaves out: the managedFields of the object's metadata. */
enum frozen_at { AT_OTHER, AT_ROOT, AT_METADATA };

static bool left_out(const cJSON *item, enum frozen_at at)
{
	return at == AT_METADATA && item->string && strcmp(item->string, "managedFields") == 0;
}

static enum frozen_at child_at(const cJSON *child, enum frozen_at at)
{
	return at == AT_ROOT && child->string && strcmp(child->string, "metadata") == 0
		       ? AT_METADATA
		       : AT_OTHER;
}

struct frozen {
	struct objcache *c;         /* whose shared lists; NULL: none */
	struct shared_list **use;   /* the lists held, in the order met */
	size_t nuse, capuse, taken; /* taken: used up by the copy so far */
	cJSON *node;                /* copying: next free node */
	char *str;                  /* copying: next free string byte */
};

static size_t subtree_nodes(const cJSON *o, size_t stop)
{
	size_t n = 1;

	for (const cJSON *c = o->child; c && n < stop; c = c->next)
		n += subtree_nodes(c, stop - n);
	return n;
}

static bool shared_here(const struct frozen *f, const cJSON *o, enum frozen_at at)
{
	return f->c && at == AT_OTHER && cJSON_IsArray(o) &&
	       subtree_nodes(o, SHARE_MIN_NODES) >= SHARE_MIN_NODES;
}

static struct shared_list *list_hold(struct objcache *c, const cJSON *array)
{
	char *text = cJSON_PrintUnformatted(array);
	struct shared_list *l = hmap_get(&c->shared, text);

	if (!l) {
		l = im_xcalloc(1, sizeof(*l));
		l->frozen = objcache_freeze(NULL, array);
		l->key = im_xstrdup(text);
		hmap_put(&c->shared, text, l);
	}
	cJSON_free(text);
	l->refs++;
	return l;
}

static void list_drop(struct objcache *c, struct shared_list *l)
{
	if (--l->refs)
		return;
	hmap_del(&c->shared, l->key);
	objcache_free(NULL, l->frozen);
	im_free(l->key);
	im_free(l);
}

static void measure(struct frozen *f, const cJSON *o, enum frozen_at at, size_t *nodes,
		    size_t *bytes)
{
	(*nodes)++;
	if (o->string)
		*bytes += strlen(o->string) + 1;
	if (o->valuestring)
		*bytes += strlen(o->valuestring) + 1;
	if (shared_here(f, o, at)) {
		if (f->nuse == f->capuse) {
			f->capuse = f->capuse ? f->capuse * 2 : 4;
			f->use = im_xrealloc(f->use, f->capuse * sizeof(*f->use));
		}
		f->use[f->nuse++] = list_hold(f->c, o);
		return;
	}
	for (const cJSON *c = o->child; c; c = c->next)
		if (!left_out(c, at))
			measure(f, c, child_at(c, at), nodes, bytes);
}

static char *frozen_str(struct frozen *f, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = f->str;

	memcpy(p, s, n);
	f->str += n;
	return p;
}

static cJSON *frozen_copy(struct frozen *f, const cJSON *o, enum frozen_at at)
{
	cJSON *n = f->node++, *last = NULL;

	memset(n, 0, sizeof(*n));
	n->type = o->type;
	n->valueint = o->valueint;
	n->valuedouble = o->valuedouble;
	if (o->string)
		n->string = frozen_str(f, o->string);
	if (o->valuestring)
		n->valuestring = frozen_str(f, o->valuestring);
	if (shared_here(f, o, at)) { /* as measure decided, in the same order */
		n->child = f->use[f->taken++]->frozen->child;
		return n;
	}
	for (const cJSON *c = o->child; c; c = c->next) {
		cJSON *k;
		if (left_out(c, at))
			continue;
		k = frozen_copy(f, c, child_at(c, at));
		if (last) {
			last->next = k;
			k->prev = last;
		} else {
			n->child = k;
		}
		last = k;
	}
	if (n->child)
		n->child->prev = last; /* as cJSON keeps it: the first's prev is the last */
	return n;
}

cJSON *objcache_freeze(struct objcache *c, const cJSON *o)
{
	size_t nodes = 0, bytes = 0, head;
	struct frozen f = {.c = c};
	char *block;
	cJSON *root;

	measure(&f, o, AT_ROOT, &nodes, &bytes);
	head = f.nuse * sizeof(*f.use) + sizeof(size_t);
	block = im_xmalloc(head + nodes * sizeof(cJSON) + bytes);
	if (f.nuse)
		memcpy(block, f.use, f.nuse * sizeof(*f.use));
	memcpy(block + f.nuse * sizeof(*f.use), &f.nuse, sizeof(size_t));
	root = (cJSON *)(block + head);
	f.node = root;
	f.str = (char *)(root + nodes);
	frozen_copy(&f, o, AT_ROOT);
	im_free(f.use);
	root->next = root->prev = NULL; /* o may be an item of a list */
	root->string = NULL;
	return root;
}

void objcache_free(struct objcache *c, cJSON *frozen)
{
	size_t n;
	struct shared_list **use;

	if (!frozen)
		return;
	memcpy(&n, (char *)frozen - sizeof(size_t), sizeof(n));
	use = (struct shared_list **)((char *)frozen - sizeof(size_t)) - n;
	for (size_t i = 0; i < n; i++)
		list_drop(c, use[i]);
	im_free(use);
}

const char *obj_str(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
	if (b)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	return cJSON_GetStringValue(v);
}

const char *obj_label(const cJSON *o, const char *key)
{
	const cJSON *l = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(o, "metadata"), "labels");
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(l, key));
}

static bool key_of(const cJSON *o, struct buf *b)
{
	const char *ns = obj_str(o, "metadata", "namespace"),
		   *name = obj_str(o, "metadata", "name");

	buf_reset(b);
	if (!name)
		return false;
	obj_key(b, ns, name);
	return true;
}

const char *obj_key(struct buf *b, const char *ns, const char *name)
{
	buf_reset(b);
	buf_printf(b, "%s/%s", ns ? ns : "", name ? name : "");
	return buf_str(b);
}

/* What the cache keeps of o: a copy without managedFields (nothing reads
 * them; on a generated object they are as large as the object), as
 * client-go's cache transforms do. NULL when o has no name. */
static cJSON *kept_copy(struct objcache *c, const cJSON *o)
{
	return obj_str(o, "metadata", "name") ? objcache_freeze(c, o) : NULL;
}

/* Takes copy (from kept_copy). */
static void put_copy(struct objcache *c, cJSON *copy)
{
	struct buf k;
	cJSON *old;

	buf_init(&k, BUF_MAX_SMALL);
	key_of(copy, &k);
	old = hmap_get(&c->objs, k.ptr);
	if (old && cJSON_Compare(old, copy, true)) { /* relisted unchanged */
		objcache_free(c, copy);
		buf_release(&k);
		return;
	}
	hmap_put(&c->objs, k.ptr, copy);
	if (old)
		group_remove(c, old);
	group_add(c, copy);
	objcache_free(c, old);
	buf_release(&k);
	if (c->cb)
		c->cb(c->ctx, copy, false);
}

static size_t put(struct objcache *c, const cJSON *o)
{
	cJSON *copy = kept_copy(c, o);

	if (!copy)
		return 1;
	put_copy(c, copy);
	return 0;
}

static void drop(struct objcache *c, const char *key)
{
	cJSON *old = hmap_del(&c->objs, key);

	if (!old)
		return;
	group_remove(c, old);
	if (c->cb)
		c->cb(c->ctx, old, true);
	objcache_free(c, old);
}

static void *store_decode(void *ctx, const cJSON *obj)
{
	return kept_copy(ctx, obj);
}

static void store_discard(void *ctx, void *item)
{
	objcache_free(ctx, item);
}

static size_t store_replace(void *ctx, const char *ns, void *const *items, size_t n)
{
	struct objcache *c = ctx;
	struct hmap keep;
	struct buf k;
	const char **keys;
	size_t nslen = ns ? strlen(ns) : 0;

	hmap_init(&keep);
	buf_init(&k, BUF_MAX_SMALL);
	for (size_t i = 0; i < n; i++) {
		key_of(items[i], &k);
		hmap_put(&keep, k.ptr, (void *)1);
		put_copy(c, items[i]);
	}
	keys = hmap_sorted_keys(&c->objs);
	for (size_t i = 0; keys[i]; i++) {
		char *key;
		if (ns && !(strncmp(keys[i], ns, nslen) == 0 && keys[i][nslen] == '/'))
			continue;
		if (hmap_get(&keep, keys[i]))
			continue;
		key = im_xstrdup(keys[i]);
		drop(c, key);
		im_free(key);
	}
	im_free(keys);
	hmap_release(&keep);
	buf_release(&k);
	return 0;
}

static size_t store_upsert(void *ctx, const cJSON *obj)
{
	return put(ctx, obj);
}

static size_t store_remove(void *ctx, const cJSON *obj)
{
	struct buf k;

	buf_init(&k, BUF_MAX_SMALL);
	if (!key_of(obj, &k)) {
		buf_release(&k);
		return 1;
	}
	drop(ctx, k.ptr);
	buf_release(&k);
	return 0;
}

static size_t store_count(void *ctx)
{
	return ((struct objcache *)ctx)->objs.count;
}

void objcache_store(struct objcache *c, struct reflector_store *out)
{
	out->ctx = c;
	out->decode = store_decode;
	out->discard = store_discard;
	out->replace = store_replace;
	out->upsert = store_upsert;
	out->remove = store_remove;
	out->count = store_count;
}

const cJSON *objcache_get(const struct objcache *c, const char *ns, const char *name)
{
	struct buf k;
	const cJSON *o;

	buf_init(&k, BUF_MAX_SMALL);
	o = hmap_get(&c->objs, obj_key(&k, ns, name));
	buf_release(&k);
	return o;
}
