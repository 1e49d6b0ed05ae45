#include "yamlout.h"

#include <math.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "yamljson.h"

static void indent_to(struct buf *b, int n)
{
	for (int i = 0; i < n; i++)
		buf_addc(b, ' ');
}

static bool is_word(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strcasecmp(s, *words) == 0)
			return true;
	return false;
}

/* Decodes the UTF-8 sequence at p (n bytes left) into *cp and returns its
 * length, or 0 when the byte at p starts no valid sequence: overlong forms,
 * surrogates and values past U+10FFFF are invalid, as in Go's utf8 package,
 * so an invalid byte is replaced exactly where Kubernetes replaces it. */
static size_t utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
	uint32_t c;
	size_t len;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		c = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		c = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		c = p[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* True for a character that every YAML style holds as itself: printable
 * (YAML's c-printable less tab), and neither a line break (U+0085, U+2028,
 * U+2029) nor a byte order mark. */
static bool literal_char(uint32_t c)
{
	return c >= 0x20 && c != 0x7f && !(c >= 0x80 && c <= 0x9f) && c != 0x2028 && c != 0x2029 &&
	       c != 0xfeff && c != 0xfffe && c != 0xffff;
}

/* True when s is valid UTF-8 of literal characters (and newlines when
 * newlines is set). */
static bool literal_text(const char *s, bool newlines)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	while (n > 0) {
		uint32_t c;
		size_t len = utf8_decode(p, n, &c);
		if (len == 0 || !(literal_char(c) || (newlines && c == '\n')))
			return false;
		p += len;
		n -= len;
	}
	return true;
}

/* True when text, read as YAML, gives exactly one document holding
 * {"k": want} (k NULL: {want: want}). This is the writer's final say on a
 * style: whatever the rules above allow must also survive the reader. */
static bool reads_back(const char *text, size_t len, const char *k, const char *want)
{
	struct yamljson_doc *docs = NULL;
	size_t n = 0;
	struct buf err;
	bool ok = false;

	buf_init(&err, 1024);
	if (yamljson_parse(text, len, "yamlout", NULL, &docs, &n, &err) == IM_OK && n == 1) {
		const cJSON *c = docs[0].json->child;
		ok = cJSON_IsObject(docs[0].json) && c && !c->next && cJSON_IsString(c) &&
		     strcmp(c->string, k ? k : want) == 0 && strcmp(c->valuestring, want) == 0;
	}
	yamljson_docs_free(docs, n);
	buf_release(&err);
	return ok;
}

/* True when s, written plain, reads back as the string s, as a key and as
 * a value. */
