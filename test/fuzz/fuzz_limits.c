/* libFuzzer target: the engine JSON parsers of lib/limits.c, all three on
 * every input: vLLM /server_info, SGLang /get_server_info and /v1/models.
 * Checks what the scraper relies on: a limit that carries a source is a
 * positive finite number; a failure leaves a message; the SGLang mode is a
 * NUL-terminated string; nothing leaks. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "limits.h"

static void check_limit(const struct limit *l, enum limit_source want)
{
	if (l->source == LIMIT_NONE)
		return;
	if (l->source != want || !isfinite(l->value) || l->value <= 0) {
		fprintf(stderr, "bad limit %g from %s\n", l->value, limit_source_name(l->source));
		abort();
	}
}

static void on_model(void *ctx, const char *id, double max_model_len)
{
	size_t *n = ctx;

	if (!id || !isfinite(max_model_len) || max_model_len < 0 || ++*n > 64) {
		fprintf(stderr, "bad model (%zu so far)\n", *n);
		abort();
	}
	(void)strlen(id); /* ASan checks the whole id is readable */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int hooked;
	const char *json = (const char *)data;
	long live;
	struct buf err;
	struct vllm_server_info v;
	struct sglang_server_info s;
	size_t models = 0;
	im_result r;

	if (!hooked) {
		im_alloc_install_hooks();
		hooked = 1;
	}
	live = im_alloc_live();
	buf_init(&err, 1024);

	r = limits_parse_vllm_server_info(json, size, &v, &err);
	if ((r != IM_OK) != (err.len > 0) || (r == IM_OK && v.max_num_seqs.source == LIMIT_NONE))
		abort();
	check_limit(&v.max_num_seqs, LIMIT_SERVER_INFO);
	check_limit(&v.max_model_len, LIMIT_SERVER_INFO);

	buf_reset(&err);
	r = limits_parse_sglang_server_info(json, size, &s, &err);
	if ((r != IM_OK) != (err.len > 0))
		abort();
	check_limit(&s.max_running, LIMIT_GET_SERVER_INFO);
	check_limit(&s.context_length, LIMIT_GET_SERVER_INFO);
	if ((r == IM_OK && (!isfinite(s.dp_size) || s.dp_size < 1)) || s.max_total_num_tokens < 0 ||
	    s.configured_max_running < 0 ||
	    !memchr(s.disaggregation_mode, '\0', sizeof(s.disaggregation_mode)))
		abort();

	buf_reset(&err);
	r = limits_parse_models(json, size, on_model, &models, &err);
	if ((r != IM_OK) != (err.len > 0))
		abort();

	buf_release(&err);
	if (im_alloc_live() != live) {
		fprintf(stderr, "leaked %ld allocations\n", im_alloc_live() - live);
		abort();
	}
	return 0;
}
