#include "promtext.h"

#include <math.h>
#include <string.h>

#include "alloc.h"
#include "strparse.h"

/* How much of an offending token or name a problem message quotes. */
#define QUOTE_MAX 64
#define NAME_MAX_IN_MSG 128

static const char *const type_names[] = {"untyped", "counter", "gauge",    "histogram",
					 "summary", "info",    "stateset", "gaugehistogram"};

const char *promtext_type_name(enum promtext_type t)
{
	return (unsigned)t < sizeof(type_names) / sizeof(type_names[0]) ? type_names[t] : "untyped";
}

static inline bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static inline bool is_label_start(unsigned char c)
{
	return (unsigned)((c | 0x20) - 'a') < 26 || c == '_';
}

static inline bool is_label_char(unsigned char c)
{
	return is_label_start(c) || (unsigned)(c - '0') < 10;
}

/* Metric names may also contain ':' (recording-rule style, and vllm:/sglang:). */
static inline bool is_name_start(unsigned char c)
{
	return is_label_start(c) || c == ':';
}

static inline bool is_name_char(unsigned char c)
{
	return is_label_char(c) || c == ':';
}

static const char *skip_blanks(const char *cur, const char *end)
{
	while (cur < end && is_blank(*cur))
		cur++;
	return cur;
}

static const char *token_end(const char *cur, const char *end)
{
	while (cur < end && !is_blank(*cur))
		cur++;
	return cur;
}

void promtext_init(struct promtext *p, const struct promtext_opts *opts, promtext_sample_cb cb,
		   void *ctx)
{
	memset(p, 0, sizeof(*p));
	if (opts)
		p->opts = *opts;
	if (!p->opts.max_body)
		p->opts.max_body = PROMTEXT_MAX_BODY;
	if (!p->opts.max_line)
		p->opts.max_line = PROMTEXT_MAX_LINE;
	if (!p->opts.max_label_value)
		p->opts.max_label_value = PROMTEXT_MAX_LABEL_VALUE;
	if (!p->opts.max_labels)
		p->opts.max_labels = PROMTEXT_MAX_LABELS;
	p->cb = cb;
	p->ctx = ctx;
	buf_init(&p->carry, p->opts.max_line);
	buf_init(&p->fam_name, p->opts.max_line);
	buf_init(&p->fam_help, p->opts.max_line);
	buf_init(&p->fam_unit, p->opts.max_line);
	buf_init(&p->problem, 1024);
	p->fam_type = PROMTEXT_UNTYPED;
}

void promtext_release(struct promtext *p)
{
	buf_release(&p->carry);
	buf_release(&p->fam_name);
	buf_release(&p->fam_help);
	buf_release(&p->fam_unit);
	buf_release(&p->problem);
	im_free(p->unesc);
	im_free(p->labels);
	p->unesc = NULL;
	p->unesc_cap = 0;
	p->labels = NULL;
	p->labels_cap = 0;
}

void promtext_reset(struct promtext *p)
{
	buf_reset(&p->carry);
	buf_reset(&p->fam_name);
	buf_reset(&p->fam_help);
	buf_reset(&p->fam_unit);
	buf_reset(&p->problem);
	memset(&p->stats, 0, sizeof(p->stats));
	p->fam_type = PROMTEXT_UNTYPED;
	p->discarding = false;
	p->head_len = 0;
	p->has_problem = false;
	p->result = IM_OK;
	p->finished = false;
}

const char *promtext_problem(const struct promtext *p)
{
	return buf_str(&p->problem);
}

const struct promtext_label *promtext_label_get(const struct promtext_sample *s, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < s->nlabels; i++)
		if (s->labels[i].name_len == n && memcmp(s->labels[i].name, name, n) == 0)
			return &s->labels[i];
	return NULL;
}

/* --- problem messages ---------------------------------------------------- */

/* Appends s quoted, escaping what is not printable ASCII (a page need not
 * be UTF-8), cut at QUOTE_MAX. */
static void add_quoted(struct buf *b, const char *s, size_t n)
{
	buf_add_quoted(b, s, n, QUOTE_MAX, BUF_QUOTE_ASCII);
}

