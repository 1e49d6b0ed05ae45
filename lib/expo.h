/*
 * expo.h - writes Prometheus text exposition (format 0.0.4).
 *
 *   expo_family(&b, "infermon_engine_max_num_seqs", "gauge", "Live max-num-seqs …");
 *   expo_sample(&b, "infermon_engine_max_num_seqs", 8,
 *               "namespace", ns, "pod", pod, "source", "pod_args", NULL);
 *
 * Label values are escaped (\\, \", \n) and cut at EXPO_MAX_LABEL_VALUE
 * bytes (on a UTF-8 boundary), so a pod with an absurd label value cannot
 * blow up the controller's own page. NaN and infinities are written as
 * Prometheus spells them. Errors (the buffer's cap) are sticky in the buffer
 * (it is emptied), so callers check once at the end.
 */
#ifndef INFERMON_EXPO_H
#define INFERMON_EXPO_H

#include "buf.h"

#define EXPO_MAX_LABEL_VALUE 256

void expo_family(struct buf *b, const char *name, const char *type, const char *help);
/* Label name/value pairs end with NULL; a NULL value is written as "". */
void expo_sample(struct buf *b, const char *name, double value, ...) __attribute__((sentinel));

/* Escapes a label value as expo_sample does (for a prefix built once). */
void expo_label_value(struct buf *b, const char *v);
/* As expo_sample, with `labels` a label list already escaped and written
 * (`a="1",b="2"`, no braces; "" for none) put before the pairs: a page of
 * thousands of pods builds each pod's identifying labels once, not once
 * per sample. */
void expo_sample_with(struct buf *b, const char *name, double value, const char *labels, ...)
	__attribute__((sentinel));

#endif
