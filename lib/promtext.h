/*
 * promtext.h - streaming parser of the Prometheus text exposition format.
 *
 * Reads text format 0.0.4 in full (HELP, TYPE, comments, blank lines, label
 * value escapes \\ \" \n, HELP escapes \\ \n, +Inf/-Inf/NaN, optional
 * integer millisecond timestamps, every metric type, `_created` samples) and
 * the basics of OpenMetrics 1.0 text (`# EOF`, `# UNIT`, float-second
 * timestamps, exemplars after " # " which are skipped, counter families
 * `foo` whose samples are `foo_total` / `foo_created`).
 *
 *   struct promtext p;
 *   promtext_init(&p, NULL, on_sample, ctx);
 *   while (bytes arrive)
 *           if ((result = promtext_feed(&p, chunk, n))) break;
 *   if (!result) result = promtext_finish(&p);
 *   ... p.stats, promtext_problem(&p) ...
 *   promtext_release(&p);
 *
 * Streaming. promtext_feed takes chunks split anywhere (as libcurl hands
 * them over). Each byte is scanned for a newline once; a complete line is
 * parsed straight from the caller's chunk (zero copy) and only the partial
 * last line is carried to the next call. The results never depend on where
 * the chunks were split.
 *
 * Bad input. A page is never rejected for one bad line:
 *  - a malformed line (bad name, bad escape, duplicate label name, a value or
 *    timestamp that is not a number, ...) is skipped and counted in
 *    stats.malformed;
 *  - a sample with a label value longer than max_label_value, with more than
 *    max_labels labels, or on a line longer than max_line is skipped and
 *    counted in stats.skipped_oversized. A line that outgrows max_line while
 *    it is still arriving is not buffered further: the parser drops what it
 *    carried and discards bytes until the next newline, so memory stays
 *    bounded by max_line whatever the page holds (vLLM forks have served
 *    22 MB pages with multi-megabyte label values).
 * The first such problem is kept as a message naming the line and what was
 * wrong, e.g. `line 12: invalid value "abc" for vllm:num_requests_running`
 * (promtext_problem). Only two things stop parsing: a body longer than
 * max_body (IM_TOOBIG; the message says so) and a callback that returns
 * anything but IM_OK (that result is returned). Both are sticky: later
 * feed/finish calls return the same result and call nothing.
 *
 * Views. Names, label names and label values in a sample, and its family,
 * are (pointer, length) views that are NOT NUL-terminated and are valid
 * only during the callback: copy what you keep. Label values are unescaped. The callback may
 * not call feed/finish/release on the parser that called it.
 *
 * Memory: all allocation goes through alloc.h (which aborts on exhaustion),
 * so no function here fails with IM_NOMEM. Each buffer the parser holds is
 * capped by max_line: the carried line, an unescape area, and the current
 * family's name, help and unit (in practice the first two), plus the labels
 * array of one sample (at most max_labels entries).
 *
 * Threads: a parser is used by one thread at a time; distinct parsers are
 * independent.
 */
#ifndef INFERMON_PROMTEXT_H
#define INFERMON_PROMTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

/* From the family's TYPE line; UNTYPED when there is none or it says
 * "untyped" / "unknown". INFO, STATESET and GAUGEHISTOGRAM are OpenMetrics. */
enum promtext_type {
	PROMTEXT_UNTYPED,
	PROMTEXT_COUNTER,
	PROMTEXT_GAUGE,
	PROMTEXT_HISTOGRAM,
	PROMTEXT_SUMMARY,
	PROMTEXT_INFO,
	PROMTEXT_STATESET,
	PROMTEXT_GAUGEHISTOGRAM,
};

struct promtext_label {
	const char *name;
	size_t name_len;
	const char *value; /* unescaped */
	size_t value_len;
};

/*
 * The family a sample belongs to: the one named by the latest HELP / TYPE /
 * UNIT lines, when the sample's name is that name plus a suffix its type
 * allows (counter: "", _total, _created; histogram: _bucket, _sum, _count,
 * _created; summary: "", _sum, _count, _created; gaugehistogram: _bucket,
 * _gsum, _gcount; info: "", _info; others: ""). A counter family declared
 * as `foo_total` (as prometheus_client writes 0.0.4) also owns `foo_created`.
 * A sample outside the current family gets a family of its own: its name,
 * UNTYPED, no help.
 */