/* Names in messages were validated (name characters only); only cut them. */
static void add_name(struct buf *b, const char *s, size_t n)
{
	buf_add(b, s, n < NAME_MAX_IN_MSG ? n : NAME_MAX_IN_MSG);
	if (n > NAME_MAX_IN_MSG)
		buf_adds(b, "...");
}

/* Counts a problem; returns true when its message should be written (it is
 * the first), with "line N: " already there. */
static bool problem(struct promtext *p, uint64_t *counter, uint64_t line)
{
	(*counter)++;
	if (p->has_problem)
		return false;
	p->has_problem = true;
	buf_printf(&p->problem, "line %llu: ", (unsigned long long)line);
	return true;
}

static void malformed(struct promtext *p, uint64_t line, const char *what, const char *tok,
		      size_t tok_len, const char *name, size_t name_len)
{
	if (!problem(p, &p->stats.malformed, line))
		return;
	buf_adds(&p->problem, what);
	if (tok) {
		buf_addc(&p->problem, ' ');
		add_quoted(&p->problem, tok, tok_len);
	}
	if (name) {
		buf_adds(&p->problem, " for ");
		add_name(&p->problem, name, name_len);
	}
}

/* A line too long for max_line: names its metric when it starts with one.
 * Only the first sizeof(p->head) bytes are looked at, whether the line came
 * in one piece or was discarded while arriving, so the message does not
 * depend on the chunking. */
static void oversized_line(struct promtext *p, uint64_t line, const char *head, size_t head_len)
{
	const char *cur, *end, *name;

	if (head_len > sizeof(p->head))
		head_len = sizeof(p->head);
	cur = skip_blanks(head, head + head_len);
	end = head + head_len;
	name = cur;
	if (!problem(p, &p->stats.skipped_oversized, line))
		return;
	if (cur < end && is_name_start((unsigned char)*cur)) {
		while (cur < end && is_name_char((unsigned char)*cur))
			cur++;
		buf_adds(&p->problem, "sample ");
		add_name(&p->problem, name, (size_t)(cur - name));
		buf_addc(&p->problem, ' ');
	}
	buf_printf(&p->problem, "skipped: line longer than the %zu-byte cap", p->opts.max_line);
}

/* --- families ------------------------------------------------------------ */

static bool suffix_is(const char *s, size_t n, const char *suffix)
{
	return strparse_eq(s, n, suffix);
}

static bool suffix_allowed(enum promtext_type t, const char *s, size_t n)
{
	switch (t) {
	case PROMTEXT_COUNTER:
		return n == 0 || suffix_is(s, n, "_total") || suffix_is(s, n, "_created");
	case PROMTEXT_HISTOGRAM:
		return suffix_is(s, n, "_bucket") || suffix_is(s, n, "_sum") ||
		       suffix_is(s, n, "_count") || suffix_is(s, n, "_created");
	case PROMTEXT_GAUGEHISTOGRAM:
		return suffix_is(s, n, "_bucket") || suffix_is(s, n, "_gsum") ||
		       suffix_is(s, n, "_gcount");
	case PROMTEXT_SUMMARY:
		return n == 0 || suffix_is(s, n, "_sum") || suffix_is(s, n, "_count") ||
		       suffix_is(s, n, "_created");
	case PROMTEXT_INFO:
		return n == 0 || suffix_is(s, n, "_info");
	default:
		return n == 0;
	}
}

static bool in_family(const struct promtext *p, const char *name, size_t n)
{
	const char *fam = p->fam_name.ptr;
	size_t flen = p->fam_name.len;

	if (flen == 0)
		return false;
	if (n >= flen && memcmp(name, fam, flen) == 0 &&
	    suffix_allowed(p->fam_type, name + flen, n - flen))
		return true;
	/* 0.0.4 as prometheus_client writes it: "# TYPE foo_total counter",
	 * then foo_total and foo_created. */
	return p->fam_type == PROMTEXT_COUNTER && flen > 6 &&
	       memcmp(fam + flen - 6, "_total", 6) == 0 && n == flen + 2 &&
	       memcmp(name, fam, flen - 6) == 0 && memcmp(name + flen - 6, "_created", 8) == 0;
}

