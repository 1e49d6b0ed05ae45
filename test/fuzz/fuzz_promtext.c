/* libFuzzer target: the exposition-text parser (lib/promtext.c).
 *
 * Input: two header bytes, then the body.
 *   data[0] bit 0: OpenMetrics mode
 *           bit 1: the callback fails after a few samples
 *           bit 2: default caps (else small ones from data[1], so the
 *                  oversized-line, discard-to-newline and label caps run)
 *   data[1]: picks the small caps
 * The body is parsed in one feed and in two different chunkings derived
 * from the data; the callback reads every byte of every view (so ASan sees
 * any out-of-range view) into a digest. All three runs must agree on the
 * digest, the stats and the problem message (the parser promises results
 * that do not depend on where the chunks were cut), or the target traps.
 * A last run with a small body cap exercises IM_TOOBIG. Every sample also
 * goes through the engine reader (lib/engine.c, with the histogram bounds
 * of lib/histbounds.c), whose result joins the digest. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "engine.h"
#include "promtext.h"

struct digest {
	uint64_t h;
	uint64_t n;
	uint64_t stop_at;
	struct engine_scrape e;
};

static void mix(struct digest *d, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		d->h = (d->h ^ c[i]) * 1099511628211ull;
	d->h = (d->h ^ n) * 1099511628211ull;
}

static im_result on_sample(void *ctx, const struct promtext_sample *s)
{
	struct digest *d = ctx;
	const struct promtext_family *f = s->family;
	double v = isnan(s->value) ? NAN : s->value;
	int t = (int)f->type;

	if (d->stop_at && d->n == d->stop_at)
		return IM_CANCELED;
	d->n++;
	engine_observe(&d->e, s);
	mix(d, s->name, s->name_len);
	for (size_t i = 0; i < s->nlabels; i++) {
		mix(d, s->labels[i].name, s->labels[i].name_len);
		mix(d, s->labels[i].value, s->labels[i].value_len);
	}
	mix(d, &v, sizeof(v));
	if (s->has_timestamp)
		mix(d, &s->timestamp_ms, sizeof(s->timestamp_ms));
	mix(d, &s->line, sizeof(s->line));
	mix(d, f->name, f->name_len);
	mix(d, &t, sizeof(t));
	mix(d, f->help, f->help_len);
	mix(d, f->unit, f->unit_len);
	return IM_OK;
}

struct outcome {
	struct digest d;
	struct promtext_stats stats;
	im_result result;
	char problem[1024];
};

/* Feeds body in pieces whose sizes come from `steps` (0: one piece). */
static void run(const struct promtext_opts *o, const uint8_t *body, size_t len, const uint8_t *steps,
		size_t nsteps, unsigned scale, uint64_t stop_at, struct outcome *out)
{
	struct promtext p;
	size_t off = 0, k = 0;

	memset(out, 0, sizeof(*out));
	out->d.h = 14695981039346656037ull;
	out->d.stop_at = stop_at;
	engine_scrape_init(&out->d.e, BACKEND_VLLM);
	promtext_init(&p, o, on_sample, &out->d);
	while (off < len && !out->result) {
		size_t n = nsteps ? (size_t)steps[k++ % nsteps] * scale + 1 : len;
		if (n > len - off)
			n = len - off;
		out->result = promtext_feed(&p, (const char *)body + off, n);
		off += n;
	}
	if (!out->result)
		out->result = promtext_finish(&p);
	out->stats = p.stats;
	snprintf(out->problem, sizeof(out->problem), "%s", promtext_problem(&p));
	promtext_release(&p);
	engine_scrape_end(&out->d.e);
	mix(&out->d, &out->d.e.present, sizeof(out->d.e.present));
	mix(&out->d, &out->d.e.samples, sizeof(out->d.e.samples));
	for (int h = 0; out->d.e.bounds && h < HIST_KINDS; h++) {
		const struct histbounds *hb = out->d.e.bounds;
		for (size_t i = 0; i < hb->n[h]; i++)
			if (!isfinite(hb->v[h][i]) || (i && hb->v[h][i] <= hb->v[h][i - 1]))
				__builtin_trap(); /* ascending and finite, as promised */
		mix(&out->d, hb->v[h], hb->n[h] * sizeof(double));
	}
	engine_scrape_release(&out->d.e);
}

static int same(const struct outcome *a, const struct outcome *b)
{
	/* A failing callback stops the feed loop early, so the byte count
	 * then depends on the chunking; nothing else may. */
	return a->d.h == b->d.h && a->d.n == b->d.n && a->result == b->result &&
	       (a->result || a->stats.bytes == b->stats.bytes) && a->stats.lines == b->stats.lines &&
	       a->stats.samples == b->stats.samples &&
	       a->stats.skipped_oversized == b->stats.skipped_oversized &&
	       a->stats.malformed == b->stats.malformed && a->stats.eof == b->stats.eof &&
	       strcmp(a->problem, b->problem) == 0;
}

/* Static: an outcome is too big for a fuzzer's stack frame to hold three. */
static struct outcome one, a, b;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int hooked;
	struct promtext_opts o = {0};
	const uint8_t *body;
	size_t len;
	uint64_t stop_at;

	if (!hooked) {
		im_alloc_install_hooks();
		hooked = 1;
	}
	if (size < 2)
		return 0;
	body = data + 2;
	len = size - 2;
	o.openmetrics = data[0] & 1;
	stop_at = (data[0] & 2) ? (uint64_t)(data[1] % 5) + 1 : 0;
	if (!(data[0] & 4)) {
		o.max_line = 8 + (size_t)(data[1] & 0x3f) * 3;
		o.max_label_value = 1 + (size_t)(data[1] >> 4) * 5;
		o.max_labels = 1 + (size_t)(data[1] % 7);
	}

	run(&o, body, len, NULL, 0, 1, stop_at, &one);
	run(&o, body, len, data, size < 16 ? size : 16, 1, stop_at, &a);
	run(&o, body, len, data + size / 2, size - size / 2 < 8 ? size - size / 2 : 8, 3, stop_at, &b);
	if (!same(&one, &a) || !same(&one, &b))
		__builtin_trap();

	/* A body cap inside the body: stops with IM_TOOBIG, never crashes. */
	o.max_body = len / 2 + 1;
	run(&o, body, len, data, size < 16 ? size : 16, 1, stop_at, &a);
	if (len > o.max_body && a.result != IM_TOOBIG && !(stop_at && a.result == IM_CANCELED))
		__builtin_trap();
	if (im_alloc_live() != 0)
		__builtin_trap();
	return 0;
}
