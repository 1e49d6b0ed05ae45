/*
 * t_kube.h - Kubernetes fixtures for unit tests: JSON from a literal, an
 * InferenceWorkload and a labelled engine pod of namespace llm. Each fails
 * the test when its fixture does not parse.
 */
#ifndef INFERMON_T_KUBE_H
#define INFERMON_T_KUBE_H

#include <cjson/cJSON.h>

#include "pod.h"

/* text parsed (caller owns it). */
cJSON *t_json(const char *text);
/* An InferenceWorkload llm/name selecting workload, metadata.generation 1;
 * created and uid may be NULL (left out); spec: more spec fields, without
 * braces, or NULL. Caller owns it. */
cJSON *t_cr(const char *name, const char *workload, const char *created, const char *uid,
	    const char *spec);
/* A ready, running engine pod llm/name (uid "pod-<name>", IP 10.0.0.1) of
 * workload with the backend label, its port "http" at port. pod_free it. */
struct pod *t_pod(const char *name, const char *workload, const char *backend, int port);

#endif
