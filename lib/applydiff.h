/*
 * applydiff.h - whether a live object already holds a desired one, the
 * rule that makes a no-op reconcile write nothing.
 *
 * Server-side apply owns only the fields it sends; the API server adds
 * defaults, status and metadata of its own. So a live object "holds" a
 * desired one when every field of the desired object is in it with the
 * same value (arrays: same length, element by element); extra live fields
 * do not count. Pure; any thread.
 */
#ifndef INFERMON_APPLYDIFF_H
#define INFERMON_APPLYDIFF_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "buf.h"

/* True when every field of want is in have with the same value. */
bool applydiff_holds(const cJSON *want, const cJSON *have);

/* applydiff_holds() of a whole object, apiVersion and kind left out: the
 * items of a LIST response do not carry them (watch events do), and the
 * caches hold objects from both. */
bool applydiff_same_object(const cJSON *want, const cJSON *have);

/* Appends to path the first field of want that have lacks or differs in
 * (".spec.endpoints[0].interval"); nothing when have holds want. For the
 * log line that says why an object is written. */
void applydiff_first(const cJSON *want, const cJSON *have, struct buf *path);

/* A Secret is read back with data (base64), not the stringData it was
 * applied with: turns secret's stringData into data, so that it compares
 * with (and is applied as) what the API server returns. */
void applydiff_secret_data(cJSON *secret);

#endif
