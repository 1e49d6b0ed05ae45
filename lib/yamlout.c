#include "yamlout.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

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

/* True when s, written plain, reads back as the string s. */
static bool plain_ok(const char *s)
{
	static const char *const special[] = {"true", "false", "yes", "no", "on", "off", "y", "n",
					      "null", "~", ".inf", "-.inf", "+.inf", ".nan", "<<", NULL};
	size_t n = strlen(s);

	if (n == 0 || is_word(s, special))
		return false;
	if (strchr("-?:,[]{}#&*!|>'\"%@` \t", s[0]))
		return false;
	if (s[n - 1] == ' ' || s[n - 1] == ':')
		return false;
	/* Numbers, timestamps and sexagesimals of any YAML flavour start with a
	 * digit, or a sign or dot before one, and hold no letter beyond those of
	 * exponents and radix prefixes: "15s" and "8Gi" are plain, "1e5",
	 * "0x1F", "2026-11-23" and "1:20" are quoted. */
	if ((s[0] >= '0' && s[0] <= '9') ||
	    ((s[0] == '+' || s[0] == '.') && n > 1 && s[1] >= '0' && s[1] <= '9')) {
		bool letter = false;
		const char *d = s[0] == '+' ? s + 1 : s;
		if (d[0] == '0' && d[1] && strchr("xXoObB", d[1]))
			return false; /* 0x1F, 0o17, 0b101: radix integers */
		for (const char *p = s; *p; p++)
			if (((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) && !strchr("eET", *p))
				letter = true;
		if (!letter)
			return false;
	}
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < ' ' || *p == 0x7f)
			return false;
		if (*p == ':' && (p[1] == ' ' || p[1] == '\0'))
			return false;
		if (*p == '#' && p > (const unsigned char *)s && p[-1] == ' ')
			return false;
	}
	return true;
}

static void quoted(struct buf *b, const char *s)
{
	buf_addc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': buf_adds(b, "\\\""); break;
		case '\\': buf_adds(b, "\\\\"); break;
		case '\n': buf_adds(b, "\\n"); break;
		case '\t': buf_adds(b, "\\t"); break;
		case '\r': buf_adds(b, "\\r"); break;
		default:
			if (*p < ' ' || *p == 0x7f)
				buf_printf(b, "\\x%02x", *p);
			else
				buf_addc(b, (char)*p);
		}
	}
	buf_addc(b, '"');
}

/* A literal block keeps the text exactly when no line has trailing spaces
 * issues we cannot express simply: we use it only for text without control
 * characters (other than newlines) whose first line does not start with a
 * space. */
static bool block_ok(const char *s)
{
	if (!strchr(s, '\n') || s[0] == ' ' || s[0] == '\n')
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p < ' ' && *p != '\n') || *p == 0x7f)
			return false;
	return true;
}

static void scalar_string(struct buf *b, const char *s, int indent)
{
	size_t n = strlen(s);
	const char *p, *nl;
	size_t trailing = 0;

	if (plain_ok(s)) {
		buf_adds(b, s);
		return;
	}
	if (!block_ok(s)) {
		quoted(b, s);
		return;
	}
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

static void number(struct buf *b, double d)
{
	if (d == floor(d) && fabs(d) < 1e15)
		buf_printf(b, "%.0f", d);
	else
		buf_printf(b, "%.17g", d);
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
		scalar_string(b, v->valuestring, indent);
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

static void mapping(struct buf *b, const cJSON *v, int indent, bool first_inline)
{
	const cJSON *it;
	bool first = true;

	for (it = v->child; it; it = it->next) {
		if (!(first && first_inline))
			indent_to(b, indent);
		first = false;
		scalar_string(b, it->string, indent + 2);
		buf_addc(b, ':');
		if (cJSON_IsObject(it) && it->child) {
			buf_addc(b, '\n');
			mapping(b, it, indent + 2, false);
		} else if (cJSON_IsArray(it) && it->child) {
			buf_addc(b, '\n');
			value(b, it, indent); /* sequences sit at the key's indentation */
		} else {
			buf_addc(b, ' ');
			inline_value(b, it, indent + 2);
			buf_addc(b, '\n');
		}
	}
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