/* HELP, TYPE or UNIT for `name`: a different name starts a new family. */
static void family_switch(struct promtext *p, const char *name, size_t n)
{
	if (p->fam_name.len == n && memcmp(p->fam_name.ptr, name, n) == 0)
		return;
	buf_reset(&p->fam_name);
	buf_reset(&p->fam_help);
	buf_reset(&p->fam_unit);
	p->fam_type = PROMTEXT_UNTYPED;
	buf_add(&p->fam_name, name, n); /* n <= max_line: cannot fail */
}

static void parse_comment(struct promtext *p, const char *cur, const char *end, uint64_t line)
{
	const char *kw, *kw_end, *name, *name_end, *rest;
	size_t kw_len;

	cur = skip_blanks(cur + 1, end);
	kw = cur;
	kw_end = token_end(cur, end);
	kw_len = (size_t)(kw_end - kw);
	if (strparse_eq(kw, kw_len, "EOF") && skip_blanks(kw_end, end) == end) {
		p->stats.eof = true;
		return;
	}
	if (!strparse_eq(kw, kw_len, "HELP") && !strparse_eq(kw, kw_len, "TYPE") &&
	    !strparse_eq(kw, kw_len, "UNIT"))
		return; /* a plain comment */

	name = skip_blanks(kw_end, end);
	name_end = token_end(name, end);
	if (name == name_end) {
		malformed(p, line,
			  kw[0] == 'H'   ? "HELP line without a metric name"
			  : kw[0] == 'T' ? "TYPE line without a metric name"
					 : "UNIT line without a metric name",
			  NULL, 0, NULL, 0);
		return;
	}
	for (const char *c = name; c < name_end; c++) {
		if (c == name ? !is_name_start((unsigned char)*c)
			      : !is_name_char((unsigned char)*c)) {
			malformed(p, line, "invalid metric name", name, (size_t)(name_end - name),
				  NULL, 0);
			return;
		}
	}
	family_switch(p, name, (size_t)(name_end - name));
	rest = skip_blanks(name_end, end);

	if (kw[0] == 'T') {
		const char *t_end = token_end(rest, end);
		size_t tn = (size_t)(t_end - rest);
		int t = -1;

		for (int i = 0; i < (int)(sizeof(type_names) / sizeof(type_names[0])); i++)
			if (strparse_eq(rest, tn, type_names[i]))
				t = i;
		if (strparse_eq(rest, tn, "unknown"))
			t = PROMTEXT_UNTYPED;
		if (t < 0 || skip_blanks(t_end, end) != end) {
			malformed(p, line, "invalid type", rest, (size_t)(end - rest), name,
				  (size_t)(name_end - name));
			return;
		}
		p->fam_type = (enum promtext_type)t;
	} else if (kw[0] == 'H') {
		/* HELP escapes: \\ and \n; any other backslash stays as written. */
		buf_reset(&p->fam_help);
		while (rest < end) {
			const char *bs = memchr(rest, '\\', (size_t)(end - rest));
			if (!bs) {
				buf_add(&p->fam_help, rest, (size_t)(end - rest));
				break;
			}
			buf_add(&p->fam_help, rest, (size_t)(bs - rest));
			if (bs + 1 < end && (bs[1] == 'n' || bs[1] == '\\')) {
				buf_addc(&p->fam_help, bs[1] == 'n' ? '\n' : '\\');
				rest = bs + 2;
			} else {
				buf_addc(&p->fam_help, '\\');
				rest = bs + 1;
			}
		}
	} else {
		const char *u_end = end;
		while (u_end > rest && is_blank(u_end[-1]))
			u_end--;
		buf_reset(&p->fam_unit);
		buf_add(&p->fam_unit, rest, (size_t)(u_end - rest));
	}
}

/* --- samples ------------------------------------------------------------- */

static void labels_reserve(struct promtext *p, size_t n)
{
	size_t cap;

	if (n <= p->labels_cap)
		return;
	cap = p->labels_cap ? p->labels_cap * 2 : 16;
	if (cap > p->opts.max_labels)
		cap = p->opts.max_labels;
	if (cap < n)
		cap = n;
	p->labels = im_xrealloc(p->labels, cap * sizeof(*p->labels));
	p->labels_cap = cap;
}

