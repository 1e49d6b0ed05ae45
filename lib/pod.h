/*
 * pod.h - the part of a Pod that infermon keeps.
 *
 * Decoded from the API server's JSON and nothing more: labels, IPs,
 * phase/readiness, containers with their ports and command/args (limits are
 * read from args), the controlling owner. Args may carry secrets
 * (--api-key …): only this module's accessors read them (pod_arg_uint for
 * one numeric flag, pod_role for the kv-transfer and disaggregation flags,
 * both through args.h), and they are never logged or copied into status,
 * events or output.
 */
#ifndef INFERMON_POD_H
#define INFERMON_POD_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define LABEL_WORKLOAD "alibabacloud.com/inference-workload"
#define LABEL_BACKEND "alibabacloud.com/inference-backend"
/* The label selector of every pod watch. */
#define POD_SELECTOR LABEL_WORKLOAD "," LABEL_BACKEND

struct kv {
	char *key;
	char *value;
};

struct pod_port {
	char *name; /* may be NULL */
	int port;
	char *protocol; /* "TCP" when absent */
};

struct pod_container {
	char *name;
	struct pod_port *ports;
	size_t nports;
	char **argv; /* command then args, NULL-terminated; may hold secrets */
	size_t argc;
};

struct pod {
	char *namespace;
	char *name;
	char *uid;
	char *resource_version;
	struct kv *labels; /* sorted by key */
	size_t nlabels;
	char *pod_ip;   /* status.podIP or NULL */
	char **pod_ips; /* status.podIPs[].ip, NULL-terminated */
	char *phase;    /* status.phase or "Unknown" */
	bool ready;     /* condition Ready=True */
	bool deleting;  /* metadata.deletionTimestamp set */
	struct pod_container *containers;
	size_t ncontainers;
	char *owner_kind; /* controller ownerReference or NULL */
	char *owner_name;
	char *owner_uid;
};

/* Decodes a Pod object into one block (the struct, its arrays and strings:
 * thousands are cached); nothing of it may be changed or freed but the
 * whole, with pod_free. On failure returns IM_PARSE with a message naming
 * the pod (when known) and the field; nothing is allocated then. */
im_result pod_decode(const cJSON *obj, struct pod **out, struct buf *err);
void pod_free(struct pod *p);

const char *pod_label(const struct pod *p, const char *key);
/* namespace/name into b (reset first). */
void pod_key(const struct pod *p, struct buf *b);
/* The workload this pod belongs to ("" labels count as absent). */
const char *pod_workload(const struct pod *p);
const char *pod_backend(const struct pod *p);
/* The pod's prefill/decode role, from (best first) the llm-d.ai/role label,
 * a RoleBasedGroup role label, vLLM's --kv-transfer-config kv_role, SGLang's
 * --disaggregation-mode: "prefill", "decode", "both", or "" when none says. */
const char *pod_role(const struct pod *p);
/* False for the worker pods of a multi-host engine (LeaderWorkerSet worker
 * index other than 0): only the leader serves engine metrics. */
bool pod_is_leader(const struct pod *p);
/* The container port named name (or, when name is a number, that number);
 * when no port has that name and the pod declares exactly one port, that
 * one. 0 when none fits. */
int pod_port(const struct pod *p, const char *name);
/* Searches every container's command line for a numeric flag (args.h). */
im_result pod_arg_uint(const struct pod *p, const char *flag, uint64_t max, uint64_t *out);

/* True when the fields infermon acts on differ (resourceVersion ignored). */
bool pod_differs(const struct pod *a, const struct pod *b);

#endif
