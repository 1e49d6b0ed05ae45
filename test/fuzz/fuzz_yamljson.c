/* libFuzzer target: yamljson_parse on arbitrary bytes, once with roomy caps
 * and once with tight ones. Checks what callers rely on: failure leaves no
 * document and a message; success gives documents whose every value has a
 * source position and which print as JSON that reads back the same; nothing
 * leaks either way. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "alloc.h"
#include "yamljson.h"

static void check_positions(const struct yamljson_doc *doc, const cJSON *node)
{
	if (!yamljson_pos_of(doc, node, NULL, NULL)) {
		fprintf(stderr, "value without a position\n");
		abort();
	}
	for (const cJSON *c = node->child; c; c = c->next)
		check_positions(doc, c);
}

static void run(const uint8_t *data, size_t size, const struct yamljson_opts *o)
{
	struct yamljson_doc *docs;
	size_t n;
	struct buf err;
	long live = im_alloc_live();

	buf_init(&err, BUF_MAX_SMALL);
	if (yamljson_parse((const char *)data, size, "fuzz.yaml", o, &docs, &n, &err)) {
		if (docs || n || err.len == 0) {
			fprintf(stderr, "failure left documents or no message\n");
			abort();
		}
	} else {
		for (size_t i = 0; i < n; i++) {
			char *s;
			cJSON *back;

			if (!docs[i].json || cJSON_IsNull(docs[i].json) || docs[i].line < 1)
				abort();
			check_positions(&docs[i], docs[i].json);
			s = cJSON_PrintUnformatted(docs[i].json);
			back = s ? cJSON_Parse(s) : NULL;
			if (!back || !cJSON_Compare(back, docs[i].json, 1)) {
				fprintf(stderr, "output does not read back: %.200s\n", s ? s : "(null)");
				abort();
			}
			cJSON_Delete(back);
			cJSON_free(s);
		}
		yamljson_docs_free(docs, n);
	}
	buf_release(&err);
	if (im_alloc_live() != live) {
		fprintf(stderr, "leaked %ld allocations\n", im_alloc_live() - live);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct yamljson_opts roomy = {
		.max_input = 1 << 20, .max_nodes = 200000, .max_bytes = 8 << 20, .max_depth = 256};
	static const struct yamljson_opts tight = {
		.max_input = 1 << 20, .max_nodes = 64, .max_bytes = 512, .max_depth = 4};
	static int hooked;

	if (!hooked) {
		im_alloc_install_hooks();
		hooked = 1;
	}
	run(data, size, &roomy);
	run(data, size, &tight);
	return 0;
}
