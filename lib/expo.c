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

static void add_value(struct buf *b, const char *v)
{
	size_t n = strlen(v);

	if (n > EXPO_MAX_LABEL_VALUE) {
		n = EXPO_MAX_LABEL_VALUE;
		while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
			n--; /* do not cut a UTF-8 sequence */
	}
	for (size_t i = 0; i < n; i++) {
		if (v[i] == '\\')
			buf_adds(b, "\\\\");
		else if (v[i] == '"')
			buf_adds(b, "\\\"");
		else if (v[i] == '\n')
			buf_adds(b, "\\n");
		else
			buf_addc(b, v[i]);
	}
}

void expo_sample(struct buf *b, const char *name, double value, ...)
{
	va_list ap;
	const char *k, *v;
	int n = 0;
	char num[40];

	buf_adds(b, name);
	va_start(ap, value);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		buf_adds(b, n++ ? "," : "{");
		buf_adds(b, k);
		buf_adds(b, "=\"");
		add_value(b, v ? v : "");
		buf_addc(b, '"');
	}
	va_end(ap);
	if (n)
		buf_addc(b, '}');
	if (isnan(value))
		snprintf(num, sizeof(num), "NaN");
	else if (isinf(value))
		snprintf(num, sizeof(num), "%s", value > 0 ? "+Inf" : "-Inf");
	else if (value == floor(value) && fabs(value) < 1e15)
		snprintf(num, sizeof(num), "%.0f", value);
	else
		snprintf(num, sizeof(num), "%.17g", value);
	buf_printf(b, " %s\n", num);
}
