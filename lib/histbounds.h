/*
 * histbounds.h - the bucket bounds (le) of an engine's latency histograms,
 * as its /metrics page shows them, so that an SLO threshold can be checked
 * against what the live engine measures: a histogram counts requests
 * within a threshold exactly only at one of its bounds.
 *
 * While a page is parsed, histbounds_observe collects the bounds of the
 * time-to-first-token, inter-token (or, without it, time-per-output-token)
 * and end-to-end latency histograms, under vLLM's and SGLang's prefixes;
 * histbounds_intern then turns them into one immutable set shared by every
 * engine that shows the same bounds (most pods of a fleet do), so a pod
 * holds one pointer. The sets live in static storage for the life of the
 * process; at most HISTBOUNDS_MAX_SETS distinct ones (pods showing others
 * report none).
 *
 * Not thread-safe: the loop thread observes and interns; the sets, once
 * interned, are read-only.
 */
#ifndef INFERMON_HISTBOUNDS_H
#define INFERMON_HISTBOUNDS_H

#include <stdbool.h>
#include <stddef.h>

#include "promtext.h"

enum hist_kind { HIST_TTFT, HIST_TPOT, HIST_E2E, HIST_KINDS };
#define HISTBOUNDS_MAX 64       /* bounds kept per histogram */
#define HISTBOUNDS_MAX_SETS 256 /* distinct sets interned */

struct histbounds {
	size_t n[HIST_KINDS];        /* 0: the engine showed no such histogram */
	const double *v[HIST_KINDS]; /* ascending, finite (+Inf left out) */
};

struct histbounds_scratch;

/* Takes one sample of a page whose name (prefix removed: "vllm:",
 * "sglang:", "sglang_") is name[0..len); allocates *sc at the first bucket
 * seen. The caller filters SGLang's TP ranks as for every series. */
void histbounds_observe(struct histbounds_scratch **sc, const char *name, size_t len,
			const struct promtext_sample *s);
/* The interned set of what *sc collected (NULL: no histogram, or the table
 * is full), freeing *sc and setting it NULL. */
const struct histbounds *histbounds_intern(struct histbounds_scratch **sc);
void histbounds_scratch_free(struct histbounds_scratch **sc);

/* Whether v is a bound of kind k in b (to a relative 1e-9); when it is
 * not, *below and *above are the nearest bounds (0 when none). */
bool histbounds_has(const struct histbounds *b, enum hist_kind k, double v, double *below,
		    double *above);
/* "nearest bounds 1 and 2.5", or "nearest bound 7680" past the last. */
void histbounds_nearest(char *out, size_t n, double below, double above);
const char *hist_kind_name(enum hist_kind k); /* "time_to_first_token_seconds", ... */

/* vLLM's default bounds (llm-d-inference-sim's too), for render's notes. */
extern const struct histbounds histbounds_vllm_default;

#endif
