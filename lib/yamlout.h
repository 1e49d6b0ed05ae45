/*
 * yamlout.h - writes cJSON values as block-style YAML, deterministically.
 *
 * Keys in the order the object holds them; strings plain when that reads
 * back as the same string under YAML 1.1 and 1.2 (so "true", "on", "1.0",
 * "0x1F", "~" and friends are quoted), as literal blocks (|) when they span
 * lines, double-quoted otherwise. A plain or block candidate is parsed back
 * through yamljson.h before it is used, so the style is chosen by what
 * round-trips, not by rules alone. Double-quoted strings escape every
 * character YAML reads as a line break or forbids raw: C0 controls, DEL, C1
 * controls, U+0085 (\N), U+2028 (\L), U+2029 (\P), U+FEFF, U+FFFE/FFFF.
 * Keys longer than libyaml's 1024-character implicit-key limit are written
 * as explicit keys ("? key").
 *
 * Output reads back through yamljson.h to the same JSON, with one exception:
 * YAML is UTF-8 only, so a byte that starts no valid UTF-8 sequence is
 * written as U+FFFD, one per byte, as Kubernetes' (Go's) JSON decoder
 * reads such bytes.
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
