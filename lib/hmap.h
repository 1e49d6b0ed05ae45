/*
 * hmap.h - string-keyed hash map (open chaining), insertion-order free.
 *
 * Keys are copied and owned by the map; values are borrowed pointers the
 * caller owns (free them before hmap_release, walking hmap_first/hmap_next). Not
 * thread-safe: one owner thread.
 */
#ifndef INFERMON_HMAP_H
#define INFERMON_HMAP_H

#include <stddef.h>

struct hmap_entry {
	struct hmap_entry *next;
	size_t hash;
	void *value;
	char key[]; /* NUL-terminated copy */
};

struct hmap {
	struct hmap_entry **slots;
	size_t nslots;
	size_t count;
};

void hmap_init(struct hmap *m);
/* Frees the entries and keys, not the values. */
void hmap_release(struct hmap *m);

void *hmap_get(const struct hmap *m, const char *key);
/* Inserts or replaces; returns the previous value or NULL. */
void *hmap_put(struct hmap *m, const char *key, void *value);
/* Removes key; returns its value or NULL. */
void *hmap_del(struct hmap *m, const char *key);

/* Iteration: for (it = hmap_first(m); it; it = hmap_next(m, it)).
 * The map must not change during iteration except through hmap_del of the
 * current entry's key after taking the next one. */
struct hmap_entry *hmap_first(const struct hmap *m);
struct hmap_entry *hmap_next(const struct hmap *m, const struct hmap_entry *e);

/* Keys in strcmp order, for deterministic output; caller frees the array
 * (im_free), not the strings (they belong to the map). */
const char **hmap_sorted_keys(const struct hmap *m);

#endif