struct promtext_family {
	const char *name;
	size_t name_len;
	enum promtext_type type;
	const char *help; /* unescaped; "" when there is no HELP line */
	size_t help_len;
	const char *unit; /* OpenMetrics # UNIT; "" when absent */
	size_t unit_len;
};

struct promtext_sample {
	const char *name;
	size_t name_len;
	const struct promtext_label *labels; /* in page order */
	size_t nlabels;
	double value;
	bool has_timestamp;
	int64_t timestamp_ms; /* 0.0.4: as written; OpenMetrics: seconds × 1000, rounded */
	const struct promtext_family *family;
	uint64_t line; /* 1-based line number in the body */
};

/* A non-OK result stops parsing; feed/finish return it. */
typedef im_result (*promtext_sample_cb)(void *ctx, const struct promtext_sample *s);

/* Zero fields take the defaults below. */
struct promtext_opts {
	size_t max_body;        /* whole body; past it: IM_TOOBIG */
	size_t max_line;        /* one line, excluding its newline */
	size_t max_label_value; /* one unescaped label value */
	size_t max_labels;      /* labels on one sample */
	bool openmetrics;       /* body is application/openmetrics-text */
};

#define PROMTEXT_MAX_BODY ((size_t)64 * 1024 * 1024)
#define PROMTEXT_MAX_LINE ((size_t)1024 * 1024)
#define PROMTEXT_MAX_LABEL_VALUE ((size_t)64 * 1024)
#define PROMTEXT_MAX_LABELS ((size_t)256)

struct promtext_stats {
	uint64_t bytes;             /* fed so far */
	uint64_t lines;             /* complete lines seen, incl. blank and comments */
	uint64_t samples;           /* handed to the callback */
	uint64_t skipped_oversized; /* samples (or comment lines) dropped by a size cap */
	uint64_t malformed;         /* lines dropped as malformed */
	bool eof;                   /* a "# EOF" line was seen */
};

/* Private state; read only `stats`. */
struct promtext {
	struct promtext_opts opts;
	promtext_sample_cb cb;
	void *ctx;
	struct promtext_stats stats;
	struct buf carry; /* the partial last line */
	bool discarding;  /* inside an oversized line, dropping to its newline */
	char head[136];   /* its first bytes, to name its metric when it ends */
	size_t head_len;
	struct buf fam_name, fam_help, fam_unit;
	enum promtext_type fam_type;
	char *unesc; /* unescaped label values of the current line */
	size_t unesc_cap;
	struct promtext_label *labels;
	size_t labels_cap;
	struct buf problem; /* first problem, "line N: ..." */
	bool has_problem;
	im_result result; /* sticky failure */
	bool finished;
};

/* In place, cannot fail; allocates nothing yet. opts may be NULL (all
 * defaults); it is copied. cb must not be NULL. */
void promtext_init(struct promtext *p, const struct promtext_opts *opts, promtext_sample_cb cb,
		   void *ctx);
/* Frees everything the parser holds; it may be initialised again. */
void promtext_release(struct promtext *p);
/* Starts a new body with the same options and callback, keeping allocations
 * (one parser per scrape target, reset before each scrape). */
void promtext_reset(struct promtext *p);

/* Parses the complete lines in data[0..len) and carries the rest. Calls cb
 * for each sample, in page order. Returns IM_OK, IM_TOOBIG (body past
 * max_body), IM_INVAL (called after finish) or the callback's result. */
im_result promtext_feed(struct promtext *p, const char *data, size_t len);
/* The body has ended: parses a last line that had no newline. In
 * OpenMetrics mode a body without "# EOF" counts one malformed line (it may
 * have been cut). Returns as promtext_feed. */
im_result promtext_finish(struct promtext *p);

/* The first problem met ("line 3: ..."), or "" when none. A fatal error
 * (body too big) replaces it. Valid until the next reset/release. */
const char *promtext_problem(const struct promtext *p);

/* The sample's label called name (NUL-terminated), or NULL. */
const struct promtext_label *promtext_label_get(const struct promtext_sample *s, const char *name);

/* "counter", "gauge", ...; "untyped" for unknown values. */
const char *promtext_type_name(enum promtext_type t);

#endif
