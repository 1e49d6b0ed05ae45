/*
 * log.h - structured log lines.
 *
 *   log_kv(LOG_INFO, "workload appeared", "namespace", ns, "workload", w, NULL);
 *
 * prints one line to stderr, either logfmt
 *   ts=2026-11-23T19:00:00.123Z level=info msg="workload appeared" namespace=llm workload=qwen
 * or JSON ({"ts":…,"level":…,"msg":…,"namespace":…}) when the format is JSON.
 * Keys and values are NUL-terminated strings; the list ends with NULL. A NULL
 * value prints as "". Each line is written with one write(2), so lines from
 * different threads never interleave. Any thread may call these.
 *
 * Never pass engine arguments or other secrets as values: log lines end up
 * in shared log stores.
 */
#ifndef INFERMON_LOG_H
#define INFERMON_LOG_H

#include <stdarg.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

void log_setup(enum log_level min, enum log_format format);
/* Parses "debug|info|warn|error"; returns -1 when unknown. */
int log_level_parse(const char *s);
/* Parses "text|json"; returns -1 when unknown. */
int log_format_parse(const char *s);

void log_kv(enum log_level level, const char *msg, ...) __attribute__((sentinel));
void log_vkv(enum log_level level, const char *msg, va_list ap);

#endif
