/*
 * promql.h - pieces of PromQL the generated rules share.
 */
#ifndef INFERMON_PROMQL_H
#define INFERMON_PROMQL_H

#include "buf.h"

/* Appends s as the contents of a PromQL string literal (between double
 * quotes): PromQL reads Go's escapes, buf_add_escaped writes \" \\ \xNN. */
void promql_str(struct buf *b, const char *s);

/* namespace="…", workload_name="…": a workload's series, as the engine
 * targets' relabeling labels them. */
void promql_scope(struct buf *b, const char *ns, const char *workload);

#endif
