/*
 * yamljson.h - YAML (and JSON, which is YAML) streams to cJSON values, the way
 * Kubernetes tooling (sigs.k8s.io/yaml, built on go-yaml v2, YAML 1.1)
 * converts them, with the source position of every value kept for messages.
 *
 *   struct yamljson_doc *docs;
 *   size_t n;
 *   if (yamljson_parse(p, len, "workload.yaml", NULL, &docs, &n, &err) == IM_OK) {
 *           for (size_t i = 0; i < n; i++)
 *                   use(docs[i].json, yamljson_line_of(&docs[i], some_node));
 *           yamljson_docs_free(docs, n);
 *   }
 *
 * Conversion rules (docs/yaml-and-kubeconfig.md has the full table):
 * - mappings become objects, sequences arrays; mapping keys must be scalars
 *   and are turned into strings as sigs.k8s.io/yaml does (`1` -> "1",
 *   `yes` -> "true", `1.5` -> "1.5"); a key given twice in one mapping is an
 *   error (also when two spellings give the same string, e.g. `1` and "1");
 *   a null key is an error. Merge keys (`<<: *base`) are supported; explicit
 *   keys win over merged ones, earlier merged mappings over later ones.
 * - quoted and block scalars are strings. Plain scalars resolve as YAML 1.1
 *   does in go-yaml v2: null (``, `~`, `null`/`Null`/`NULL`), booleans
 *   (`true`/`false`, and also `yes`/`no`/`on`/`off`/`y`/`n` in their three
 *   spellings, which is what kubectl sends), integers (decimal, `0x`, `0o`,
 *   `0b`, leading-`0` octal, `_` separators, sign), floats, and everything
 *   else a string (timestamps stay strings).
 * - cJSON numbers are doubles: an integer beyond +-2^53 is an error rather
 *   than a silently different number; `.inf`/`.nan` (and overflowing
 *   floats given `!!float`) are errors, because JSON cannot hold them (kubectl
 *   fails on them too).
 * - tags: `!!str`, `!!int`, `!!float`, `!!bool`, `!!null` are honoured on
 *   scalars (`!!int "12"` is 12, `!!int abc` an error, `!!float 1` is 1.0),
 *   `!!timestamp` and unknown tags give strings, `!!binary` is an error; tags
 *   on mappings and sequences are ignored.
 * - strings holding a NUL character are an error (cJSON strings are C
 *   strings).
 * - documents whose value is null (empty, comment-only, `~`) are skipped, as
 *   kubectl skips them.
 *
 * Caps (struct yamljson_opts; 0 selects the default): the input size; the
 * number of JSON values produced, counting every copy an alias or merge makes
 * (this, with the byte cap, is the billion-laughs protection); the bytes of
 * strings and keys produced; the nesting depth of arrays and objects. Caps
 * count over the whole stream. Exceeding one fails with IM_TOOBIG.
 *
 * Thread safety: no shared state; any thread may call any function, on
 * different documents.
 */
#ifndef INFERMON_YAMLJSON_H
#define INFERMON_YAMLJSON_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "error.h"

#define YAMLJSON_DEFAULT_MAX_INPUT ((size_t)16 * 1024 * 1024)
#define YAMLJSON_DEFAULT_MAX_NODES ((size_t)1000000)
#define YAMLJSON_DEFAULT_MAX_BYTES ((size_t)64 * 1024 * 1024)
#define YAMLJSON_DEFAULT_MAX_DEPTH 256

struct yamljson_opts {
	size_t max_input; /* bytes of input */
	size_t max_nodes; /* JSON values produced, aliases expanded */
	size_t max_bytes; /* bytes of string values and keys produced */
	int max_depth;    /* nesting of arrays and objects; the root one is 1 */
};

struct yamljson_postab; /* private: value -> source position */

struct yamljson_doc {
	cJSON *json; /* owned by the doc; never JSON null */
	int line;    /* 1-based line where the document starts: its "---"
			when it has one, else its first token */
	struct yamljson_postab *pos;
};

/*
 * Parses data[0..len) (no NUL needed) into the non-empty documents it holds.
 * On success *docs is an array of *ndocs documents (NULL and 0 when the
 * stream holds none), which the caller frees with yamljson_docs_free. On
 * failure *docs is NULL, *ndocs 0, nothing is kept, and err (when not NULL)
 * is reset to one lower-case message
 *   <source>:<line>:<column>: <what failed>
 * e.g. `workload.yaml:3:7: did not find expected key`, or, with source NULL,
 *   line 3 column 7: did not find expected key
 * Results: IM_PARSE (bad YAML, or a value JSON cannot hold), IM_TOOBIG (a
 * cap was exceeded). opts may be NULL for all defaults.
 */
im_result yamljson_parse(const char *data, size_t len, const char *source,
			 const struct yamljson_opts *opts, struct yamljson_doc **docs,
			 size_t *ndocs, struct buf *err);

/* Frees the documents and the array; NULL/0 is fine. */
void yamljson_docs_free(struct yamljson_doc *docs, size_t ndocs);

/*
 * Where node (any value in doc->json) is written in the source: for a member
 * of an object, the position of its key (where a reader looks for
 * "spec.metrics.port"); for an array element or the root, the start of the
 * value. A value copied from an anchor by an alias is placed at the alias
 * (the copy itself) and, inside it, at the anchored original; members added
 * by a merge key are placed at their original keys. 1-based; returns false
 * and sets 0 when node is not part of doc. line or column may be NULL.
 */
bool yamljson_pos_of(const struct yamljson_doc *doc, const cJSON *node, int *line, int *column);

/* yamljson_pos_of's line, or 0 when node is not part of doc. */
int yamljson_line_of(const struct yamljson_doc *doc, const cJSON *node);

#endif
