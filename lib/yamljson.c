/*
 * yamljson.c - libyaml events to cJSON values.
 *
 * The stream is read event by event (not with libyaml's document loader), so
 * the caps stop the work as soon as they are crossed: a deep or expanding
 * document fails before it is built. Collections are built on a stack of
 * frames and attached to their parent when they end. Anchored collections are
 * borrowed pointers into the document being built (nodes are never changed
 * or freed before the document ends); anchored scalars are kept as written
 * and resolved again where an alias uses them, because a scalar resolves
 * differently as a key (`1.0` -> "1") than as a value (1).
 */
#include "yamljson.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "alloc.h"

#define TAG_PREFIX "tag:yaml.org,2002:"
#define MAX_SAFE_INT ((uint64_t)1 << 53)

/* ---- value -> position table (open addressing, pointer keys) ---- */

struct pos_ent {
	const cJSON *node; /* NULL: free slot */
	int line, col;
};

struct yamljson_postab {
	struct pos_ent *e;
	size_t cap, n; /* cap is a power of two */
};

static size_t ptr_hash(const void *p)
{
	uint64_t x = (uint64_t)(uintptr_t)p;

	/* murmur3's fmix64: the last shift brings high bits down, since heap
	 * pointers differ mostly above their (always zero) low bits */
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return (size_t)x;
}

static void postab_put(struct yamljson_postab *t, const cJSON *node, int line, int col);

static void postab_grow(struct yamljson_postab *t)
{
	struct pos_ent *old = t->e;
	size_t oldcap = t->cap;

	t->cap = oldcap ? oldcap * 2 : 64;
	t->e = im_xcalloc(t->cap, sizeof(*t->e));
	t->n = 0;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].node)
			postab_put(t, old[i].node, old[i].line, old[i].col);
	im_free(old);
}

/* Inserts or replaces: a node freed early (never in the final tree) may leave
 * a stale entry, which a new node at the same address simply overwrites. */
static void postab_put(struct yamljson_postab *t, const cJSON *node, int line, int col)
{
	size_t i;

	if ((t->n + 1) * 2 > t->cap)
		postab_grow(t);
	i = ptr_hash(node) & (t->cap - 1);
	while (t->e[i].node && t->e[i].node != node)
		i = (i + 1) & (t->cap - 1);
	if (!t->e[i].node)
		t->n++;
	t->e[i] = (struct pos_ent){node, line, col};
}

static const struct pos_ent *postab_get(const struct yamljson_postab *t, const cJSON *node)
{
	size_t i;

	if (!t || !t->cap || !node)
		return NULL;
	i = ptr_hash(node) & (t->cap - 1);
	while (t->e[i].node) {
		if (t->e[i].node == node)
			return &t->e[i];
		i = (i + 1) & (t->cap - 1);
	}
	return NULL;
}

static void postab_free(struct yamljson_postab *t)
{
	if (!t)
		return;
	im_free(t->e);
	im_free(t);
}

/* ---- string-keyed table (keys borrowed; no deletion) ---- */

struct smap_ent {
	const char *key; /* NULL: free slot */
	void *val;
};

struct smap {
	struct smap_ent *e;
	size_t cap, n;
};

static size_t str_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return (size_t)(h ^ (h >> 29));
}

static void *smap_get(const struct smap *m, const char *key)
{
	size_t i;

	if (!m->cap)
		return NULL;
	i = str_hash(key) & (m->cap - 1);
	while (m->e[i].key) {
		if (strcmp(m->e[i].key, key) == 0)
			return m->e[i].val;
		i = (i + 1) & (m->cap - 1);
	}
	return NULL;
}

/* Inserts or replaces; the stored key pointer becomes key. */
static void smap_put(struct smap *m, const char *key, void *val)
{
	size_t i;

	if ((m->n + 1) * 2 > m->cap) {
		struct smap_ent *old = m->e;
		size_t oldcap = m->cap;

		m->cap = oldcap ? oldcap * 2 : 16;
		m->e = im_xcalloc(m->cap, sizeof(*m->e));
		m->n = 0;
		for (size_t j = 0; j < oldcap; j++)
			if (old[j].key)
				smap_put(m, old[j].key, old[j].val);
		im_free(old);
	}
	i = str_hash(key) & (m->cap - 1);
	while (m->e[i].key && strcmp(m->e[i].key, key) != 0)
		i = (i + 1) & (m->cap - 1);
	if (!m->e[i].key)
		m->n++;
	m->e[i] = (struct smap_ent){key, val};
}

static void smap_release(struct smap *m)
{
	im_free(m->e);
	m->e = NULL;
	m->cap = m->n = 0;
}

/* ---- parser state ---- */

struct anchor {
	struct anchor *next; /* all anchors of the document, for freeing */
	char *name;
	bool pending;      /* its collection is still being built */
	const cJSON *node; /* a collection, or NULL for a scalar */
	char *text;        /* a scalar as written, with its tag and style */
	size_t len;
	char *tag;
	bool plain;
};

