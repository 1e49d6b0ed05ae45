#include "hmap.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"

static size_t hash_str(const char *s)
{
	size_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

void hmap_init(struct hmap *m)
{
	m->slots = NULL;
	m->nslots = 0;
	m->count = 0;
}

void hmap_release(struct hmap *m)
{
	for (size_t i = 0; i < m->nslots; i++) {
		struct hmap_entry *e = m->slots[i], *n;
		for (; e; e = n) {
			n = e->next;
			im_free(e);
		}
	}
	im_free(m->slots);
	hmap_init(m);
}

static struct hmap_entry **find(const struct hmap *m, const char *key, size_t h)
{
	struct hmap_entry **pp;

	if (!m->nslots)
		return NULL;
	for (pp = &m->slots[h & (m->nslots - 1)]; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && strcmp((*pp)->key, key) == 0)
			return pp;
	return NULL;
}

void *hmap_get(const struct hmap *m, const char *key)
{
	struct hmap_entry **pp = find(m, key, hash_str(key));
	return pp ? (*pp)->value : NULL;
}

static void grow(struct hmap *m)
{
	size_t n = m->nslots ? m->nslots * 2 : 16;
	struct hmap_entry **slots = im_xcalloc(n, sizeof(*slots));

	for (size_t i = 0; i < m->nslots; i++) {
		struct hmap_entry *e = m->slots[i], *next;
		for (; e; e = next) {
			next = e->next;
			e->next = slots[e->hash & (n - 1)];
			slots[e->hash & (n - 1)] = e;
		}
	}
	im_free(m->slots);
	m->slots = slots;
	m->nslots = n;
}

void *hmap_put(struct hmap *m, const char *key, void *value)
{
	size_t h = hash_str(key), klen;
	struct hmap_entry **pp = find(m, key, h), *e;
	void *old;

	if (pp) {
		old = (*pp)->value;
		(*pp)->value = value;
		return old;
	}
	if (m->count + 1 > m->nslots * 3 / 4)
		grow(m);
	klen = strlen(key);
	e = im_xmalloc(sizeof(*e) + klen + 1);
	memcpy(e->key, key, klen + 1);
	e->hash = h;
	e->value = value;
	e->next = m->slots[h & (m->nslots - 1)];
	m->slots[h & (m->nslots - 1)] = e;
	m->count++;
	return NULL;
}

void *hmap_del(struct hmap *m, const char *key)
{
	struct hmap_entry **pp = find(m, key, hash_str(key)), *e;
	void *v;

	if (!pp)
		return NULL;
	e = *pp;
	*pp = e->next;
	v = e->value;
	im_free(e);
	m->count--;
	return v;
}

struct hmap_entry *hmap_first(const struct hmap *m)
{
	for (size_t i = 0; i < m->nslots; i++)
		if (m->slots[i])
			return m->slots[i];
	return NULL;
}

struct hmap_entry *hmap_next(const struct hmap *m, const struct hmap_entry *e)
{
	if (e->next)
		return e->next;
	for (size_t i = (e->hash & (m->nslots - 1)) + 1; i < m->nslots; i++)
		if (m->slots[i])
			return m->slots[i];
	return NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **hmap_sorted_keys(const struct hmap *m)
{
	const char **keys = im_xcalloc(m->count + 1, sizeof(*keys));
	size_t i = 0;

	for (struct hmap_entry *e = hmap_first(m); e; e = hmap_next(m, e))
		keys[i++] = e->key;
	qsort(keys, i, sizeof(*keys), cmp_str);
	return keys;
}
