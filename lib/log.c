#include "log.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

static atomic_int min_level = LOG_INFO;
static atomic_int out_format = LOG_FORMAT_TEXT;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_setup(enum log_level min, enum log_format format)
{
	atomic_store(&min_level, (int)min);
	atomic_store(&out_format, (int)format);
}

int log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

int log_format_parse(const char *s)
{
	if (strcmp(s, "text") == 0)
		return LOG_FORMAT_TEXT;
	if (strcmp(s, "json") == 0)
		return LOG_FORMAT_JSON;
	return -1;
}

/* logfmt: bare when the value is plain, quoted with escapes otherwise. */
static void add_text_value(struct buf *b, const char *v)
{
	int plain = *v != '\0';

	for (const char *p = v; *p && plain; p++)
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || (unsigned char)*p >= 0x7f)
			plain = 0;
	if (plain) {
		buf_adds(b, v);
		return;
	}
	buf_addc(b, '"');
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\') {
			buf_addc(b, '\\');
			buf_addc(b, (char)*p);
		} else if (*p == '\n') {
			buf_adds(b, "\\n");
		} else if (*p < ' ') {
			buf_printf(b, "\\x%02x", *p);
		} else {
			buf_addc(b, (char)*p);
		}
	}
	buf_addc(b, '"');
}

static void add_json_string(struct buf *b, const char *v)
{
	buf_addc(b, '"');
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\') {
			buf_addc(b, '\\');
			buf_addc(b, (char)*p);
		} else if (*p < ' ') {
			buf_printf(b, "\\u%04x", *p);
		} else {
			buf_addc(b, (char)*p);
		}
	}
	buf_addc(b, '"');
}

void log_vkv(enum log_level level, const char *msg, va_list ap)
{
	struct buf b;
	struct timespec ts;
	struct tm tm;
	char stamp[40];
	int json = atomic_load(&out_format) == LOG_FORMAT_JSON;
	const char *k, *v;

	if ((int)level < atomic_load(&min_level))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);

	buf_init(&b, BUF_MAX_SMALL);
	if (json) {
		buf_printf(&b, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":", stamp,
			   ts.tv_nsec / 1000000, level_names[level]);
		add_json_string(&b, msg);
	} else {
		buf_printf(&b, "ts=%s.%03ldZ level=%s msg=", stamp, ts.tv_nsec / 1000000,
			   level_names[level]);
		add_text_value(&b, msg);
	}
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		if (!v)
			v = "";
		if (json) {
			buf_addc(&b, ',');
			add_json_string(&b, k);
			buf_addc(&b, ':');
			add_json_string(&b, v);
		} else {
			buf_addc(&b, ' ');
			buf_adds(&b, k);
			buf_addc(&b, '=');
			add_text_value(&b, v);
		}
	}
	buf_adds(&b, json ? "}\n" : "\n");
	if (b.overflow) {
		/* a line past the cap: say so with its level and message rather
		 * than write nothing */
		buf_release(&b);
		if (json)
			buf_printf(&b,
				   "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":\"log line over "
				   "%zu bytes dropped\"}\n",
				   stamp, ts.tv_nsec / 1000000, level_names[level], b.max);
		else
			buf_printf(
				&b,
				"ts=%s.%03ldZ level=%s msg=\"log line over %zu bytes dropped\"\n",
				stamp, ts.tv_nsec / 1000000, level_names[level], b.max);
	}
	if (b.ptr) {
		ssize_t off = 0, n;
		while (off < (ssize_t)b.len && (n = write(2, b.ptr + off, b.len - (size_t)off)) > 0)
			off += n;
	}
	buf_release(&b);
}

void log_kv(enum log_level level, const char *msg, ...)
{
	va_list ap;

	va_start(ap, msg);
	log_vkv(level, msg, ap);
	va_end(ap);
}