struct merge {
	const cJSON *value; /* owned by the graveyard */
	int line, col;
};

struct frame {
	cJSON *node;
	int line, col; /* where the collection starts */
	bool is_map;
	struct anchor *anchor; /* completed when the collection ends */
	/* mappings only: */
	bool want_key;
	bool merge_key; /* the pending key is "<<" */
	char *key;
	int key_line, key_col;
	struct smap keys; /* member name -> cJSON member */
	struct merge *merges;
	size_t nmerges, merges_cap;
};

struct state {
	struct yamljson_opts o;
	const char *source;
	const char *data;
	size_t len;
	struct buf *err;
	struct buf scratch; /* err when the caller passed none */
	size_t nodes, bytes;

	struct frame *stack;
	int depth, stack_cap;

	struct smap anchors; /* name -> struct anchor */
	struct anchor *anchor_list;
	cJSON *graveyard; /* values given to "<<", freed with the document */

	struct yamljson_postab *pos; /* of the document being read */
	cJSON *root;
	int doc_line;

	struct yamljson_doc *docs;
	size_t ndocs, docs_cap;
};

/* ---- messages ---- */

static void add_quoted(struct buf *b, const char *s, size_t n)
{
	buf_add_quoted(b, s, n, 64, 0);
}

/* Resets err to "<source>:<line>:<col>: " and returns it for the rest. */
static struct buf *err_at(struct state *st, int line, int col)
{
	buf_reset(st->err);
	if (st->source)
		buf_printf(st->err, "%s:%d:%d: ", st->source, line, col);
	else
		buf_printf(st->err, "line %d column %d: ", line, col);
	return st->err;
}

static struct buf *err_mark(struct state *st, const yaml_mark_t *m)
{
	return err_at(st, (int)m->line + 1, (int)m->column + 1);
}

static void add_lower(struct buf *b, const char *s)
{
	for (; s && *s; s++)
		buf_addc(b, *s >= 'A' && *s <= 'Z' ? (char)(*s - 'A' + 'a') : *s);
}