/* Room to unescape every value of a line of n bytes. Called before the
 * first escaped value of a line is written, so no pointer into the area is
 * live when it moves. */
static void unesc_reserve(struct promtext *p, size_t n)
{
	if (n <= p->unesc_cap)
		return;
	p->unesc = im_xrealloc(p->unesc, n);
	p->unesc_cap = n;
}

static bool parse_timestamp(const struct promtext *p, const char *s, size_t n, int64_t *ms)
{
	double sec;

	if (!p->opts.openmetrics) {
		if (n > 1 && s[0] == '+') {
			s++;
			n--;
		}
		return strparse_i64(s, n, INT64_MIN, INT64_MAX, ms) == IM_OK;
	}
	/* OpenMetrics: seconds, possibly fractional. */
	if (strparse_double(s, n, &sec) != IM_OK || !isfinite(sec) || fabs(sec) >= 9.2e15)
		return false;
	*ms = (int64_t)llround(sec * 1000.0);
	return true;
}

static void parse_sample(struct promtext *p, const char *line, const char *end, uint64_t lineno)
{
	const char *cur = line, *name = line, *tok;
	size_t name_len, nlabels = 0, unesc_len = 0;
	struct promtext_sample s;
	struct promtext_family fam;
	im_result result;

	if (!is_name_start((unsigned char)*cur)) {
		malformed(p, lineno, "invalid metric name", cur,
			  (size_t)(token_end(cur, end) - cur), NULL, 0);
		return;
	}
	while (cur < end && is_name_char((unsigned char)*cur))
		cur++;
	name_len = (size_t)(cur - name);
	if (cur < end && !is_blank(*cur) && *cur != '{') {
		malformed(p, lineno, "invalid metric name", name,
			  (size_t)(token_end(cur, end) - name), NULL, 0);
		return;
	}
	cur = skip_blanks(cur, end);

	if (cur < end && *cur == '{') {
		cur++;
		for (;;) {
			const char *ln, *v, *q, *bs;
			size_t ln_len, v_len;

			cur = skip_blanks(cur, end);
			if (cur < end && *cur == '}') {
				cur++;
				break;
			}
			ln = cur;
			if (cur < end && is_label_start((unsigned char)*cur))
				while (cur < end && is_label_char((unsigned char)*cur))
					cur++;
			ln_len = (size_t)(cur - ln);
			if (cur >= end) {
				malformed(p, lineno, "unterminated label set", NULL, 0, name,
					  name_len);
				return;
			}
			if (ln_len == 0) {
				malformed(p, lineno, "expected a label name at", cur,
					  (size_t)(end - cur), name, name_len);
				return;
			}
			if (*cur != '=' && *cur != ',' && *cur != '}' && !is_blank(*cur)) {
				const char *te = cur;
				while (te < end && *te != '=' && *te != ',' && *te != '}' &&
				       !is_blank(*te))
					te++;
				malformed(p, lineno, "invalid label name", ln, (size_t)(te - ln),
					  name, name_len);
				return;
			}
			cur = skip_blanks(cur, end);
			if (cur >= end || *cur != '=') {
				malformed(p, lineno, "expected '=' after label", ln, ln_len, name,
					  name_len);
				return;
			}
			cur = skip_blanks(cur + 1, end);
			if (cur >= end || *cur != '"') {
				malformed(p, lineno, "unquoted value of label", ln, ln_len, name,
					  name_len);
				return;
			}
			v = ++cur;
			q = memchr(cur, '"', (size_t)(end - cur));
			bs = memchr(cur, '\\', (size_t)((q ? q : end) - cur));
			if (!bs) {
				if (!q) {
					malformed(p, lineno, "unterminated value of label", ln,
						  ln_len, name, name_len);
					return;
				}
				v_len = (size_t)(q - v);
				cur = q + 1;
			} else {
				/* Label escapes: \\ \" \n. Any other backslash is kept
				 * as written, as Prometheus' own scraper does. */
				char *o;
				unesc_reserve(p, (size_t)(end - line));
				o = p->unesc + unesc_len;
				memcpy(o, v, (size_t)(bs - v));
				v_len = (size_t)(bs - v);
				cur = bs;
				while (cur < end && *cur != '"') {
					if (*cur != '\\') {
						o[v_len++] = *cur++;
						continue;
					}
					if (cur + 1 >= end)
						break;
					if (cur[1] == 'n')
						o[v_len++] = '\n';
					else if (cur[1] == '\\' || cur[1] == '"')
						o[v_len++] = cur[1];
					else {
						o[v_len++] = '\\';
						o[v_len++] = cur[1];
					}
					cur += 2;
				}
				if (cur >= end || *cur != '"') {
					malformed(p, lineno, "unterminated value of label", ln,
						  ln_len, name, name_len);
					return;
				}
				cur++;
				v = o;
				unesc_len += v_len;
			}
			if (v_len > p->opts.max_label_value) {
				if (problem(p, &p->stats.skipped_oversized, lineno)) {
					buf_adds(&p->problem, "sample ");
					add_name(&p->problem, name, name_len);
					buf_adds(&p->problem, " skipped: value of label ");
					add_quoted(&p->problem, ln, ln_len);
					buf_printf(&p->problem,
						   " has %zu bytes, over the %zu-byte cap", v_len,
						   p->opts.max_label_value);
				}
				return;
			}
			if (nlabels == p->opts.max_labels) {
				if (problem(p, &p->stats.skipped_oversized, lineno)) {
					buf_adds(&p->problem, "sample ");
					add_name(&p->problem, name, name_len);
					buf_printf(&p->problem, " skipped: more than %zu labels",
						   p->opts.max_labels);
				}
				return;
			}
			for (size_t i = 0; i < nlabels; i++) {
				if (p->labels[i].name_len == ln_len &&
				    memcmp(p->labels[i].name, ln, ln_len) == 0) {
					malformed(p, lineno, "duplicate label", ln, ln_len, name,
						  name_len);
					return;
				}
			}
			labels_reserve(p, nlabels + 1);
			p->labels[nlabels++] = (struct promtext_label){ln, ln_len, v, v_len};
			cur = skip_blanks(cur, end);
			if (cur >= end) {
				malformed(p, lineno, "unterminated label set", NULL, 0, name,
					  name_len);
				return;
			}
			if (*cur == ',')
				cur++;
			else if (*cur == '}') {
				cur++;
				break;
			} else {
				malformed(p, lineno, "expected ',' or '}' after label", ln, ln_len,
					  name, name_len);
				return;
			}
		}
		cur = skip_blanks(cur, end);
	}

	if (cur >= end) {
		malformed(p, lineno, "missing value", NULL, 0, name, name_len);
		return;
	}
	tok = cur;
	cur = token_end(cur, end);
	if (strparse_double(tok, (size_t)(cur - tok), &s.value) != IM_OK) {
		malformed(p, lineno, "invalid value", tok, (size_t)(cur - tok), name, name_len);
		return;
	}
	s.has_timestamp = false;
	s.timestamp_ms = 0;
	cur = skip_blanks(cur, end);
	if (cur < end && *cur != '#') {
		tok = cur;
		cur = token_end(cur, end);
		if (!parse_timestamp(p, tok, (size_t)(cur - tok), &s.timestamp_ms)) {
			malformed(p, lineno, "invalid timestamp", tok, (size_t)(cur - tok), name,
				  name_len);
			return;
		}
		s.has_timestamp = true;
		cur = skip_blanks(cur, end);
	}
	/* What follows " # " is an OpenMetrics exemplar: skipped. */
	if (cur < end && *cur != '#') {
		malformed(p, lineno, "unexpected text", cur, (size_t)(end - cur), name, name_len);
		return;
	}

	if (in_family(p, name, name_len)) {
		fam = (struct promtext_family){p->fam_name.ptr, p->fam_name.len,
					       p->fam_type,     buf_str(&p->fam_help),
					       p->fam_help.len, buf_str(&p->fam_unit),
					       p->fam_unit.len};
	} else {
		fam = (struct promtext_family){name, name_len, PROMTEXT_UNTYPED, "", 0, "", 0};
	}
	s.name = name;
	s.name_len = name_len;
	s.labels = p->labels;
	s.nlabels = nlabels;
	s.family = &fam;
	s.line = lineno;
	p->stats.samples++;
	result = p->cb(p->ctx, &s);
	if (result)
		p->result = result;
}