static bool plain_ok(const char *s)
{
	static const char *const special[] = {"true",  "false", "yes",  "no", "on",   "off",
					      "y",     "n",     "null", "~",  ".inf", "-.inf",
					      "+.inf", ".nan",  "<<",   NULL};
	size_t n = strlen(s);
	struct buf t;
	bool ok;

	if (n == 0 || is_word(s, special) || !literal_text(s, false))
		return false;
	if (strchr("-?:,[]{}#&*!|>'\"%@` ", s[0]) || strncmp(s, "...", 3) == 0)
		return false; /* indicators; "..." ends a document */
	if (s[n - 1] == ' ' || s[n - 1] == ':')
		return false;
	/* Numbers, timestamps and sexagesimals of any YAML flavour start with a
	 * digit, or a sign or dot before one, and hold no letter beyond those of
	 * exponents and radix prefixes: "15s" and "8Gi" are plain, "1e5",
	 * "0x1F", "2026-11-23" and "1:20" are quoted. The reader below is YAML
	 * 1.1 (go-yaml's); these rules also keep YAML 1.2 readers right. */
	if ((s[0] >= '0' && s[0] <= '9') ||
	    ((s[0] == '+' || s[0] == '.') && n > 1 && s[1] >= '0' && s[1] <= '9')) {
		bool letter = false;
		const char *d = s[0] == '+' ? s + 1 : s;
		if (d[0] == '0' && d[1] && strchr("xXoObB", d[1]))
			return false; /* 0x1F, 0o17, 0b101: radix integers */
		for (const char *p = s; *p; p++)
			if (((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) &&
			    !strchr("eET", *p))
				letter = true;
		if (!letter)
			return false;
	}
	for (const char *p = s; *p; p++) {
		if (*p == ':' && (p[1] == ' ' || p[1] == '\0'))
			return false;
		if (*p == '#' && p > s && p[-1] == ' ')
			return false;
	}
	/* Names, paths and versions pass the rules above often and cannot be
	 * misread once they have: skip the (costly) parse for them. */
	if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-") == n)
		return true;
	buf_init(&t, BUF_MAX_LARGE);
	buf_printf(&t, "%s: %s\n", s, s);
	ok = !t.overflow && reads_back(t.ptr, t.len, NULL, s);
	buf_release(&t);
	return ok;
}

/* A double-quoted scalar: every character that is not literal_char is
 * escaped, so the line holds only printable text; bytes that are not UTF-8
 * are written as U+FFFD each (they cannot be YAML). */
static void quoted(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	buf_addc(b, '"');
	while (n > 0) {
		uint32_t c;
		size_t len = utf8_decode(p, n, &c);

		if (len == 0) {
			buf_adds(b, "\xef\xbf\xbd");
			p++;
			n--;
			continue;
		}
		switch (c) {
		case '"':
			buf_adds(b, "\\\"");
			break;
		case '\\':
			buf_adds(b, "\\\\");
			break;
		case '\n':
			buf_adds(b, "\\n");
			break;
		case '\t':
			buf_adds(b, "\\t");
			break;
		case '\r':
			buf_adds(b, "\\r");
			break;
		case 0x85:
			buf_adds(b, "\\N");
			break;
		case 0x2028:
			buf_adds(b, "\\L");
			break;
		case 0x2029:
			buf_adds(b, "\\P");
			break;
		default:
			if (literal_char(c))
				buf_add(b, p, len);
			else if (c <= 0xff)
				buf_printf(b, "\\x%02x", (unsigned)c);
			else
				buf_printf(b, "\\u%04X", (unsigned)c);
		}
		p += len;
		n -= len;
	}
	buf_addc(b, '"');
}

/* Writes s as a literal block whose lines sit at indent. */
static void literal_block(struct buf *b, const char *s, int indent)
{
	size_t n = strlen(s);
	const char *p, *nl;
	size_t trailing = 0;

	while (trailing < n && s[n - 1 - trailing] == '\n')
		trailing++;
	buf_adds(b, trailing == 0 ? "|-" : trailing == 1 ? "|" : "|+");
	for (p = s; *p;) {
		nl = strchr(p, '\n');
		buf_addc(b, '\n');
		if (!nl) {
			indent_to(b, indent);
			buf_adds(b, p);
			break;
		}
		if (nl > p) {
			indent_to(b, indent);
			buf_add(b, p, (size_t)(nl - p));
		}
		p = nl + 1;
		if (!*p)
			break;
	}
	/* "|+" keeps extra final newlines: they are the empty lines above */
}

/* A literal block for text that spans lines, holds only literal characters
 * besides its newlines and does not start with a space or newline (those
 * would need an indentation indicator), and reads back the same. */
static bool block_ok(const char *s)
{
	struct buf t;
	bool ok;

	if (!strchr(s, '\n') || s[0] == ' ' || s[0] == '\n' || !literal_text(s, true))
		return false;
	buf_init(&t, BUF_MAX_LARGE);
	buf_adds(&t, "k: ");
	literal_block(&t, s, 2);
	buf_addc(&t, '\n');
	ok = !t.overflow && reads_back(t.ptr, t.len, "k", s);
	buf_release(&t);
	return ok;
}

/* Writes s plain, as a literal block (values only: a block cannot be an
 * implicit key) or double-quoted, the first of these that reads back. */
static void scalar_string(struct buf *b, const char *s, int indent, bool key)
{
	if (plain_ok(s))
		buf_adds(b, s);
	else if (!key && block_ok(s))
		literal_block(b, s, indent < 2 ? 2 : indent);
	else
		quoted(b, s);
}

static void number(struct buf *b, double d)
{
	char s[48];

	if (d == floor(d) && fabs(d) < 1e15) {
		buf_printf(b, "%.0f", d);
		return;
	}
	snprintf(s, sizeof(s), "%.17g", d);
	/* %.17g prints a whole number below 1e17 without point or exponent:
	 * past 2^53 that reads back as an integer the reader will not round,
	 * so it stays a float */
	if (!strpbrk(s, ".eEn"))
		snprintf(s + strlen(s), sizeof(s) - strlen(s), ".0");
	buf_adds(b, s);
}

static void value(struct buf *b, const cJSON *v, int indent);

/* A scalar or empty container on the same line, else NULL's meaning:
 * returns false when v needs lines of its own. */
static bool inline_value(struct buf *b, const cJSON *v, int indent)
{
	if (cJSON_IsObject(v) && !v->child) {
		buf_adds(b, "{}");
		return true;
	}
	if (cJSON_IsArray(v) && !v->child) {
		buf_adds(b, "[]");
		return true;
	}
	if (cJSON_IsObject(v) || cJSON_IsArray(v))
		return false;
	if (cJSON_IsString(v))
		scalar_string(b, v->valuestring, indent, false);
	else if (cJSON_IsNumber(v))
		number(b, v->valuedouble);
	else if (cJSON_IsTrue(v))
		buf_adds(b, "true");
	else if (cJSON_IsFalse(v))
		buf_adds(b, "false");
	else
		buf_adds(b, "null");
	return true;
}

/* libyaml takes an implicit key of at most 1024 characters; longer ones
 * (counted in bytes here, which is stricter) are written after "? ". */
#define IMPLICIT_KEY_MAX 1000

static void mapping(struct buf *b, const cJSON *v, int indent, bool first_inline)
{
	const cJSON *it;
	bool first = true;
	struct buf key;

	buf_init(&key, b->max);
	for (it = v->child; it; it = it->next) {
		bool explicit_key;

		if (!(first && first_inline))
			indent_to(b, indent);
		first = false;
		buf_reset(&key);
		scalar_string(&key, it->string, indent + 2, true);
		if (key.overflow) { /* then b cannot hold it either */
			buf_release(b);
			b->overflow = true;
			break;
		}
		explicit_key = key.len > IMPLICIT_KEY_MAX;
		if (explicit_key) {
			buf_adds(b, "? ");
			buf_add(b, key.ptr, key.len);
			buf_addc(b, '\n');
			indent_to(b, indent);
		} else {
			buf_add(b, key.ptr, key.len);
		}
		buf_addc(b, ':');
		if (cJSON_IsObject(it) && it->child) {
			buf_addc(b, '\n');
			mapping(b, it, indent + 2, false);
		} else if (cJSON_IsArray(it) && it->child) {
			buf_addc(b, '\n');
			/* sequences sit at the key's indentation, after "? " below it */
			value(b, it, explicit_key ? indent + 2 : indent);
		} else {
			buf_addc(b, ' ');
			inline_value(b, it, indent + 2);
			buf_addc(b, '\n');
		}
	}
	buf_release(&key);
}

static void sequence(struct buf *b, const cJSON *v, int indent)
{
	for (const cJSON *it = v->child; it; it = it->next) {
		indent_to(b, indent);
		buf_adds(b, "- ");
		if (cJSON_IsObject(it) && it->child) {
			mapping(b, it, indent + 2, true);
		} else if (cJSON_IsArray(it) && it->child) {
			buf_addc(b, '\n');
			sequence(b, it, indent + 2);
		} else {
			inline_value(b, it, indent + 2);
			buf_addc(b, '\n');
		}
	}
}

static void value(struct buf *b, const cJSON *v, int indent)
{
	if (cJSON_IsObject(v) && v->child)
		mapping(b, v, indent, false);
	else if (cJSON_IsArray(v) && v->child)
		sequence(b, v, indent);
	else {
		indent_to(b, indent);
		inline_value(b, v, indent);
		buf_addc(b, '\n');
	}
}

im_result yamlout_value(struct buf *b, const cJSON *v, int indent)
{
	value(b, v, indent);
	return b->overflow ? IM_TOOBIG : IM_OK;
}

im_result yamlout_doc(struct buf *b, const cJSON *v)
{
	buf_adds(b, "---\n");
	return yamlout_value(b, v, 0);
}