static im_result libyaml_error(struct state *st, const yaml_parser_t *p)
{
	struct buf *b;

	if (p->error == YAML_MEMORY_ERROR) {
		buf_reset(st->err);
		buf_printf(st->err, "%s: out of memory", st->source ? st->source : "yaml");
		return IM_NOMEM;
	}
	if (p->error == YAML_READER_ERROR) {
		/* Reader errors carry a byte offset, not a mark. */
		int line = 1, col = 1;
		for (size_t i = 0; i < p->problem_offset && i < st->len; i++) {
			if (st->data[i] == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
		b = err_at(st, line, col);
		add_lower(b, p->problem ? p->problem : "cannot read input");
		if (p->problem_value != -1)
			buf_printf(b, " (byte 0x%02x)", (unsigned)p->problem_value & 0xff);
		return IM_PARSE;
	}
	b = err_mark(st, &p->problem_mark);
	add_lower(b, p->problem ? p->problem : "cannot parse yaml");
	if (p->context) {
		buf_adds(b, " (");
		add_lower(b, p->context);
		buf_printf(b, " that started at line %d)", (int)p->context_mark.line + 1);
	}
	return IM_PARSE;
}

/* ---- caps ---- */

static im_result count_node(struct state *st, const yaml_mark_t *m)
{
	if (++st->nodes <= st->o.max_nodes)
		return IM_OK;
	buf_printf(err_mark(st, m), "more than %zu values (aliases expanded)", st->o.max_nodes);
	return IM_TOOBIG;
}

static im_result count_bytes(struct state *st, size_t n, const yaml_mark_t *m)
{
	if (n <= st->o.max_bytes && st->bytes <= st->o.max_bytes - n) {
		st->bytes += n;
		return IM_OK;
	}
	buf_printf(err_mark(st, m), "more than %zu bytes of strings (aliases expanded)",
		   st->o.max_bytes);
	return IM_TOOBIG;
}

static im_result too_deep(struct state *st, const yaml_mark_t *m)
{
	buf_printf(err_mark(st, m), "nested deeper than %d levels", st->o.max_depth);
	return IM_TOOBIG;
}

/* ---- scalar resolution (go-yaml v2's resolve()) ---- */

enum rkind { R_STR, R_NULL, R_BOOL, R_INT, R_FLOAT };

struct rval {
	enum rkind kind;
	bool b;
	bool neg, big; /* R_INT: -mag when neg; big: beyond 64 bits */
	uint64_t mag;
	double d; /* R_FLOAT */
};

static const struct {
	const char *s;
	enum rkind kind;
	int v; /* bool value, or for floats 1 = +inf, -1 = -inf, 0 = nan */
} resolve_map[] = {
	{"y", R_BOOL, 1},       {"Y", R_BOOL, 1},       {"yes", R_BOOL, 1},
	{"Yes", R_BOOL, 1},     {"YES", R_BOOL, 1},     {"true", R_BOOL, 1},
	{"True", R_BOOL, 1},    {"TRUE", R_BOOL, 1},    {"on", R_BOOL, 1},
	{"On", R_BOOL, 1},      {"ON", R_BOOL, 1},      {"n", R_BOOL, 0},
	{"N", R_BOOL, 0},       {"no", R_BOOL, 0},      {"No", R_BOOL, 0},
	{"NO", R_BOOL, 0},      {"false", R_BOOL, 0},   {"False", R_BOOL, 0},
	{"FALSE", R_BOOL, 0},   {"off", R_BOOL, 0},     {"Off", R_BOOL, 0},
	{"OFF", R_BOOL, 0},     {"", R_NULL, 0},        {"~", R_NULL, 0},
	{"null", R_NULL, 0},    {"Null", R_NULL, 0},    {"NULL", R_NULL, 0},
	{".nan", R_FLOAT, 0},   {".NaN", R_FLOAT, 0},   {".NAN", R_FLOAT, 0},
	{".inf", R_FLOAT, 1},   {".Inf", R_FLOAT, 1},   {".INF", R_FLOAT, 1},
	{"+.inf", R_FLOAT, 1},  {"+.Inf", R_FLOAT, 1},  {"+.INF", R_FLOAT, 1},
	{"-.inf", R_FLOAT, -1}, {"-.Inf", R_FLOAT, -1}, {"-.INF", R_FLOAT, -1},
};

static size_t skip_digits(const char *s, size_t n, size_t *i)
{
	size_t start = *i;

	while (*i < n && s[*i] >= '0' && s[*i] <= '9')
		(*i)++;
	return *i - start;
}

/* ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static bool float_syntax(const char *s, size_t n)
{
	size_t i = 0;

	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	if (i < n && s[i] == '.') {
		i++;
		if (!skip_digits(s, n, &i))
			return false;
	} else {
		if (!skip_digits(s, n, &i))
			return false;
		if (i < n && s[i] == '.') {
			i++;
			skip_digits(s, n, &i);
		}
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (!skip_digits(s, n, &i))
			return false;
	}
	return i == n;
}

enum int_status { INT_OK, INT_SYNTAX, INT_RANGE };

/* Go's strconv.ParseUint(s, 0, 64) after an optional sign: 0x/0o/0b
 * prefixes, a leading 0 for octal, else decimal. INT_RANGE only for a string
 * that is otherwise a valid number. */
static enum int_status parse_go_int(const char *s, size_t n, bool *sign, bool *neg, uint64_t *mag)
{
	size_t i = 0;
	unsigned base = 10;
	bool ovf = false;
	uint64_t v = 0;

	*sign = *neg = false;
	if (n && (s[0] == '+' || s[0] == '-')) {
		*sign = true;
		*neg = s[0] == '-';
		i = 1;
	}
	if (i == n)
		return INT_SYNTAX;
	if (s[i] == '0') {
		char c = n - i >= 3 ? (char)(s[i + 1] | 0x20) : 0;
		if (c == 'b' || c == 'o' || c == 'x') {
			base = c == 'b' ? 2 : c == 'o' ? 8 : 16;
			i += 2;
		} else {
			base = 8;
			i += 1;
		}
	}
	for (; i < n; i++) {
		unsigned d;
		char c = s[i];
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
			d = (unsigned)((c | 0x20) - 'a' + 10);
		else
			return INT_SYNTAX;
		if (d >= base)
			return INT_SYNTAX;
		if (v > (UINT64_MAX - d) / base)
			ovf = true;
		else
			v = v * base + d;
	}
	*mag = v;
	return ovf ? INT_RANGE : INT_OK;
}

static void resolve_plain(const char *s, size_t n, struct rval *r)
{
	char small[64], *plain = small;
	size_t pn = 0;
	bool sign, neg;
	uint64_t mag;
	enum int_status ist;

	memset(r, 0, sizeof(*r));
	r->kind = R_STR;
	if (n) {
		char c = s[0];
		bool hint = (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.' ||
			    (c && strchr("yYnNtTfFoO~", c));
		if (!hint)
			return;
	}
	for (size_t i = 0; i < sizeof(resolve_map) / sizeof(resolve_map[0]); i++) {
		if (resolve_map[i].s[0] == (n ? s[0] : '\0') && strlen(resolve_map[i].s) == n &&
		    memcmp(resolve_map[i].s, s, n) == 0) {
			r->kind = resolve_map[i].kind;
			r->b = resolve_map[i].v;
			if (r->kind == R_FLOAT)
				r->d = resolve_map[i].v > 0   ? INFINITY
				       : resolve_map[i].v < 0 ? -INFINITY
							      : NAN;
			return;
		}
	}
	if (s[0] == '.') {
		/* strconv.ParseFloat on the text as written */
		if (float_syntax(s, n)) {
			char *tmp = n < sizeof(small) ? small : im_xmalloc(n + 1);
			memcpy(tmp, s, n);
			tmp[n] = '\0';
			r->d = strtod(tmp, NULL);
			if (tmp != small)
				im_free(tmp);
			if (!isinf(r->d))
				r->kind = R_FLOAT;
		}
		return;
	}
	if (!((s[0] >= '0' && s[0] <= '9') || s[0] == '+' || s[0] == '-'))
		return; /* the map was the only chance */
	/* Digits or sign: int, else float, else (no sign, too big) big int. */
	if (n >= sizeof(small))
		plain = im_xmalloc(n + 1);
	for (size_t i = 0; i < n; i++)
		if (s[i] != '_')
			plain[pn++] = s[i];
	plain[pn] = '\0';
	ist = parse_go_int(plain, pn, &sign, &neg, &mag);
	if (ist == INT_OK && ((neg && mag <= (uint64_t)INT64_MAX + 1) ||
			      (!neg && mag <= (uint64_t)INT64_MAX) || !sign)) {
		r->kind = R_INT;
		r->neg = neg && mag != 0;
		r->mag = mag;
		goto out;
	}
	if (float_syntax(plain, pn)) {
		double d = strtod(plain, NULL);
		if (!isinf(d)) {
			r->kind = R_FLOAT;
			r->d = d;
			goto out;
		}
	}
	if (ist == INT_RANGE && !sign) {
		r->kind = R_INT;
		r->big = true;
	}
out:
	if (plain != small)
		im_free(plain);
}

/* Resolves a scalar as written (text, its tag or NULL, plain style or not). */
static im_result resolve(struct state *st, const char *text, size_t len, const char *tag,
			 bool plain, const yaml_mark_t *m, struct rval *r)
{
	const char *name;
	enum rkind want;

	memset(r, 0, sizeof(*r));
	r->kind = R_STR;
	if (!tag) {
		if (plain)
			resolve_plain(text, len, r);
		return IM_OK;
	}
	if (strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) != 0)
		return IM_OK; /* "!" or a local tag: a string */
	name = tag + strlen(TAG_PREFIX);
	if (strcmp(name, "binary") == 0) {
		buf_adds(err_mark(st, m), "!!binary is not supported (use a base64 string)");
		return IM_PARSE;
	}
	if (strcmp(name, "null") == 0)
		want = R_NULL;
	else if (strcmp(name, "bool") == 0)
		want = R_BOOL;
	else if (strcmp(name, "int") == 0)
		want = R_INT;
	else if (strcmp(name, "float") == 0)
		want = R_FLOAT;
	else
		return IM_OK; /* !!str, !!timestamp, anything else: a string */
	resolve_plain(text, len, r);
	if (want == R_FLOAT && r->kind == R_INT && !r->big) {
		r->kind = R_FLOAT;
		r->d = r->neg ? -(double)r->mag : (double)r->mag;
	}
	if (r->kind != want) {
		struct buf *b = err_mark(st, m);
		buf_adds(b, "cannot decode ");
		add_quoted(b, text, len);
		buf_printf(b, " as !!%s", name);
		return IM_PARSE;
	}
	return IM_OK;
}

static void add_int(struct buf *b, const struct rval *r)
{
	buf_printf(b, "%s%llu", r->neg ? "-" : "", (unsigned long long)r->mag);
}

/* Go's strconv.FormatFloat(f, 'g', -1, 32), which sigs.k8s.io/yaml uses for
 * float keys: the shortest digits that read back as the same float32, in
 * exponent form when the exponent is < -4 or >= 6 (Go's shortest 'g'
 * switches at 6 whatever the digit count), with .inf/-.inf/.nan. */
static void add_go_float32(struct buf *b, double v)
{
	char tmp[64];
	float f = (float)v;
	int p, exp = 0, nd;
	const char *e;
	bool eneg;

	if (isnan(f)) {
		buf_adds(b, ".nan");
		return;
	}
	if (isinf(f)) {
		buf_adds(b, f > 0 ? ".inf" : "-.inf");
		return;
	}
	for (p = 0; p < 9; p++) {
		snprintf(tmp, sizeof(tmp), "%.*e", p, (double)f);
		if (strtof(tmp, NULL) == f)
			break;
	}
	nd = p + 1;
	e = strchr(tmp, 'e');
	eneg = e[1] == '-';
	for (e += 2; *e; e++)
		exp = exp * 10 + (*e - '0');
	if (eneg)
		exp = -exp;
	if (exp < -4 || exp >= 6)
		buf_adds(b, tmp);
	else
		buf_printf(b, "%.*f", nd - 1 - exp > 0 ? nd - 1 - exp : 0, (double)f);
}

/* The string sigs.k8s.io/yaml makes of a mapping key; owned by the caller. */
static im_result key_string(struct state *st, const char *text, size_t len, const char *tag,
			    bool plain, const yaml_mark_t *m, char **out)
{
	struct rval r;
	struct buf k;
	im_result result = resolve(st, text, len, tag, plain, m, &r);

	if (result)
		return result;
	buf_init(&k, 128); /* the longest non-string key is ~25 bytes */
	switch (r.kind) {
	case R_STR:
		if (memchr(text, '\0', len)) {
			buf_adds(err_mark(st, m), "key contains a nul character");
			return IM_PARSE;
		}
		*out = im_xstrndup(text, len);
		return IM_OK;
	case R_NULL:
		buf_adds(err_mark(st, m), "null mapping key is not supported");
		return IM_PARSE;
	case R_BOOL:
		buf_adds(&k, r.b ? "true" : "false");
		break;
	case R_INT:
		if (r.big ||
		    (r.neg ? r.mag > (uint64_t)INT64_MAX + 1 : r.mag > (uint64_t)INT64_MAX)) {
			struct buf *b = err_mark(st, m);
			buf_adds(b, "integer mapping key ");
			add_quoted(b, text, len);
			buf_adds(b, " is out of range");
			return IM_PARSE;
		}
		add_int(&k, &r);
		break;
	case R_FLOAT:
		add_go_float32(&k, r.d);
		break;
	}
	*out = buf_detach(&k, NULL);
	return IM_OK;
}

static im_result scalar_value(struct state *st, const char *text, size_t len, const char *tag,
			      bool plain, const yaml_mark_t *m, cJSON **out)
{
	struct rval r;
	struct buf *b;
	im_result result = resolve(st, text, len, tag, plain, m, &r);

	if (result)
		return result;
	switch (r.kind) {
	case R_STR:
		if (memchr(text, '\0', len)) {
			buf_adds(err_mark(st, m), "string contains a nul character");
			return IM_PARSE;
		}
		result = count_bytes(st, len, m);
		if (result)
			return result;
		*out = cJSON_CreateString(text);
		break;
	case R_NULL:
		*out = cJSON_CreateNull();
		break;
	case R_BOOL:
		*out = cJSON_CreateBool(r.b);
		break;
	case R_INT:
		if (r.big || r.mag > MAX_SAFE_INT) {
			b = err_mark(st, m);
			buf_adds(b, "integer ");
			add_quoted(b, text, len);
			buf_adds(b, " is beyond +-2^53 and cannot be kept exactly");
			return IM_PARSE;
		}
		*out = cJSON_CreateNumber(r.neg ? -(double)r.mag : (double)r.mag);
		break;
	case R_FLOAT:
		if (!isfinite(r.d)) {
			b = err_mark(st, m);
			add_quoted(b, text, len);
			buf_adds(b, " is not a finite number and cannot be represented in json");
			return IM_PARSE;
		}
		*out = cJSON_CreateNumber(r.d);
		break;
	}
	return count_node(st, m);
}

/* ---- anchors ---- */

static struct anchor *anchor_new(struct state *st, const char *name)
{
	struct anchor *a = im_xcalloc(1, sizeof(*a));

	a->name = im_xstrdup(name);
	a->next = st->anchor_list;
	st->anchor_list = a;
	smap_put(&st->anchors, a->name, a);
	return a;
}

static void anchors_free(struct state *st)
{
	struct anchor *a = st->anchor_list, *next;

	for (; a; a = next) {
		next = a->next;
		im_free(a->name);
		im_free(a->text);
		im_free(a->tag);
		im_free(a);
	}
	st->anchor_list = NULL;
	smap_release(&st->anchors);
}

static void anchor_scalar(struct state *st, const char *name, const char *text, size_t len,
			  const char *tag, bool plain)
{
	struct anchor *a = anchor_new(st, name);

	a->text = im_xstrndup(text, len);
	a->len = len;
	a->tag = tag ? im_xstrdup(tag) : NULL;
	a->plain = plain;
}

static im_result anchor_find(struct state *st, const char *name, const yaml_mark_t *m,
			     struct anchor **out)
{
	struct anchor *a = smap_get(&st->anchors, name);
	struct buf *b;

	if (a && !a->pending) {
		*out = a;
		return IM_OK;
	}
	b = err_mark(st, m);
	buf_adds(b, "alias *");
	add_quoted(b, name, strlen(name));
	buf_adds(b, a ? " refers to the collection that contains it" : " refers to no anchor");
	return IM_PARSE;
}

/* ---- building ---- */

/* A copy of src (from this document) placed at nesting level `level`. */
static im_result copy_value(struct state *st, const cJSON *src, int level, const yaml_mark_t *m,
			    cJSON **out)
{
	const struct pos_ent *pe;
	cJSON *n = NULL, *c;
	im_result result = count_node(st, m);

	if (result)
		return result;
	if (cJSON_IsArray(src) || cJSON_IsObject(src)) {
		if (level > st->o.max_depth)
			return too_deep(st, m);
		n = cJSON_IsArray(src) ? cJSON_CreateArray() : cJSON_CreateObject();
		for (c = src->child; c; c = c->next) {
			cJSON *cc;
			if (cJSON_IsObject(src)) {
				result = count_bytes(st, strlen(c->string), m);
				if (result)
					goto fail;
			}
			result = copy_value(st, c, level + 1, m, &cc);
			if (result)
				goto fail;
			if (cJSON_IsObject(src))
				cJSON_AddItemToObject(n, c->string, cc);
			else
				cJSON_AddItemToArray(n, cc);
		}
	} else if (cJSON_IsString(src)) {
		result = count_bytes(st, strlen(src->valuestring), m);
		if (result)
			return result;
		n = cJSON_CreateString(src->valuestring);
	} else if (cJSON_IsNumber(src)) {
		n = cJSON_CreateNumber(src->valuedouble);
	} else if (cJSON_IsBool(src)) {
		n = cJSON_CreateBool(cJSON_IsTrue(src));
	} else {
		n = cJSON_CreateNull();
	}
	pe = postab_get(st->pos, src);
	if (pe)
		postab_put(st->pos, n, pe->line, pe->col);
	*out = n;
	return IM_OK;
fail:
	cJSON_Delete(n);
	return result;
}

/* Places a finished value (line, col: where it starts) into the collection
 * being built, or makes it the document's root. Takes ownership. */
static void attach(struct state *st, cJSON *v, int line, int col)
{
	struct frame *f;

	if (st->depth == 0) {
		cJSON_Delete(st->root); /* libyaml gives one root; be safe */
		st->root = v;
		postab_put(st->pos, v, line, col);
		return;
	}
	f = &st->stack[st->depth - 1];
	if (!f->is_map) {
		cJSON_AddItemToArray(f->node, v);
		postab_put(st->pos, v, line, col);
		return;
	}
	if (f->merge_key) {
		if (!st->graveyard)
			st->graveyard = cJSON_CreateArray();
		cJSON_AddItemToArray(st->graveyard, v);
		postab_put(st->pos, v, line, col);
		if (f->nmerges == f->merges_cap) {
			f->merges_cap = f->merges_cap ? f->merges_cap * 2 : 4;
			f->merges = im_xrealloc(f->merges, f->merges_cap * sizeof(*f->merges));
		}
		f->merges[f->nmerges++] = (struct merge){v, line, col};
	} else {
		cJSON_AddItemToObject(f->node, f->key, v);
		postab_put(st->pos, v, f->key_line, f->key_col);
		smap_put(&f->keys, v->string, v);
	}
	im_free(f->key);
	f->key = NULL;
	f->merge_key = false;
	f->want_key = true;
}

static im_result take_key(struct state *st, struct frame *f, const char *text, size_t len,
			  const char *tag, bool plain, const yaml_mark_t *m)
{
	char *key;
	const cJSON *prev;
	im_result result;

	f->key_line = (int)m->line + 1;
	f->key_col = (int)m->column + 1;
	if (plain && !tag && len == 2 && memcmp(text, "<<", 2) == 0) {
		f->merge_key = true;
		f->want_key = false;
		return IM_OK;
	}
	result = key_string(st, text, len, tag, plain, m, &key);
	if (result)
		return result;
	prev = smap_get(&f->keys, key);
	if (prev) {
		struct buf *b = err_mark(st, m);
		buf_adds(b, "duplicate mapping key ");
		add_quoted(b, key, strlen(key));
		if (postab_get(st->pos, prev))
			buf_printf(b, " (first at line %d)", postab_get(st->pos, prev)->line);
		im_free(key);
		return IM_PARSE;
	}
	result = count_bytes(st, strlen(key), m);
	if (result) {
		im_free(key);
		return result;
	}
	f->key = key;
	f->want_key = false;
	return IM_OK;
}

static im_result apply_merge_map(struct state *st, struct frame *f, const cJSON *src,
				 const yaml_mark_t *m)
{
	for (const cJSON *c = src->child; c; c = c->next) {
		cJSON *copy;
		im_result result;

		if (smap_get(&f->keys, c->string))
			continue;
		result = count_bytes(st, strlen(c->string), m);
		if (!result)
			result = copy_value(st, c, st->depth + 1, m, &copy);
		if (result)
			return result;
		cJSON_AddItemToObject(f->node, c->string, copy);
		smap_put(&f->keys, copy->string, copy);
	}
	return IM_OK;
}

/* Explicit keys were all added first, so they win; then merges in order
 * (within a sequence, earlier mappings win), each adding only new keys. */
static im_result apply_merges(struct state *st, struct frame *f)
{
	for (size_t i = 0; i < f->nmerges; i++) {
		const struct merge *mg = &f->merges[i];
		yaml_mark_t m = {0, (size_t)mg->line - 1, (size_t)mg->col - 1};
		im_result result = IM_OK;

		if (cJSON_IsObject(mg->value)) {
			result = apply_merge_map(st, f, mg->value, &m);
		} else if (cJSON_IsArray(mg->value)) {
			for (const cJSON *e = mg->value->child; e && !result; e = e->next) {
				if (!cJSON_IsObject(e))
					goto bad;
				result = apply_merge_map(st, f, e, &m);
			}
		} else {
			goto bad;
		}
		if (result)
			return result;
		continue;
	bad:
		buf_adds(err_mark(st, &m),
			 "merge key \"<<\" needs a mapping or a sequence of mappings");
		return IM_PARSE;
	}
	return IM_OK;
}

static void frame_release(struct frame *f)
{
	im_free(f->key);
	smap_release(&f->keys);
	im_free(f->merges);
	memset(f, 0, sizeof(*f));
}

static im_result start_collection(struct state *st, const yaml_event_t *ev, bool is_map)
{
	const yaml_char_t *anchor = is_map ? ev->data.mapping_start.anchor
					   : ev->data.sequence_start.anchor;
	struct frame *f;
	im_result result;

	if (st->depth && st->stack[st->depth - 1].is_map && st->stack[st->depth - 1].want_key) {
		buf_adds(err_mark(st, &ev->start_mark), "mapping key must be a scalar");
		return IM_PARSE;
	}
	if (st->depth >= st->o.max_depth)
		return too_deep(st, &ev->start_mark);
	result = count_node(st, &ev->start_mark);
	if (result)
		return result;
	if (st->depth == st->stack_cap) {
		st->stack_cap = st->stack_cap ? st->stack_cap * 2 : 16;
		st->stack = im_xrealloc(st->stack, (size_t)st->stack_cap * sizeof(*st->stack));
	}
	f = &st->stack[st->depth++];
	memset(f, 0, sizeof(*f));
	f->is_map = is_map;
	f->want_key = is_map;
	f->node = is_map ? cJSON_CreateObject() : cJSON_CreateArray();
	f->line = (int)ev->start_mark.line + 1;
	f->col = (int)ev->start_mark.column + 1;
	if (anchor) {
		f->anchor = anchor_new(st, (const char *)anchor);
		f->anchor->pending = true;
	}
	return IM_OK;
}

static im_result end_collection(struct state *st)
{
	struct frame *f = &st->stack[st->depth - 1];
	im_result result = IM_OK;
	cJSON *node;
	int line = f->line, col = f->col;

	if (f->is_map && f->nmerges)
		result = apply_merges(st, f);
	if (result)
		return result; /* the frame is freed with the stack */
	if (f->anchor) {
		f->anchor->pending = false;
		f->anchor->node = f->node;
	}
	node = f->node;
	f->node = NULL;
	frame_release(f);
	st->depth--;
	attach(st, node, line, col);
	return IM_OK;
}

static im_result on_scalar(struct state *st, const yaml_event_t *ev)
{
	const char *text = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	const char *anchor = (const char *)ev->data.scalar.anchor;
	bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	struct frame *f = st->depth ? &st->stack[st->depth - 1] : NULL;
	cJSON *v = NULL;
	im_result result;

	if (f && f->is_map && f->want_key)
		result = take_key(st, f, text, len, tag, plain, &ev->start_mark);
	else
		result = scalar_value(st, text, len, tag, plain, &ev->start_mark, &v);
	if (result) {
		cJSON_Delete(v);
		return result;
	}
	if (anchor)
		anchor_scalar(st, anchor, text, len, tag, plain);
	if (v)
		attach(st, v, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1);
	return IM_OK;
}

static im_result on_alias(struct state *st, const yaml_event_t *ev)
{
	struct frame *f = st->depth ? &st->stack[st->depth - 1] : NULL;
	const yaml_mark_t *m = &ev->start_mark;
	struct anchor *a;
	cJSON *v = NULL;
	im_result result = anchor_find(st, (const char *)ev->data.alias.anchor, m, &a);

	if (result)
		return result;
	if (f && f->is_map && f->want_key) {
		if (a->node) {
			buf_adds(err_mark(st, m), "mapping key must be a scalar");
			return IM_PARSE;
		}
		return take_key(st, f, a->text, a->len, a->tag, a->plain, m);
	}
	if (a->node)
		result = copy_value(st, a->node, st->depth + 1, m, &v);
	else
		result = scalar_value(st, a->text, a->len, a->tag, a->plain, m, &v);
	if (result) {
		cJSON_Delete(v);
		return result;
	}
	attach(st, v, (int)m->line + 1, (int)m->column + 1);
	return IM_OK;
}

/* Drops what belongs to the document being read (anchors, merge values, and
 * on failure the unfinished tree). */
static void doc_reset(struct state *st)
{
	while (st->depth > 0) {
		struct frame *f = &st->stack[--st->depth];
		cJSON_Delete(f->node);
		frame_release(f);
	}
	anchors_free(st);
	cJSON_Delete(st->graveyard);
	st->graveyard = NULL;
	cJSON_Delete(st->root);
	st->root = NULL;
	postab_free(st->pos);
	st->pos = NULL;
}

static void on_document_end(struct state *st)
{
	if (st->root && !cJSON_IsNull(st->root)) {
		if (st->ndocs == st->docs_cap) {
			st->docs_cap = st->docs_cap ? st->docs_cap * 2 : 4;
			st->docs = im_xrealloc(st->docs, st->docs_cap * sizeof(*st->docs));
		}
		st->docs[st->ndocs++] = (struct yamljson_doc){st->root, st->doc_line, st->pos};
		st->root = NULL;
		st->pos = NULL;
	}
	doc_reset(st);
}

im_result yamljson_parse(const char *data, size_t len, const char *source,
			 const struct yamljson_opts *opts, struct yamljson_doc **docs,
			 size_t *ndocs, struct buf *err)
{
	struct state st;
	yaml_parser_t parser;
	yaml_event_t ev;
	bool done = false, have_parser = false;
	im_result result = IM_OK;

	memset(&st, 0, sizeof(st));
	*docs = NULL;
	*ndocs = 0;
	if (opts)
		st.o = *opts;
	if (!st.o.max_input)
		st.o.max_input = YAMLJSON_DEFAULT_MAX_INPUT;
	if (!st.o.max_nodes)
		st.o.max_nodes = YAMLJSON_DEFAULT_MAX_NODES;
	if (!st.o.max_bytes)
		st.o.max_bytes = YAMLJSON_DEFAULT_MAX_BYTES;
	if (st.o.max_depth <= 0)
		st.o.max_depth = YAMLJSON_DEFAULT_MAX_DEPTH;
	st.source = source;
	st.data = data;
	st.len = len;
	buf_init(&st.scratch, BUF_MAX_SMALL);
	st.err = err ? err : &st.scratch;
	buf_reset(st.err);

	if (len > st.o.max_input) {
		buf_reset(st.err);
		buf_printf(st.err, "%s: input larger than %zu bytes", source ? source : "yaml",
			   st.o.max_input);
		result = IM_TOOBIG;
		goto out;
	}
	if (!yaml_parser_initialize(&parser)) {
		buf_printf(st.err, "%s: out of memory", source ? source : "yaml");
		result = IM_NOMEM;
		goto out;
	}
	have_parser = true;
	yaml_parser_set_input_string(&parser, (const unsigned char *)(data ? data : ""), len);

	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			result = libyaml_error(&st, &parser);
			goto out;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			doc_reset(&st);
			st.pos = im_xcalloc(1, sizeof(*st.pos));
			st.doc_line = (int)ev.start_mark.line + 1;
			break;
		case YAML_DOCUMENT_END_EVENT:
			on_document_end(&st);
			break;
		case YAML_ALIAS_EVENT:
			result = on_alias(&st, &ev);
			break;
		case YAML_SCALAR_EVENT:
			result = on_scalar(&st, &ev);
			break;
		case YAML_SEQUENCE_START_EVENT:
			result = start_collection(&st, &ev, false);
			break;
		case YAML_MAPPING_START_EVENT:
			result = start_collection(&st, &ev, true);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			result = end_collection(&st);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (result)
			goto out;
	}
out:
	doc_reset(&st);
	im_free(st.stack);
	if (have_parser)
		yaml_parser_delete(&parser);
	if (result) {
		yamljson_docs_free(st.docs, st.ndocs);
	} else {
		*docs = st.docs;
		*ndocs = st.ndocs;
	}
	buf_release(&st.scratch);
	return result;
}

void yamljson_docs_free(struct yamljson_doc *docs, size_t ndocs)
{
	for (size_t i = 0; docs && i < ndocs; i++) {
		cJSON_Delete(docs[i].json);
		postab_free(docs[i].pos);
	}
	im_free(docs);
}

bool yamljson_pos_of(const struct yamljson_doc *doc, const cJSON *node, int *line, int *column)
{
	const struct pos_ent *pe = doc ? postab_get(doc->pos, node) : NULL;

	if (line)
		*line = pe ? pe->line : 0;
	if (column)
		*column = pe ? pe->col : 0;
	return pe != NULL;
}

int yamljson_line_of(const struct yamljson_doc *doc, const cJSON *node)
{
	int line;

	yamljson_pos_of(doc, node, &line, NULL);
	return line;
}
