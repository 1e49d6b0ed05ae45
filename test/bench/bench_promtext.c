/*
 * bench_promtext - measures lib/promtext.c on one page with the protocol of
 * hack/tools/bench/main.go (Prometheus' Go parsers), for hack/bench.sh:
 *
 *   bench_promtext [-runs 5] [-budget 0.2] [-chunk 16384] [-max-line N]
 *                  [-max-label N] [-name NAME] FILE
 *
 * The page is parsed once untimed (warm-up; counts samples, skipped lines
 * and the longest label value read), then `runs` times over and over until
 * `budget` seconds have passed (at least once); the median run is reported.
 * It is fed in `chunk`-byte pieces, as libcurl hands a body over (0: in one
 * piece). MB is 10^6 bytes. Prints one line:
 *
 *   NAME bytes=N samples=N skipped=N longest_label=N mb_s=X samples_s=X iters=N
 *
 *   bench_promtext -gen-huge OUT BASE MB
 *
 * writes BASE with a fork-style vllm:vllm_config_info sample inserted in its
 * middle, whose three label values (flattened JSON configs, with \" escapes)
 * bring the page to about MB × 10^6 bytes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "buf.h"
#include "promtext.h"
#include "strparse.h"

struct count {
	uint64_t samples;
	size_t longest;
	int inspect;
};

static im_result on_sample(void *ctx, const struct promtext_sample *s)
{
	struct count *c = ctx;

	c->samples++;
	if (c->inspect)
		for (size_t i = 0; i < s->nlabels; i++)
			if (s->labels[i].value_len > c->longest)
				c->longest = s->labels[i].value_len;
	return IM_OK;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *xs, int n)
{
	qsort(xs, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

/* One parser per page reused across parses (promtext_reset), as the scraper
 * keeps one per target. */
static int parse_once(struct promtext *p, const char *page, size_t len, size_t chunk)
{
	im_result result = IM_OK;

	promtext_reset(p);
	if (!chunk)
		chunk = len ? len : 1;
	for (size_t off = 0; off < len && !result; off += chunk)
		result = promtext_feed(p, page + off, len - off < chunk ? len - off : chunk);
	if (!result)
		result = promtext_finish(p);
	if (result) {
		fprintf(stderr, "bench_promtext: %s: %s\n", im_err_name(result), promtext_problem(p));
		return -1;
	}
	return 0;
}

static char *read_file(const char *path, size_t *len)
{
	struct buf b;
	char tmp[65536];
	size_t n;
	FILE *f = fopen(path, "rb");

	if (!f) {
		fprintf(stderr, "bench_promtext: cannot open \"%s\": %s\n", path, strerror(errno));
		exit(1);
	}
	buf_init(&b, BUF_MAX_LARGE);
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		if (buf_add(&b, tmp, n)) {
			fprintf(stderr, "bench_promtext: \"%s\" is over 64 MiB\n", path);
			exit(1);
		}
	fclose(f);
	return buf_detach(&b, len);
}

/* A flattened config value: JSON with escaped quotes, about n bytes. */
static void add_config_value(struct buf *b, const char *key, size_t n)
{
	size_t start = b->len;
	unsigned i = 0;

	buf_printf(b, "{\\\"%s\\\":{", key);
	while (b->len - start < n) {
		buf_printf(b, "\\\"layer_%u\\\":{\\\"cudagraph_capture_sizes\\\":[512,256,128,64,32,16,8,4,2,1],"
			      "\\\"dtype\\\":\\\"bfloat16\\\",\\\"path\\\":\\\"C:\\\\\\\\models\\\\\\\\layer_%u\\\"},",
			   i, i);
		i++;
	}
	buf_adds(b, "\\\"end\\\":true}}");
}

