/*
 * promtext_dump - prints the samples lib/promtext.c reads from a page, one
 * per line, in the canonical form test/promtext_reference.py prints from
 * prometheus_client, so the two can be diffed:
 *
 *   name{a="x",b="y"} value[ @timestamp_ms]
 *
 * Labels sorted by name; label values escaped as \\ \" \n, other bytes
 * outside printable ASCII as \xNN; values as %.17g, or NaN / +Inf / -Inf.
 *
 *   promtext_dump [--openmetrics] [--chunk N] [--strict] FILE
 *
 * A FILE ending in .om.txt is read as OpenMetrics. --chunk feeds the body
 * in N-byte pieces (default: all at once). Stats and the first problem go to
 * stderr; --strict exits 1 when any line was malformed or skipped.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "promtext.h"
#include "strparse.h"

static int cmp_label(const void *a, const void *b)
{
	const struct promtext_label *x = *(const struct promtext_label *const *)a;
	const struct promtext_label *y = *(const struct promtext_label *const *)b;
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c = memcmp(x->name, y->name, n);

	return c ? c : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

static void put_escaped(struct buf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\')
			buf_adds(out, "\\\\");
		else if (c == '"')
			buf_adds(out, "\\\"");
		else if (c == '\n')
			buf_adds(out, "\\n");
		else if (c < 0x20 || c >= 0x7f)
			buf_printf(out, "\\x%02x", c);
		else
			buf_addc(out, (char)c);
	}
}

static im_result on_sample(void *ctx, const struct promtext_sample *s)
{
	struct buf *out = ctx;
	const struct promtext_label *sorted[1024];
	size_t n = s->nlabels < 1024 ? s->nlabels : 1024;

	for (size_t i = 0; i < n; i++)
		sorted[i] = &s->labels[i];
	qsort(sorted, n, sizeof(sorted[0]), cmp_label);
	buf_add(out, s->name, s->name_len);
	if (n) {
		buf_addc(out, '{');
		for (size_t i = 0; i < n; i++) {
			if (i)
				buf_addc(out, ',');
			buf_add(out, sorted[i]->name, sorted[i]->name_len);
			buf_adds(out, "=\"");
			put_escaped(out, sorted[i]->value, sorted[i]->value_len);
			buf_addc(out, '"');
		}
		buf_addc(out, '}');
	}
	if (isnan(s->value))
		buf_adds(out, " NaN");
	else if (isinf(s->value))
		buf_adds(out, s->value > 0 ? " +Inf" : " -Inf");
	else
		buf_printf(out, " %.17g", s->value);
	if (s->has_timestamp)
		buf_printf(out, " @%" PRId64, s->timestamp_ms);
	return buf_addc(out, '\n');
}

static int usage(void)
{
	fprintf(stderr, "usage: promtext_dump [--openmetrics] [--chunk N] [--strict] FILE\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct promtext_opts opts = {0};
	struct promtext p;
	struct buf body, out;
	const char *path = NULL;
	uint64_t chunk = 0;
	int strict = 0, rc = 0;
	char tmp[65536];
	size_t n;
	FILE *f;
	im_result result;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--openmetrics") == 0)
			opts.openmetrics = true;
		else if (strcmp(argv[i], "--strict") == 0)
			strict = 1;
		else if (strcmp(argv[i], "--chunk") == 0 && i + 1 < argc) {
			if (strparse_u64(argv[i + 1], strlen(argv[i + 1]), SIZE_MAX, &chunk) || !chunk)
				return usage();
			i++;
		} else if (!path && argv[i][0] != '-')
			path = argv[i];
		else
			return usage();
	}
	if (!path)
		return usage();
	n = strlen(path);
	if (n > 7 && strcmp(path + n - 7, ".om.txt") == 0)
		opts.openmetrics = true;

	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "promtext_dump: cannot open \"%s\": %s\n", path, strerror(errno));
		return 2;
	}
	buf_init(&body, BUF_MAX_LARGE);
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		if (buf_add(&body, tmp, n)) {
			fprintf(stderr, "promtext_dump: \"%s\" is too big\n", path);
			fclose(f);
			return 2;
		}
	fclose(f);

	buf_init(&out, BUF_MAX_LARGE);
	promtext_init(&p, &opts, on_sample, &out);
	if (!chunk)
		chunk = body.len ? body.len : 1;
	result = IM_OK;
	for (size_t off = 0; off < body.len && !result; off += chunk) {
		size_t len = body.len - off < chunk ? body.len - off : chunk;
		result = promtext_feed(&p, body.ptr + off, len);
	}
	if (!result)
		result = promtext_finish(&p);
	fwrite(buf_str(&out), 1, out.len, stdout);
	fprintf(stderr,
		"# %s: samples=%" PRIu64 " malformed=%" PRIu64 " oversized=%" PRIu64
		" lines=%" PRIu64 " bytes=%" PRIu64 " eof=%d result=%s%s%s\n",
		path, p.stats.samples, p.stats.malformed, p.stats.skipped_oversized, p.stats.lines,
		p.stats.bytes, p.stats.eof, im_err_name(result), *promtext_problem(&p) ? " problem: " : "",
		promtext_problem(&p));
	if (result || (strict && (p.stats.malformed || p.stats.skipped_oversized)))
		rc = 1;
	promtext_release(&p);
	buf_release(&out);
	buf_release(&body);
	if (im_alloc_live() != 0) {
		fprintf(stderr, "promtext_dump: %ld allocation(s) leaked\n", im_alloc_live());
		rc = 1;
	}
	return rc;
}
