#include "it.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "kubeconfig.h"
#include "log.h"

static int vsh(struct buf *out, const char *fmt, va_list ap)
{
	struct buf cmd;
	FILE *f;
	char chunk[4096];
	size_t n;
	int rc;

	buf_init(&cmd, BUF_MAX_SMALL);
	buf_vprintf(&cmd, fmt, ap);
	f = popen(buf_str(&cmd), "r");
	if (!f)
		t_fail(__FILE__, __LINE__, "popen %s", buf_str(&cmd));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (out)
			buf_add(out, chunk, n);
	rc = pclose(f);
	buf_release(&cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

int it_sh(const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vsh(NULL, fmt, ap);
	va_end(ap);
	return rc;
}

int it_sh_out(struct buf *out, const char *fmt, ...)
{
	va_list ap;
	int rc;

	buf_reset(out);
	va_start(ap, fmt);
	rc = vsh(out, fmt, ap);
	va_end(ap);
	return rc;
}

/* ---- putting the shared cluster back ---- */

static char restore_cmd[4096];
static int guard_fd = -1; /* write end of the guard's pipe; -1: none armed */

/* Drops the trailing newlines of a command's output. */
static void chomp(struct buf *b)
{
	while (b->len && b->ptr[b->len - 1] == '\n')
		b->ptr[--b->len] = '\0';
}

/* The guard, in a session of its own: waits for the test's end (EOF on in)
 * and runs the command unless the test said it was done ('d'); it holds the
 * lock (inherited) until the command has finished. */
static void guard_run(int in, const char *dir)
{
	char path[4096], c;
	int log, status;
	ssize_t n;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/logs/it-guard.log", dir);
	log = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (log < 0)
		log = open("/dev/null", O_WRONLY | O_CLOEXEC);
	dup2(log, STDOUT_FILENO);
	dup2(log, STDERR_FILENO);
	close(STDIN_FILENO);
	while ((n = read(in, &c, 1)) < 0 && errno == EINTR)
		;
	if (n == 1 && c == 'd')
		_exit(0);
	fprintf(stderr, "it-guard: the test ended without restoring the cluster; running: %s\n",
		restore_cmd);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", restore_cmd, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		status = -1;
	fprintf(stderr, "it-guard: restore %s (status %d)\n", status == 0 ? "done" : "FAILED",
		status);
	_exit(status == 0 ? 0 : 1);
}

static void restore_at_exit(void)
{
	if (guard_fd >= 0 && it_restore_now() != 0)
		fprintf(stderr, "could not restore the cluster: %s\n", restore_cmd);
}

void it_restore_on_exit(const char *cmd)
{
	static int registered;
	struct buf dir;
	int fds[2], lock, status;
	pid_t pid;

	if (guard_fd >= 0)
		t_fail(__FILE__, __LINE__, "a restore is armed already: %s", restore_cmd);
	if ((size_t)snprintf(restore_cmd, sizeof(restore_cmd), "%s", cmd) >= sizeof(restore_cmd))
		t_fail(__FILE__, __LINE__, "restore command too long");
	buf_init(&dir, BUF_MAX_SMALL);
	if (it_sh_out(&dir, "hack/local-cluster.sh dir") != 0 || dir.len < 2)
		t_fail(__FILE__, __LINE__, "hack/local-cluster.sh dir failed");
	chomp(&dir);
	/* the write end only here: no child of the test keeps the guard waiting */
	if (pipe2(fds, O_CLOEXEC) != 0)
		t_fail(__FILE__, __LINE__, "pipe2 failed");
	pid = fork();
	if (pid < 0)
		t_fail(__FILE__, __LINE__, "fork failed");
	if (pid == 0) {
		/* the lock is taken before the guard exists, so it is held from
		 * the moment this function returns; the guard inherits it */
		char path[4096];
		close(fds[1]);
		snprintf(path, sizeof(path), "%s.guard.lock", buf_str(&dir));
		lock = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
		if (lock < 0 || flock(lock, LOCK_SH) != 0)
			_exit(1);
		setsid();
		pid = fork();
		if (pid == 0)
			guard_run(fds[0], buf_str(&dir));
		_exit(pid > 0 ? 0 : 1);
	}
	close(fds[0]);
	buf_release(&dir);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		close(fds[1]);
		t_fail(__FILE__, __LINE__, "cannot start the restore guard");
	}
	guard_fd = fds[1];
	if (!registered++)
		atexit(restore_at_exit);
}

int it_restore_now(void)
{
	int rc;

	if (guard_fd < 0)
		return 0;
	fprintf(stderr, "restoring the cluster: %s\n", restore_cmd);
	rc = it_sh("%s >&2", restore_cmd);
	/* 'd' tells the guard not to run it again; after a failure it gets
	 * EOF and tries once more (the next test waits for it) */
	if (rc == 0 && write(guard_fd, "d", 1) != 1)
		fprintf(stderr, "cannot tell the restore guard it is done\n");
	close(guard_fd);
	guard_fd = -1;
	return rc;
}

void it_cluster_settings(struct buf *out)
{
	if (it_sh_out(out, "hack/local-cluster.sh settings") != 0 || !out->len)
		t_fail(__FILE__, __LINE__, "hack/local-cluster.sh settings failed");
	chomp(out);
}

void it_namespace(const char *ns)
{
	it_sh("kubectl delete namespace %s --ignore-not-found --wait=true --timeout=60s >/dev/null 2>&1",
	      ns);
	if (it_sh("kubectl create namespace %s >/dev/null", ns) != 0)
		t_fail(__FILE__, __LINE__, "cannot create namespace %s", ns);
}

void it_write_pods(const char *path, const char *ns, const char *prefix, int first, int n,
		   const char *workload, const char *backend)
{
	FILE *f = fopen(path, "w");

	if (!f)
		t_fail(__FILE__, __LINE__, "cannot write %s", path);
	fputs("apiVersion: v1\nkind: List\nitems:\n", f);
	for (int i = first; i < first + n; i++)
		fprintf(f,
			"- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: %s-%d\n    namespace: %s\n"
			"    labels:\n      alibabacloud.com/inference-workload: %s\n"
			"      alibabacloud.com/inference-backend: %s\n"
			"  spec:\n    containers:\n    - name: engine\n      image: engine:test\n"
			"      args: [\"--max-num-seqs\", \"8\"]\n"
			"      ports:\n      - name: http\n        containerPort: 8000\n",
			prefix, i, ns, workload, backend);
	fclose(f);
}

static void on_workload(void *ctx, enum workload_event ev, const struct workload *wl)
{
	struct it_watch *w = ctx;
	(void)ev;
	(void)wl;
	w->events++;
}

static void on_synced(struct reflector *r, void *data)
{
	struct it_watch *w = data;
	(void)r;
	w->synced++;
}

static void *loop_thread(void *arg)
{
	struct it_watch *w = arg;

	loop_run(&w->loop);
	return NULL;
}

static void on_stop(void *arg)
{
	struct it_watch *w = arg;

	reflector_stop(&w->refl);
	http_release(&w->http);
}

struct start_args {
	struct it_watch *w;
	const char *ns;
	unsigned page, watch_s;
};

static void start_on_loop(void *arg)
{
	struct start_args *a = arg;
	struct reflector_opts o = {.namespace = a->ns,
				   .page_size = a->page,
				   .seed = 12345,
				   .label_selector = POD_SELECTOR,
				   .watch_min_s = a->watch_s,
				   .watch_max_s = a->watch_s};
	struct reflector_store store;

	podcache_store(&a->w->cache, &store);
	reflector_init(&a->w->refl, &a->w->kc, &store, &o);
	reflector_start(&a->w->refl, on_synced, a->w);
}

struct int_read {
	struct it_watch *w;
	int synced;
};

static void read_synced(void *arg)
{
	struct int_read *r = arg;
	r->synced = r->w->synced;
}

static void watch_stop_on_fail(void *arg)
{
	it_watch_stop(arg);
}

void it_watch_start(struct it_watch *w, const char *ns, unsigned page_size)
{
	it_watch_start_opts(w, ns, page_size, 0);
}

void it_watch_start_opts(struct it_watch *w, const char *ns, unsigned page_size, unsigned watch_s)
{
	struct kubeconfig cfg;
	struct buf err;
	struct start_args a = {w, ns, page_size, watch_s};
	struct int_read rd = {w, 0};

	memset(w, 0, sizeof(*w));
	log_setup(getenv("IT_DEBUG") ? LOG_DEBUG : LOG_WARN, LOG_FORMAT_TEXT);
	kubeconfig_init(&cfg);
	buf_init(&err, 4096);
	if (kubeconfig_load_default(&cfg, NULL, NULL, &err))
		t_fail(__FILE__, __LINE__, "kubeconfig: %s", buf_str(&err));
	buf_release(&err);
	if (loop_init(&w->loop) || http_init(&w->http, &w->loop))
		t_fail(__FILE__, __LINE__, "loop init");
	kubeclient_init(&w->kc, &w->http, &cfg);
	podcache_init(&w->cache, on_workload, w);
	w->loop.on_stop = on_stop;
	w->loop.on_stop_arg = w;
	pthread_create(&w->thread, NULL, loop_thread, w);
	/* a failed assert leaves the test's stack, where w lives: stop the
	 * loop thread first */
	t_defer(watch_stop_on_fail, w);
	loop_call_sync(&w->loop, start_on_loop, &a);
	for (int i = 0; i < 600 && !rd.synced; i++) {
		usleep(100000);
		loop_call_sync(&w->loop, read_synced, &rd);
	}
	if (!rd.synced)
		t_fail(__FILE__, __LINE__, "reflector did not complete its first list in 60 s");
}

void it_watch_stop(struct it_watch *w)
{
	t_undefer(w);
	loop_stop(&w->loop);
	pthread_join(w->thread, NULL);
	loop_release(&w->loop);
	reflector_release(&w->refl);
	podcache_release(&w->cache);
	kubeclient_release(&w->kc);
}

struct names_args {
	struct it_watch *w;
	const char *ns;
	struct buf *out;
};

static void names_on_loop(void *arg)
{
	struct names_args *a = arg;
	const char **keys = hmap_sorted_keys(&a->w->cache.pods);
	size_t nslen = strlen(a->ns);

	buf_reset(a->out);
	for (size_t i = 0; keys[i]; i++)
		if (strncmp(keys[i], a->ns, nslen) == 0 && keys[i][nslen] == '/')
			buf_printf(a->out, "%s\n", keys[i] + nslen + 1);
	im_free((void *)keys);
}

void it_watch_names(struct it_watch *w, const char *ns, struct buf *out)
{
	struct names_args a = {w, ns, out};
	loop_call_sync(&w->loop, names_on_loop, &a);
}

struct stats_args {
	struct it_watch *w;
	struct reflector_stats s;
};

static void stats_on_loop(void *arg)
{
	struct stats_args *a = arg;
	a->s = a->w->refl.stats;
}

struct reflector_stats it_watch_stats(struct it_watch *w)
{
	struct stats_args a = {.w = w};
	loop_call_sync(&w->loop, stats_on_loop, &a);
	return a.s;
}

struct resume_args {
	struct it_watch *w;
	const char *rv;
};

static void resume_on_loop(void *arg)
{
	struct resume_args *a = arg;
	reflector_force_resume(&a->w->refl, a->rv);
}

void it_watch_resume_from(struct it_watch *w, const char *rv)
{
	struct resume_args a = {w, rv};
	loop_call_sync(&w->loop, resume_on_loop, &a);
}

int it_wait_converged(struct it_watch *w, const char *ns, int timeout_s, struct buf *cached,
		      struct buf *actual)
{
	for (int i = 0; i < timeout_s * 4; i++) {
		it_sh_out(
			actual,
			"kubectl get pods -n %s -l alibabacloud.com/inference-workload,"
			"alibabacloud.com/inference-backend -o name | sed 's#^pod/##' | LC_ALL=C sort",
			ns);
		it_watch_names(w, ns, cached);
		if (strcmp(buf_str(cached), buf_str(actual)) == 0)
			return 1;
		usleep(250000);
	}
	return 0;
}