static int gen_huge(const char *out, const char *base_path, const char *mb)
{
	uint64_t target_mb;
	size_t len, mid, target, per_label;
	char *base = read_file(base_path, &len);
	const char *cut;
	struct buf b;
	FILE *f;

	if (strparse_u64(mb, strlen(mb), 60, &target_mb) || target_mb == 0) {
		fprintf(stderr, "bench_promtext: -gen-huge wants 1..60 MB\n");
		return 2;
	}
	target = (size_t)target_mb * 1000 * 1000;
	per_label = target > len + 4096 ? (target - len - 4096) / 3 : 1024;
	/* insert between two families, near the middle */
	cut = strstr(base + len / 2, "\n# HELP ");
	mid = cut ? (size_t)(cut - base) + 1 : len;

	buf_init(&b, BUF_MAX_LARGE);
	buf_add(&b, base, mid);
	buf_adds(&b, "# HELP vllm:vllm_config_info Information of the LLM engine configuration (flattened).\n"
		     "# TYPE vllm:vllm_config_info gauge\n"
		     "vllm:vllm_config_info{model_config_model=\"/models/Qwen3-32B\","
		     "model_config_max_model_len=\"32768\",scheduler_config_max_num_seqs=\"256\","
		     "scheduler_config_max_num_batched_tokens=\"8192\",compilation_config=\"");
	add_config_value(&b, "compilation_config", per_label);
	buf_adds(&b, "\",model_config_hf_config=\"");
	add_config_value(&b, "hf_config", per_label);
	buf_adds(&b, "\",additional_config=\"");
	add_config_value(&b, "additional_config", per_label);
	buf_adds(&b, "\",parallel_config_tensor_parallel_size=\"2\"} 1.0\n");
	buf_add(&b, base + mid, len - mid);
	im_free(base);
	if (!b.ptr) {
		fprintf(stderr, "bench_promtext: page over 64 MiB\n");
		return 1;
	}
	f = fopen(out, "wb");
	if (!f || fwrite(b.ptr, 1, b.len, f) != b.len || fclose(f) != 0) {
		fprintf(stderr, "bench_promtext: cannot write \"%s\"\n", out);
		return 1;
	}
	buf_release(&b);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: bench_promtext [-runs N] [-budget SECONDS] [-chunk BYTES] "
			"[-max-line BYTES] [-max-label BYTES] [-name NAME] FILE\n"
			"       bench_promtext -gen-huge OUT BASE MB\n");
	return 2;
}

static int arg_u64(const char *s, uint64_t max, uint64_t *out)
{
	return strparse_u64(s, strlen(s), max, out) == IM_OK;
}

int main(int argc, char **argv)
{
	struct promtext_opts opts = {0};
	struct promtext p;
	struct count c = {0};
	const char *path = NULL, *name = "promtext";
	uint64_t runs = 5, chunk = 16384, v;
	double budget = 0.2, mbs[64], sps[64];
	uint64_t total = 0;
	size_t len;
	char *page;

	if (argc == 5 && strcmp(argv[1], "-gen-huge") == 0)
		return gen_huge(argv[2], argv[3], argv[4]);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (a[0] != '-') {
			if (path)
				return usage();
			path = a;
			continue;
		}
		if (!val)
			return usage();
		i++;
		if (strcmp(a, "-runs") == 0 && arg_u64(val, 64, &runs) && runs > 0)
			continue;
		if (strcmp(a, "-chunk") == 0 && arg_u64(val, SIZE_MAX, &chunk))
			continue;
		if (strcmp(a, "-max-line") == 0 && arg_u64(val, SIZE_MAX, &v)) {
			opts.max_line = (size_t)v;
			continue;
		}
		if (strcmp(a, "-max-label") == 0 && arg_u64(val, SIZE_MAX, &v)) {
			opts.max_label_value = (size_t)v;
			continue;
		}
		if (strcmp(a, "-name") == 0) {
			name = val;
			continue;
		}
		if (strcmp(a, "-budget") == 0 && strparse_double(val, strlen(val), &budget) == IM_OK &&
		    budget > 0 && budget < 60)
			continue;
		return usage();
	}
	if (!path)
		return usage();
	page = read_file(path, &len);

	promtext_init(&p, &opts, on_sample, &c);
	c.inspect = 1;
	if (parse_once(&p, page, len, (size_t)chunk))
		return 1;
	c.inspect = 0;
	{
		uint64_t samples = c.samples, skipped = p.stats.skipped_oversized + p.stats.malformed;
		size_t longest = c.longest;

		for (uint64_t r = 0; r < runs; r++) {
			uint64_t n = 0;
			double start = now(), elapsed;
			do {
				if (parse_once(&p, page, len, (size_t)chunk))
					return 1;
				n++;
				elapsed = now() - start;
			} while (elapsed < budget);
			mbs[r] = (double)n * (double)len / elapsed / 1e6;
			sps[r] = (double)n * (double)samples / elapsed;
			total += n;
		}
		printf("%s bytes=%zu samples=%" PRIu64 " skipped=%" PRIu64 " longest_label=%zu mb_s=%.2f"
		       " samples_s=%.0f iters=%" PRIu64 "\n",
		       name, len, samples, skipped, longest, median(mbs, (int)runs),
		       median(sps, (int)runs), total);
	}
	promtext_release(&p);
	im_free(page);
	return 0;
}
