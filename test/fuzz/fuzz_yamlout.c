/* libFuzzer target: the YAML writer (lib/yamlout.c) on whatever the reader
 * makes of arbitrary bytes. Every document read is written back as YAML,
 * which must read back as one document equal to it (libyaml only gives us
 * valid UTF-8, so the writer's U+FFFD replacement never applies), and must
 * be written the same way twice. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "yamljson.h"
#include "yamlout.h"

static void round_trip(const cJSON *v)
{
	struct buf a, b, err;
	struct yamljson_doc *docs = NULL;
	size_t n = 0;

	buf_init(&a, BUF_MAX_LARGE);
	buf_init(&b, BUF_MAX_LARGE);
	buf_init(&err, 1024);
	if (yamlout_doc(&a, v) != IM_OK || yamlout_doc(&b, v) != IM_OK || a.len != b.len ||
	    memcmp(a.ptr, b.ptr, a.len) != 0)
		abort(); /* not deterministic, or too big for 64 MiB */
	if (yamljson_parse(a.ptr, a.len, "out", NULL, &docs, &n, &err) != IM_OK || n != 1 ||
	    !cJSON_Compare(v, docs[0].json, true)) {
		fprintf(stderr, "does not read back (%s):\n%.2000s\n", buf_str(&err), buf_str(&a));
		abort();
	}
	yamljson_docs_free(docs, n);
	buf_release(&a);
	buf_release(&b);
	buf_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct yamljson_opts o = {
		.max_input = 1 << 20, .max_nodes = 20000, .max_bytes = 1 << 20, .max_depth = 64};
	static int hooked;
	struct yamljson_doc *docs;
	size_t n;
	struct buf err;
	long live;

	if (!hooked) {
		im_alloc_install_hooks();
		hooked = 1;
	}
	live = im_alloc_live();
	buf_init(&err, 1024);
	if (yamljson_parse((const char *)data, size, "fuzz", &o, &docs, &n, &err) == IM_OK) {
		for (size_t i = 0; i < n; i++)
			round_trip(docs[i].json);
		yamljson_docs_free(docs, n);
	}
	buf_release(&err);
	if (im_alloc_live() != live) {
		fprintf(stderr, "leaked %ld allocations\n", im_alloc_live() - live);
		abort();
	}
	return 0;
}
