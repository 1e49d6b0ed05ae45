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

/*
 * Putting the shared cluster back. A test that changes the cluster every
 * later test uses (restarts the API server with other flags, kills it) arms
 * a restore command first; the command then runs once when the test ends,
 * however it ends:
 *   - it_restore_now() runs it at the test's end and disarms (the test
 *     asserts its result);
 *   - on exit() or a return from main (a failed ASSERT jumps back to t_run,
 *     which returns) an atexit handler runs it before the process is gone;
 *   - when the process dies without exiting (a signal, SIGKILL by ctest's
 *     timeout, a sanitizer's _exit) a guard process runs it. The guard is
 *     started by it_restore_on_exit, is no child of the test (ctest kills
 *     the test's process tree), sees the test's end as EOF on a pipe, and
 *     holds a shared flock on "$INFERMON_CLUSTER_DIR.guard.lock" until it
 *     is done; hack/local-cluster.sh env (so with-cluster.sh, which starts
 *     every cluster test) and down wait for that lock, so the next test
 *     starts on the restored cluster. It logs to
 *     "$INFERMON_CLUSTER_DIR/logs/it-guard.log".
 * cmd runs under /bin/sh in the test's working directory (the checkout's
 * root). One command may be armed at a time; arming a second fails the test.
 */
void it_restore_on_exit(const char *cmd);
/* Runs the armed command now, its output on stderr, and disarms it; returns
 * its exit status (0 when nothing is armed). When it fails, the guard runs
 * it once more at once (and the next test waits for that). */
int it_restore_now(void);
/* The recorded settings of the cluster (hack/local-cluster.sh settings): a
 * prefix of environment assignments that make hack/local-cluster.sh up bring
 * the API server back to them. Into out (reset first). */
void it_cluster_settings(struct buf *out);

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
