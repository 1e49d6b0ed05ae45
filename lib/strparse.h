/*
 * strparse.h - small parsers over (pointer, length) views (curl's strparse).
 *
 * None of these read past p + n or need a NUL terminator. Each returns IM_OK
 * and stores the value only when the whole view is a valid number in range;
 * otherwise IM_PARSE (not a number) or IM_TOOBIG (out of range) and *out is
 * untouched.
 */
#ifndef INFERMON_STRPARSE_H
#define INFERMON_STRPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Decimal digits only, no sign, no spaces; value <= max. */
im_result strparse_u64(const char *p, size_t n, uint64_t max, uint64_t *out);
/* Optional leading '-', then decimal digits; min <= value <= max. */
im_result strparse_i64(const char *p, size_t n, int64_t min, int64_t max, int64_t *out);
/* A floating-point number as Prometheus and Go's ParseFloat accept it,
 * including "+Inf", "-Inf", "Inf", "NaN" (case-insensitive) and hex-free
 * decimal/exponent forms. At most 64 bytes. */
im_result strparse_double(const char *p, size_t n, double *out);

/* A duration as Prometheus and Kubernetes write it: "500ms", "15s", "2m",
 * "1h", combinations such as "1m30s", or a bare number of seconds. The
 * result is in milliseconds, at most max_ms. */
im_result strparse_duration_ms(const char *p, size_t n, uint64_t max_ms, uint64_t *out);
/* The other way: ms as the shortest such duration of whole seconds or
 * milliseconds ("15s", "1500ms"), NUL-terminated in out[0..n). */
void strparse_duration_str(char *out, size_t n, uint64_t ms);

/* True when the view equals the NUL-terminated string s. */
bool strparse_eq(const char *p, size_t n, const char *s);
/* True when the view starts with s. */
bool strparse_prefix(const char *p, size_t n, const char *s);
/* True when the view ends with s. */
bool strparse_suffix(const char *p, size_t n, const char *s);

#endif
