#include "buf.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"

void buf_init(struct buf *b, size_t max)
{
	b->ptr = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	b->overflow = false;
}

static void drop(struct buf *b)
{
	im_free(b->ptr);
	b->ptr = NULL;
	b->len = 0;
	b->cap = 0;
}

void buf_release(struct buf *b)
{
	drop(b);
	b->overflow = false;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	b->overflow = false;
	if (b->ptr)
		b->ptr[0] = '\0';
}

static im_result grow(struct buf *b, size_t n)
{
	size_t need, cap;

	if (b->overflow)
		return IM_TOOBIG; /* sticky: nothing after a lost piece */
	if (n > b->max || b->len > b->max - n) {
		drop(b);
		b->overflow = true;
		return IM_TOOBIG;
	}
	need = b->len + n + 1;
	if (need <= b->cap)
		return IM_OK;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > (size_t)-1 / 2 ? need : cap * 2;
	if (b->max < (size_t)-1 && cap > b->max + 1)
		cap = b->max + 1; /* never more than the cap needs */
	b->ptr = im_xrealloc(b->ptr, cap);
	b->cap = cap;
	return IM_OK;
}

im_result buf_add(struct buf *b, const void *p, size_t n)
{
	im_result result = grow(b, n);
	if (result)
		return result;
	if (n)
		memcpy(b->ptr + b->len, p, n);
	b->len += n;
	b->ptr[b->len] = '\0';
	return IM_OK;
}

im_result buf_adds(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

im_result buf_addc(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
}

im_result buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;
	im_result result;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return IM_INVAL;
	result = grow(b, (size_t)n);
	if (result)
		return result;
	vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return IM_OK;
}

im_result buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	im_result result;

	va_start(ap, fmt);
	result = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return result;
}

static void add_escaped(struct buf *b, const char *p, size_t n, bool ascii)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '"' || c == '\\') {
			buf_addc(b, '\\');
			buf_addc(b, (char)c);
		} else if (c < 0x20 || c == 0x7f || (ascii && c >= 0x80)) {
			buf_printf(b, "\\x%02x", c);
		} else {
			buf_addc(b, (char)c);
		}
	}
}

im_result buf_add_escaped(struct buf *b, const char *p, size_t n)
{
	add_escaped(b, p, n, false);
	return b->overflow ? IM_TOOBIG : IM_OK;
}

im_result buf_add_quoted(struct buf *b, const char *p, size_t n, size_t max, unsigned flags)
{
	bool ascii = flags & BUF_QUOTE_ASCII;
	size_t show = n;

	if (max && n > max) {
		show = max;
		while (!ascii && show > 0 && ((unsigned char)p[show] & 0xc0) == 0x80)
			show--; /* do not cut a UTF-8 sequence */
	}
	buf_addc(b, '"');
	add_escaped(b, p, show, ascii);
	if (show < n)
		buf_adds(b, "...");
	buf_addc(b, '"');
	return b->overflow ? IM_TOOBIG : IM_OK;
}

im_result buf_add_errno(struct buf *b, int e)
{
	char tmp[128];
	const char *s = strerror_r(e, tmp, sizeof(tmp)); /* GNU: may not use tmp */

	if (s[0])
		buf_addc(b, (char)tolower((unsigned char)s[0]));
	return buf_adds(b, s[0] ? s + 1 : "");
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0; /* overflow stays as it was */
		if (b->ptr)
			b->ptr[0] = '\0';
		return;
	}
	memmove(b->ptr, b->ptr + n, b->len - n);
	b->len -= n;
	b->ptr[b->len] = '\0';
}

char *buf_detach(struct buf *b, size_t *len)
{
	char *p = b->ptr;

	if (len)
		*len = b->len;
	if (!p)
		p = im_xstrdup("");
	b->ptr = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

const char *buf_str(const struct buf *b)
{
	return b->ptr ? b->ptr : "";
}
