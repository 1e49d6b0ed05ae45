/*
 * it.h - helpers for integration tests against the real local control plane
 * (hack/local-cluster.sh). Tests run under test/integration/with-cluster.sh,
 * which exports KUBECONFIG and puts the cached kubectl first on PATH.
 *
 * A struct it_watch runs the real reflector and pod cache on a loop thread;
 * the test thread drives the API server with kubectl and reads the cache
 * through loop_call_sync (the one place state crosses threads).
 */
#ifndef INFERMON_IT_H
#define INFERMON_IT_H

#include <pthread.h>

#include "../t.h"
#include "buf.h"
#include "http.h"
#include "kubeclient.h"
#include "loop.h"
#include "podcache.h"
#include "reflector.h"

/* Runs a shell command (formatted); returns its exit status. */
int it_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same, capturing stdout into out (reset first). */
int it_sh_out(struct buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Creates namespace ns (deleting a leftover one first). */
void it_namespace(const char *ns);
/* Writes n labelled pod manifests (a List) for workload w into path. */
void it_write_pods(const char *path, const char *ns, const char *prefix, int first, int n,
		   const char *workload, const char *backend);

struct it_watch {
	struct loop loop;
	struct http http;
	struct kubeclient kc;
	struct podcache cache;
	struct reflector refl;
	pthread_t thread;
	int events; /* workload events seen */
	int synced; /* completed lists */
};

/* Starts a reflector for namespace ns (NULL = all) on its own loop thread,
 * with the admin kubeconfig; waits for the first list to complete. */
void it_watch_start(struct it_watch *w, const char *ns, unsigned page_size);
/* The same with every watch asking for timeoutSeconds watch_s (0: the
 * reflector's 300-600 s), so a test sees the server end watches. */
void it_watch_start_opts(struct it_watch *w, const char *ns, unsigned page_size, unsigned watch_s);
void it_watch_stop(struct it_watch *w);

/* Pod names in the cache for namespace ns, sorted, one per line. */
void it_watch_names(struct it_watch *w, const char *ns, struct buf *out);
/* Reads stats under the loop. */
struct reflector_stats it_watch_stats(struct it_watch *w);
/* Sets the reflector's resourceVersion and restarts its watch (to resume from
 * an old, compacted version). */
void it_watch_resume_from(struct it_watch *w, const char *rv);

/* Polls until the cache's names in ns equal kubectl's (both sorted) or the
 * timeout passes; returns 1 when equal. Fills cached/actual for messages. */
int it_wait_converged(struct it_watch *w, const char *ns, int timeout_s, struct buf *cached,
		      struct buf *actual);

#endif
