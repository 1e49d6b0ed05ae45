#include "histbounds.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "strparse.h"

/* The collected lists: TPOT's old name apart, used when the new is absent
 * (as the rules resolve it per pod). */
enum { S_TTFT, S_ITL, S_TPOT_OLD, S_E2E, S_LISTS };
struct histbounds_scratch {
	size_t n[S_LISTS];
	double v[S_LISTS][HISTBOUNDS_MAX];
};

static const char *const bucket_names[S_LISTS] = {
	"time_to_first_token_seconds_bucket", "inter_token_latency_seconds_bucket",
	"time_per_output_token_seconds_bucket", "e2e_request_latency_seconds_bucket"};

const char *hist_kind_name(enum hist_kind k)
{
	switch (k) {
	case HIST_TTFT:
		return "time_to_first_token_seconds";
	case HIST_TPOT:
		return "inter_token_latency_seconds";
	case HIST_E2E:
	case HIST_KINDS:
		break;
	}
	return "e2e_request_latency_seconds";
}

/* Inserts v into the ascending, duplicate-free list l[0..*n). */
static void insert(double *l, size_t *n, double v)
{
	size_t i = 0;

	while (i < *n && l[i] < v)
		i++;
	if ((i < *n && l[i] == v) || *n == HISTBOUNDS_MAX)
		return;
	memmove(l + i + 1, l + i, (*n - i) * sizeof(*l));
	l[i] = v;
	(*n)++;
}

void histbounds_observe(struct histbounds_scratch **sc, const char *name, size_t len,
			const struct promtext_sample *s)
{
	const struct promtext_label *le;
	double v;
	int i;

	if (!strparse_suffix(name, len, "_bucket"))
		return;
	for (i = 0; i < S_LISTS; i++)
		if (strparse_eq(name, len, bucket_names[i]))
			break;
	if (i == S_LISTS || !(le = promtext_label_get(s, "le")) ||
	    strparse_double(le->value, le->value_len, &v) != IM_OK || !isfinite(v))
		return;
	if (!*sc)
		*sc = im_xcalloc(1, sizeof(**sc));
	insert((*sc)->v[i], &(*sc)->n[i], v);
}

void histbounds_scratch_free(struct histbounds_scratch **sc)
{
	im_free(*sc);
	*sc = NULL;
}

/* The interned sets, in static storage: nothing to free, and memory is
 * touched only as sets are added (a fleet shows a handful). */
static struct interned {
	struct histbounds b;
	double v[HIST_KINDS * HISTBOUNDS_MAX];
} sets[HISTBOUNDS_MAX_SETS];
static size_t nsets;

static bool same(const struct histbounds *a, const size_t *n, double *const *v)
{
	for (int k = 0; k < HIST_KINDS; k++)
		if (a->n[k] != n[k] || (n[k] && memcmp(a->v[k], v[k], n[k] * sizeof(double))))
			return false;
	return true;
}

const struct histbounds *histbounds_intern(struct histbounds_scratch **sc)
{
	struct histbounds_scratch *s = *sc;
	size_t n[HIST_KINDS];
	double *v[HIST_KINDS], *p;
	struct histbounds *b;
	int itl;

	if (!s)
		return NULL;
	itl = s->n[S_ITL] ? S_ITL : S_TPOT_OLD;
	n[HIST_TTFT] = s->n[S_TTFT], v[HIST_TTFT] = s->v[S_TTFT];
	n[HIST_TPOT] = s->n[itl], v[HIST_TPOT] = s->v[itl];
	n[HIST_E2E] = s->n[S_E2E], v[HIST_E2E] = s->v[S_E2E];
	for (size_t i = 0; i < nsets; i++) {
		if (same(&sets[i].b, n, v)) {
			histbounds_scratch_free(sc);
			return &sets[i].b;
		}
	}
	if (nsets == HISTBOUNDS_MAX_SETS) {
		histbounds_scratch_free(sc);
		return NULL;
	}
	b = &sets[nsets].b;
	p = sets[nsets++].v;
	for (int k = 0; k < HIST_KINDS; k++) {
		b->n[k] = n[k];
		b->v[k] = p;
		memcpy(p, v[k], n[k] * sizeof(double));
		p += n[k];
	}
	histbounds_scratch_free(sc);
	return b;
}

bool histbounds_has(const struct histbounds *b, enum hist_kind k, double v, double *below,
		    double *above)
{
	*below = *above = 0;
	for (size_t i = 0; b && i < b->n[k]; i++) {
		double x = b->v[k][i];
		if (fabs(x - v) <= 1e-9 * fmax(fabs(x), fabs(v)))
			return true;
		if (x < v)
			*below = x;
		else if (*above == 0)
			*above = x;
	}
	return false;
}

void histbounds_nearest(char *out, size_t n, double below, double above)
{
	if (below > 0 && above > 0)
		snprintf(out, n, "nearest bounds %g and %g", below, above);
	else
		snprintf(out, n, "nearest bound %g", below > 0 ? below : above);
}

/* vLLM's metrics (vllm/v1/metrics/loggers.py), which llm-d-inference-sim
 * copies: time to first token, inter-token latency (and time per output
 * token), end-to-end request latency. */
static const double vllm_ttft[] = {0.001, 0.005, 0.01, 0.02,  0.04,  0.06,  0.08, 0.1,
				   0.25,  0.5,   0.75, 1.0,   2.5,   5.0,   7.5,  10.0,
				   20.0,  40.0,  80.0, 160.0, 640.0, 2560.0};
static const double vllm_tpot[] = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3,  0.4, 0.5,
				   0.75, 1.0,   2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};
static const double vllm_e2e[] = {0.3,  0.5,   0.8,   1.0,   1.5,   2.0,    2.5,
				  5.0,  10.0,  15.0,  20.0,  30.0,  40.0,   50.0,
				  60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};
const struct histbounds histbounds_vllm_default = {
	.n = {sizeof(vllm_ttft) / sizeof(double), sizeof(vllm_tpot) / sizeof(double),
	      sizeof(vllm_e2e) / sizeof(double)},
	.v = {vllm_ttft, vllm_tpot, vllm_e2e},
};
