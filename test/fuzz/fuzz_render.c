/* libFuzzer target: the input path of `infermon render`. Bytes are parsed as
 * a YAML/JSON stream; InferenceWorkloads and Pods are decoded, rendered, and
 * every rendered object is written as YAML and must parse back to the same
 * JSON. Nothing may crash, leak, or print something that reads differently. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "iwspec.h"
#include "pod.h"
#include "promselect.h"
#include "render.h"
#include "yamljson.h"
#include "yamlout.h"

static void check_round_trip(const cJSON *o)
{
	struct buf b, err;
	struct yamljson_doc *docs = NULL;
	size_t n = 0;

	buf_init(&b, BUF_MAX_LARGE);
	buf_init(&err, 1024);
	if (yamlout_doc(&b, o) == IM_OK) {
		if (yamljson_parse(b.ptr, b.len, "out", NULL, &docs, &n, &err) != IM_OK || n != 1 ||
		    !cJSON_Compare(o, docs[0].json, true))
			abort(); /* render wrote YAML that does not read back the same */
	}
	yamljson_docs_free(docs, n);
	buf_release(&b);
	buf_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int hooked;
	struct yamljson_opts yo = {.max_input = 1 << 20, .max_nodes = 20000, .max_bytes = 1 << 20, .max_depth = 64};
	struct yamljson_doc *docs = NULL;
	size_t ndocs = 0;
	struct buf err;
	struct iw_defaults d;
	struct render_config rc;

	if (!hooked) {
		im_alloc_install_hooks();
		hooked = 1;
	}
	buf_init(&err, 4096);
	iw_defaults_init(&d);
	render_config_init(&rc);
	if (yamljson_parse((const char *)data, size, "fuzz", &yo, &docs, &ndocs, &err) == IM_OK) {
		/* Prometheus objects judge every monitor (any shape: the selectors
		 * are read from untrusted input too) */
		const cJSON **proms = calloc(ndocs + 1, sizeof(*proms));
		size_t nproms = 0;
		for (size_t i = 0; i < ndocs; i++) {
			const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(docs[i].json, "kind"));
			if (kind && strcmp(kind, "Prometheus") == 0)
				proms[nproms++] = docs[i].json;
		}
		for (size_t i = 0; i < ndocs; i++) {
			const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(docs[i].json, "kind"));
			cJSON *objs = cJSON_CreateArray(), *o;
			struct scrape_jobs jobs;
			struct iwspec s;
			struct pod *p = NULL;
			buf_reset(&err);
			scrape_jobs_init(&jobs);
			if (kind && strcmp(kind, "InferenceWorkload") == 0 &&
			    iwspec_parse(docs[i].json, &d, &s, &err) == IM_OK) {
				enum promsel_kind k;
				cJSON *mon;
				render_workload(&rc, &s, NULL, 0, objs);
				mon = promsel_find_monitor(objs, &k);
				if (mon) {
					struct buf why;
					promsel_stamp_all(mon, k, proms, nproms, s.namespace, docs[0].json);
					buf_init(&why, 4096);
					for (size_t j = 0; j < nproms; j++) {
						(void)promsel_selects(proms[j], k, s.namespace, docs[0].json,
								      promsel_monitor_labels(mon));
						promsel_describe(proms[j], k, &why);
					}
					buf_release(&why);
				}
				scrape_jobs_add(&jobs, &s);
				iwspec_release(&s);
			} else if (kind && strcmp(kind, "Pod") == 0 &&
				   pod_decode(docs[i].json, &p, &err) == IM_OK) {
				if (pod_workload(p) && pod_backend(p)) {
					const struct pod *pp = p;
					iwspec_default(&s, &d, p->namespace, pod_workload(p),
						       backend_parse(pod_backend(p)));
					render_workload(&rc, &s, &pp, 1, objs);
					scrape_jobs_add(&jobs, &s);
					iwspec_release(&s);
				}
				pod_free(p);
			}
			cJSON_AddItemToArray(objs, render_scrape_secret(&rc, scrape_jobs_render(&jobs), &err));
			scrape_jobs_release(&jobs);
			cJSON_ArrayForEach(o, objs)
			{
				if (o->type != cJSON_NULL)
					check_round_trip(o);
			}
			cJSON_Delete(objs);
		}
		free(proms);
	}
	yamljson_docs_free(docs, ndocs);
	buf_release(&err);
	return 0;
}