/* One complete line without its '\n'. */
static void parse_line(struct promtext *p, const char *line, size_t n)
{
	const char *end = line + n, *cur;
	uint64_t lineno = ++p->stats.lines;

	if (n && end[-1] == '\r')
		end--;
	cur = skip_blanks(line, end);
	if (cur == end)
		return;
	if (p->opts.openmetrics && p->stats.eof) {
		malformed(p, lineno, "data after # EOF:", cur, (size_t)(end - cur), NULL, 0);
		return;
	}
	if (*cur == '#')
		parse_comment(p, cur, end, lineno);
	else
		parse_sample(p, cur, end, lineno);
}

/* Keeps the first bytes of an oversized line, which name its metric. */
static void head_add(struct promtext *p, const char *s, size_t n)
{
	size_t room = sizeof(p->head) - p->head_len;

	if (n > room)
		n = room;
	memcpy(p->head + p->head_len, s, n);
	p->head_len += n;
}

/* The line that is arriving outgrew max_line: drop it and what follows up
 * to its newline. It is reported when it ends, once its head is known
 * whatever the chunking. */
static void start_discard(struct promtext *p, const char *more, size_t more_len)
{
	p->head_len = 0;
	head_add(p, buf_str(&p->carry), p->carry.len);
	head_add(p, more, more_len);
	buf_reset(&p->carry);
	p->discarding = true;
}

