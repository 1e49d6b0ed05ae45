/*
 * kubewrite.h - the writes the reconciler makes, behind one small
 * interface, so that a test can hold them in memory (as controller-runtime's
 * fake client does) and the reconciler never builds a request itself.
 *
 * A write is a server-side apply of a generated object (field manager
 * "infermon", force), a server-side apply of an InferenceWorkload's status
 * (field manager "infermon-status", force) or a DELETE of a generated
 * object. The reconciler reads through its caches (reconcile.h), never
 * through this interface.
 *
 * kubewrite_client_kube is the real one: each write is one request on the
 * API server with a 10 s connect and 30 s total timeout. Loop thread only.
 */
#ifndef INFERMON_KUBEWRITE_H
#define INFERMON_KUBEWRITE_H

#include <cjson/cJSON.h>

#include "error.h"
#include "kubeclient.h"

enum kubewrite_op {
	KUBEWRITE_APPLY,  /* a generated object: kind, namespace, name, body */
	KUBEWRITE_STATUS, /* an InferenceWorkload's status: namespace, name, body */
	KUBEWRITE_DELETE, /* a generated object: kind, namespace, name */
};

struct kubewrite {
	enum kubewrite_op op;
	int kind; /* enum owned_kind (kube.h); unused for KUBEWRITE_STATUS */
	const char *namespace, *name;
	const cJSON *body; /* the whole object to apply; borrowed for the call */
};

/* result: IM_OK, IM_NOTFOUND (404), another error of kubeclient_result;
 * error: its one-line message ("" on success), valid during the call. */
typedef void (*kubewrite_done_cb)(void *data, im_result result, const char *error);

struct kubewrite_client {
	/* Starts w. IM_OK: cb runs once, later, from the loop (never inside
	 * send). Any other result: the write did not start and cb never runs. */
	im_result (*send)(void *ctx, const struct kubewrite *w, kubewrite_done_cb cb, void *data);
	void *ctx;
};

/* The real client: writes go to the API server through kc (borrowed). */
void kubewrite_client_kube(struct kubewrite_client *wc, struct kubeclient *kc);

#endif
