#include "expo.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void expo_family(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s ", name);
	for (const char *p = help; *p; p++) {
		if (*p == '\\')
			buf_adds(b, "\\\\");
		else if (*p == '\n')
			buf_adds(b, "\\n");
		else
			buf_addc(b, *p);
	}
	buf_printf(b, "\n# TYPE %s %s\n", name, type);
}

/* Runs of characters that need no escape go in with one copy. */
void expo_label_value(struct buf *b, const char *v)
{
	size_t n = strlen(v), run = 0;

	if (n > EXPO_MAX_LABEL_VALUE) {
		n = EXPO_MAX_LABEL_VALUE;
		while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
			n--; /* do not cut a UTF-8 sequence */
	}
	for (size_t i = 0; i < n; i++) {
		const char *esc = v[i] == '\\'   ? "\\\\"
				  : v[i] == '"'  ? "\\\""
				  : v[i] == '\n' ? "\\n"
						 : NULL;
		if (!esc)
			continue;
		buf_add(b, v + run, i - run);
		buf_add(b, esc, 2);
		run = i + 1;
	}
	buf_add(b, v + run, n - run);
}

/* The value as Prometheus reads it; integers (most samples: counts, 0/1,
 * limits) without printf. */
static void add_number(struct buf *b, double value)
{
	char num[40], *p = num + sizeof(num);

	if (isnan(value)) {
		buf_add(b, " NaN\n", 5);
	} else if (isinf(value)) {
		buf_adds(b, value > 0 ? " +Inf\n" : " -Inf\n");
	} else if (value == floor(value) && fabs(value) < 1e15) {
		unsigned long long u = (unsigned long long)fabs(value);
		*--p = '\n';
		do {
			*--p = (char)('0' + u % 10);
			u /= 10;
		} while (u);
		if (value < 0)
			*--p = '-';
		*--p = ' ';
		buf_add(b, p, (size_t)(num + sizeof(num) - p));
	} else {
		int n = snprintf(num, sizeof(num), " %.17g\n", value);
		buf_add(b, num, (size_t)n);
	}
}

static void add_pairs(struct buf *b, int n, va_list ap)
{
	const char *k, *v;

	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		buf_addc(b, n++ ? ',' : '{');
		buf_adds(b, k);
		buf_add(b, "=\"", 2);
		expo_label_value(b, v ? v : "");
		buf_addc(b, '"');
	}
	if (n)
		buf_addc(b, '}');
}

void expo_sample(struct buf *b, const char *name, double value, ...)
{
	va_list ap;

	buf_adds(b, name);
	va_start(ap, value);
	add_pairs(b, 0, ap);
	va_end(ap);
	add_number(b, value);
}

void expo_sample_with(struct buf *b, const char *name, double value, const char *labels, ...)
{
	va_list ap;
	int n = 0;

	buf_adds(b, name);
	if (labels && *labels) {
		buf_addc(b, '{');
		buf_adds(b, labels);
		n = 1;
	}
	va_start(ap, labels);
	add_pairs(b, n, ap);
	va_end(ap);
	add_number(b, value);
}