static void end_discard(struct promtext *p)
{
	p->discarding = false;
	p->stats.lines++;
	oversized_line(p, p->stats.lines, p->head, p->head_len);
}

im_result promtext_feed(struct promtext *p, const char *data, size_t len)
{
	const char *cur = data, *end = data + len, *nl;
	size_t max_line = p->opts.max_line;

	if (p->result)
		return p->result;
	if (p->finished)
		return IM_INVAL;
	if (len > p->opts.max_body - p->stats.bytes) {
		buf_reset(&p->problem);
		buf_printf(&p->problem, "body exceeds the %zu-byte cap", p->opts.max_body);
		p->has_problem = true;
		p->result = IM_TOOBIG;
		return p->result;
	}
	p->stats.bytes += len;

	while (cur < end) {
		size_t n;

		nl = memchr(cur, '\n', (size_t)(end - cur));
		if (p->discarding) {
			head_add(p, cur, (size_t)((nl ? nl : end) - cur));
			if (!nl)
				return IM_OK;
			end_discard(p);
			cur = nl + 1;
			continue;
		}
		if (!nl) {
			n = (size_t)(end - cur);
			if (n > max_line - p->carry.len)
				start_discard(p, cur, n);
			else
				buf_add(&p->carry, cur, n);
			return IM_OK;
		}
		n = (size_t)(nl - cur);
		if (p->carry.len) {
			if (n > max_line - p->carry.len) {
				start_discard(p, cur, n);
				end_discard(p);
			} else {
				buf_add(&p->carry, cur, n);
				parse_line(p, p->carry.ptr, p->carry.len);
			}
			buf_reset(&p->carry);
		} else if (n > max_line) {
			oversized_line(p, p->stats.lines + 1, cur, n);
			p->stats.lines++;
		} else {
			parse_line(p, cur, n);
		}
		if (p->result)
			return p->result;
		cur = nl + 1;
	}
	return IM_OK;
}

im_result promtext_finish(struct promtext *p)
{
	if (p->result)
		return p->result;
	if (p->finished)
		return IM_INVAL;
	p->finished = true;
	if (p->discarding) {
		end_discard(p);
	} else if (p->carry.len) {
		parse_line(p, p->carry.ptr, p->carry.len);
		buf_reset(&p->carry);
		if (p->result)
			return p->result;
	}
	if (p->opts.openmetrics && !p->stats.eof &&
	    problem(p, &p->stats.malformed, p->stats.lines + 1))
		buf_adds(&p->problem, "body ends without # EOF");
	return IM_OK;
}
