/*
 * yamlout.h - writes cJSON values as block-style YAML, deterministically.
 *
 * Keys in the order the object holds them; strings plain when that reads
 * back as the same string under YAML 1.1 and 1.2 (so "true", "on", "1.0",
 * "0x1F", "~" and friends are quoted), double-quoted with escapes otherwise,
 * and as literal blocks (|) when they span lines. Output reads back through
 * yamljson.h to the same JSON.
 */
#ifndef INFERMON_YAMLOUT_H
#define INFERMON_YAMLOUT_H

#include <cjson/cJSON.h>

#include "buf.h"

/* Writes v (any type) as the body of a document or of a mapping value at
 * the given indentation; ends with a newline. IM_TOOBIG past b's cap. */
im_result yamlout_value(struct buf *b, const cJSON *v, int indent);
/* Writes one document: "---\n" then v. */
im_result yamlout_doc(struct buf *b, const cJSON *v);

#endif
