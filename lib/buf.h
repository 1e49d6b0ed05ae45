/*
 * buf.h - growable byte buffer with a hard cap (curl's dynbuf).
 *
 * The contents are always NUL-terminated, so b->ptr can be used as a C string
 * when no NUL was appended. A buffer starts empty and allocates on the first
 * append. An append that would take the length past the cap fails with
 * IM_TOOBIG, frees the contents and sets overflow; from then on every append
 * fails too and the buffer stays empty until buf_reset or buf_release. So a
 * string built by many appends whose results are not checked one by one is
 * either whole or empty with overflow set, never a truncated or spliced
 * piece: code that hands a buffer out (an HTTP body, a file, stdout, a log
 * line) checks overflow there.
 *
 * All string building in infermon (JSON, YAML, URLs, /metrics text) goes
 * through this type.
 */
#ifndef INFERMON_BUF_H
#define INFERMON_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct buf {
	char *ptr;     /* NUL-terminated contents, or NULL while empty */
	size_t len;    /* bytes used, not counting the NUL */
	size_t cap;    /* bytes allocated */
	size_t max;    /* hard cap on len */
	bool overflow; /* an append failed for the cap: sticky until reset/release */
};

/* Caps for common uses; a caller may pick any other. */
#define BUF_MAX_SMALL ((size_t)64 * 1024)
#define BUF_MAX_LARGE ((size_t)64 * 1024 * 1024)

/* In place, cannot fail; nothing is allocated until the first append. */
void buf_init(struct buf *b, size_t max);
/* Frees the contents and clears overflow; the buffer may be reused (same
 * cap). */
void buf_release(struct buf *b);
/* Empties the buffer and clears overflow, keeping its allocation. */
void buf_reset(struct buf *b);

im_result buf_add(struct buf *b, const void *p, size_t n);
im_result buf_adds(struct buf *b, const char *s);
im_result buf_addc(struct buf *b, char c);
im_result buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
im_result buf_vprintf(struct buf *b, const char *fmt, va_list ap);

/* Escaping for messages, the one place it is written. Other
 * rules are their own and live with their format: URL path segments in
 * kubeclient_escape (kubeclient.h), exposition label values and HELP text in
 * expo.h, logfmt and JSON log values in log.c, YAML scalars in yamlout.c, RE2
 * literals in render.c's regex_quote.
 *
 * Appends p[0..n) for a message: backslash before " and \, other control
 * bytes as \xNN, so a quoted subject cannot break the message's line. The
 * result is also the body of a PromQL (Go) double-quoted string literal,
 * which render_alerts.c relies on. */
im_result buf_add_escaped(struct buf *b, const char *p, size_t n);

enum buf_quote_flags {
	BUF_QUOTE_ASCII = 1 /* bytes >= 0x80 as \xNN too (input that may not be UTF-8) */
};
/* Appends p[0..n) as a message quotes its subject: "…", escaped as
 * buf_add_escaped does (with BUF_QUOTE_ASCII, every byte that is not printable
 * ASCII as \xNN). With max > 0, at most max bytes are shown (fewer, to end
 * on a UTF-8 boundary, unless BUF_QUOTE_ASCII) and "..." marks the cut. */
im_result buf_add_quoted(struct buf *b, const char *p, size_t n, size_t max, unsigned flags);

/* Appends strerror(e) with a lower-case first letter, as our messages are. */
im_result buf_add_errno(struct buf *b, int e);

/* Removes the first n bytes (n <= len), keeping the rest. */
void buf_consume(struct buf *b, size_t n);

/* Hands the contents to the caller (free with im_free) and empties b. Returns
 * an empty string (still owned by the caller) when b is empty. */
char *buf_detach(struct buf *b, size_t *len);

/* "" when empty, never NULL. */
const char *buf_str(const struct buf *b);

#endif
