#include "strparse.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

im_result strparse_u64(const char *p, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0)
		return IM_PARSE;
	for (size_t i = 0; i < n; i++) {
		unsigned d;
		if (p[i] < '0' || p[i] > '9')
			return IM_PARSE;
		d = (unsigned)(p[i] - '0');
		if (v > max / 10 || (v == max / 10 && d > max % 10))
			return IM_TOOBIG;
		v = v * 10 + d;
	}
	*out = v;
	return IM_OK;
}

im_result strparse_i64(const char *p, size_t n, int64_t min, int64_t max, int64_t *out)
{
	uint64_t v;
	im_result result;

	if (n > 0 && p[0] == '-') {
		result = strparse_u64(p + 1, n - 1, (uint64_t)INT64_MAX + 1, &v);
		if (result)
			return result;
		if (v == (uint64_t)INT64_MAX + 1) {
			if (min != INT64_MIN)
				return IM_TOOBIG;
			*out = INT64_MIN;
			return IM_OK;
		}
		if (-(int64_t)v < min)
			return IM_TOOBIG;
		*out = -(int64_t)v;
		return IM_OK;
	}
	result = strparse_u64(p, n, (uint64_t)INT64_MAX, &v);
	if (result)
		return result;
	if ((int64_t)v > max || (int64_t)v < min)
		return IM_TOOBIG;
	*out = (int64_t)v;
	return IM_OK;
}

im_result strparse_double(const char *p, size_t n, double *out)
{
	char tmp[65];
	char *end;
	const char *q = p;
	size_t m = n;
	int neg = 0;
	double v;

	if (n == 0 || n > 64)
		return n ? IM_TOOBIG : IM_PARSE;
	if (*q == '+' || *q == '-') {
		neg = *q == '-';
		q++;
		m--;
	}
	if (m == 3 && strncasecmp(q, "inf", 3) == 0) {
		*out = neg ? -INFINITY : INFINITY;
		return IM_OK;
	}
	if (m == 8 && strncasecmp(q, "infinity", 8) == 0) {
		*out = neg ? -INFINITY : INFINITY;
		return IM_OK;
	}
	if (m == 3 && strncasecmp(q, "nan", 3) == 0) {
		*out = NAN;
		return IM_OK;
	}
	/* strtod accepts more (hex, leading spaces, "infinity" words); allow only
	 * digits, one '.', and an exponent. */
	if (m == 0)
		return IM_PARSE;
	for (size_t i = 0; i < m; i++) {
		char c = q[i];
		if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' ||
		      c == '-'))
			return IM_PARSE;
		if ((c == 'x' || c == 'X'))
			return IM_PARSE;
	}
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	v = strtod(tmp, &end);
	if (end != tmp + n)
		return IM_PARSE;
	*out = v;
	return IM_OK;
}

bool strparse_eq(const char *p, size_t n, const char *s)
{
	size_t l = strlen(s);
	return l == n && memcmp(p, s, n) == 0;
}

bool strparse_prefix(const char *p, size_t n, const char *s)
{
	size_t l = strlen(s);
	return l <= n && memcmp(p, s, l) == 0;
}

bool strparse_suffix(const char *p, size_t n, const char *s)
{
	size_t l = strlen(s);
	return l <= n && memcmp(p + n - l, s, l) == 0;
}

im_result strparse_duration_ms(const char *p, size_t n, uint64_t max_ms, uint64_t *out)
{
	uint64_t total = 0, v;
	size_t i = 0;
	im_result result;

	if (n == 0 || n > 32)
		return n ? IM_TOOBIG : IM_PARSE;
	/* bare seconds */
	if (strparse_u64(p, n, max_ms / 1000, &v) == IM_OK) {
		*out = v * 1000;
		return IM_OK;
	}
	while (i < n) {
		size_t start = i, digits;
		uint64_t unit;
		while (i < n && p[i] >= '0' && p[i] <= '9')
			i++;
		digits = i - start;
		if (digits == 0)
			return IM_PARSE;
		result = strparse_u64(p + start, digits, max_ms, &v);
		if (result)
			return result;
		if (i + 1 < n && p[i] == 'm' && p[i + 1] == 's') {
			unit = 1, i += 2;
		} else if (i < n && p[i] == 's') {
			unit = 1000, i++;
		} else if (i < n && p[i] == 'm') {
			unit = 60000, i++;
		} else if (i < n && p[i] == 'h') {
			unit = 3600000, i++;
		} else {
			return IM_PARSE;
		}
		if (v > (max_ms - total) / unit)
			return IM_TOOBIG;
		total += v * unit;
	}
	*out = total;
	return IM_OK;
}

void strparse_duration_str(char *out, size_t n, uint64_t ms)
{
	if (ms % 1000 == 0)
		snprintf(out, n, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(out, n, "%llums", (unsigned long long)ms);
}
