#include "promql.h"

#include <string.h>

void promql_str(struct buf *b, const char *s)
{
	buf_add_escaped(b, s, strlen(s));
}

void promql_scope(struct buf *b, const char *ns, const char *workload)
{
	buf_adds(b, "namespace=\"");
	promql_str(b, ns);
	buf_adds(b, "\", workload_name=\"");
	promql_str(b, workload);
	buf_addc(b, '"');
}
