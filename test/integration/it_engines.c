#include "it_engines.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "log.h"
#include "strparse.h"

/* --- what a failed test leaves running ------------------------------------- */

#define LIVE_MAX 32
static pid_t live_pids[LIVE_MAX];
static struct it_scraper *live_scrapers[LIVE_MAX];

static void cleanup_at_exit(void);

static void register_exit_hook(void)
{
	static bool registered;

	if (!registered && atexit(cleanup_at_exit) == 0)
		registered = true;
}

/* Replaces old with new in a registry slot (0 / NULL: a free slot). */
static void live_pid(pid_t old, pid_t new)
{
	register_exit_hook();
	for (int i = 0; i < LIVE_MAX; i++)
		if (live_pids[i] == old) {
			live_pids[i] = new;
			return;
		}
}

static void live_scraper(struct it_scraper *old, struct it_scraper *new)
{
	register_exit_hook();
	for (int i = 0; i < LIVE_MAX; i++)
		if (live_scrapers[i] == old) {
			live_scrapers[i] = new;
			return;
		}
}

/* --- processes ------------------------------------------------------------ */

/* fork + exec argv; the child's stdout goes to out_fd (-1: /dev/null unless
 * IT_DEBUG is set), its stdin and (without IT_DEBUG) stderr to /dev/null. */
static pid_t spawn(char *const argv[], int out_fd)
{
	pid_t pid = fork();

	if (pid < 0)
		t_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		bool debug = getenv("IT_DEBUG") != NULL;

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(null, 0);
		dup2(out_fd >= 0 ? out_fd : debug ? 2 : null, 1);
		if (!debug)
			dup2(null, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	live_pid(0, pid);
	return pid;
}

/* SIGTERM, then SIGKILL after 5 s; reaps the child. */
static void stop_child(pid_t pid)
{
	int status;

	if (pid <= 0)
		return;
	live_pid(pid, 0);
	kill(pid, SIGTERM);
	for (int i = 0; i < 50; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return;
		usleep(100000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

static bool child_alive(pid_t pid)
{
	int status;
	return waitpid(pid, &status, WNOHANG) == 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- blocking HTTP for the test thread ------------------------------------- */

static size_t collect(char *p, size_t size, size_t n, void *userp)
{
	return buf_add(userp, p, size * n) == IM_OK ? size * n : 0;
}

long it_http_get(const char *url, struct buf *out)
{
	CURL *c = curl_easy_init();
	long status = 0;

	buf_reset(out);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return status;
}

/* --- engines.py -------------------------------------------------------------- */

static const char *engines_py(void)
{
	static char path[4096];
	const char *here = __FILE__; /* absolute: CMake compiles by full path */
	const char *slash = strrchr(here, '/');

	snprintf(path, sizeof(path), "%.*s/engines.py", slash ? (int)(slash - here) : 1,
		 slash ? here : ".");
	return path;
}

void it_engines_start(struct it_engines *e, const char *modes, int big_mb)
{
	char *argv[4 + IT_ENGINES_MAX + 1], *copy = im_xstrdup(modes), *m;
	char big[32], line[256];
	int fds[2], argc = 0;
	size_t len = 0;
	double deadline = now_s() + 30;
	bool ready = false;

	memset(e, 0, sizeof(*e));
	snprintf(big, sizeof(big), "--big-mb=%d", big_mb > 0 ? big_mb : 80);
	argv[argc++] = "python3";
	argv[argc++] = (char *)engines_py();
	argv[argc++] = "--max-seconds=300";
	argv[argc++] = big;
	/* the modes, split at spaces in place */
	for (m = copy; *m && argc < 4 + IT_ENGINES_MAX;) {
		char *sp = strchr(m, ' ');
		if (sp)
			*sp = '\0';
		if (*m)
			argv[argc++] = m;
		if (!sp)
			break;
		m = sp + 1;
	}
	argv[argc] = NULL;
	if (pipe2(fds, O_CLOEXEC) != 0)
		t_fail(__FILE__, __LINE__, "pipe: %s", strerror(errno));
	e->pid = spawn(argv, fds[1]);
	close(fds[1]);
	im_free(copy);

	/* "MODE PORT" lines, then "ready" */
	while (!ready && now_s() < deadline) {
		struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
		ssize_t n;
		char *nl;

		if (poll(&pfd, 1, 500) <= 0)
			continue;
		n = read(fds[0], line + len, sizeof(line) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		line[len] = '\0';
		while ((nl = strchr(line, '\n')) != NULL) {
			char *sp = strchr(line, ' ');
			*nl = '\0';
			if (strcmp(line, "ready") == 0) {
				ready = true;
			} else if (sp && sp < nl && e->n < IT_ENGINES_MAX) {
				uint64_t port;
				*sp = '\0';
				if (strparse_u64(sp + 1, strlen(sp + 1), 65535, &port) == IM_OK) {
					snprintf(e->ports[e->n].mode, sizeof(e->ports[e->n].mode),
						 "%.31s", line);
					e->ports[e->n++].port = (int)port;
				}
			}
			len -= (size_t)(nl + 1 - line);
			memmove(line, nl + 1, len + 1);
		}
		if (len == sizeof(line) - 1)
			break;
	}
	close(fds[0]);
	if (!ready) {
		stop_child(e->pid);
		e->pid = 0;
		t_fail(__FILE__, __LINE__,
		       "%s did not report its ports within 30 s (python3 on PATH?)", engines_py());
	}
}

static int engines_port(const struct it_engines *e, const char *mode)
{
	for (int i = 0; i < e->n; i++)
		if (strcmp(e->ports[i].mode, mode) == 0)
			return e->ports[i].port;
	t_fail(__FILE__, __LINE__, "engines.py was not started with mode %s", mode);
}

void it_engines_url(const struct it_engines *e, const char *mode, char *out, size_t n)
{
	snprintf(out, n, "http://127.0.0.1:%d", engines_port(e, mode));
}

int it_engines_requests(const struct it_engines *e, const char *mode, const char *path)
{
	char url[128];
	struct buf body;
	cJSON *root, *v;
	int n = -1;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/_requests", engines_port(e, mode));
	buf_init(&body, BUF_MAX_SMALL);
	if (it_http_get(url, &body) == 200) {
		root = cJSON_Parse(buf_str(&body));
		v = cJSON_GetObjectItemCaseSensitive(root, path);
		n = cJSON_IsNumber(v) ? v->valueint : 0;
		cJSON_Delete(root);
	}
	buf_release(&body);
	if (n < 0)
		t_fail(__FILE__, __LINE__, "cannot read %s", url);
	return n;
}

void it_engines_stop(struct it_engines *e)
{
	stop_child(e->pid);
	e->pid = 0;
}

/* --- the simulator ------------------------------------------------------------ */

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0)
		t_fail(__FILE__, __LINE__, "cannot find a free port: %s", strerror(errno));
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static const char *sim_path(void)
{
	static char path[4096];
	const char *env = getenv("INFERMON_SIM"), *xdg = getenv("XDG_CACHE_HOME");

	if (env && *env)
		return env;
	if (xdg && *xdg)
		snprintf(path, sizeof(path), "%s/infermon/bin/llm-d-inference-sim", xdg);
	else
		snprintf(path, sizeof(path), "%s/.cache/infermon/bin/llm-d-inference-sim",
			 getenv("HOME") ? getenv("HOME") : "");
	return path;
}

void it_sim_start(struct it_sim *s, const char *const *args)
{
	char *argv[64], port[16], models[96];
	int argc = 0;
	struct buf body;
	double deadline = now_s() + 30;
	bool up = false;

	memset(s, 0, sizeof(*s));
	if (access(sim_path(), X_OK) != 0)
		t_fail(__FILE__, __LINE__,
		       "no simulator at %s: run hack/tools/build.sh sim (or set "
		       "INFERMON_SIM)",
		       sim_path());
	s->port = free_port();
	snprintf(port, sizeof(port), "%d", s->port);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
	argv[argc++] = (char *)sim_path();
	argv[argc++] = "--port";
	argv[argc++] = port;
	argv[argc++] = "--force-dummy-tokenizer";
	for (; args && *args && argc < 63; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	s->pid = spawn(argv, -1);

	buf_init(&body, BUF_MAX_SMALL);
	snprintf(models, sizeof(models), "%s/v1/models", s->url);
	while (!up && now_s() < deadline && child_alive(s->pid)) {
		up = it_http_get(models, &body) == 200;
		if (!up)
			usleep(100000);
	}
	buf_release(&body);
	if (!up) {
		it_sim_stop(s);
		t_fail(__FILE__, __LINE__,
		       "the simulator did not answer on port %s within 30 s "
		       "(IT_DEBUG=1 shows its log)",
		       port);
	}
}

void it_sim_stop(struct it_sim *s)
{
	stop_child(s->pid);
	s->pid = 0;
}

/* --- the scraper on a loop thread ---------------------------------------------- */

static void *scraper_thread(void *arg)
{
	struct it_scraper *w = arg;

	loop_run(&w->loop);
	return NULL;
}

static void scraper_on_stop(void *arg)
{
	struct it_scraper *w = arg;

	scraper_stop(&w->s);
	http_release(&w->http);
}

struct scraper_start_args {
	struct it_scraper *w;
	const struct scraper_opts *o;
};

static void scraper_start_on_loop(void *arg)
{
	struct scraper_start_args *a = arg;

	scraper_init(&a->w->s, &a->w->http, a->o, NULL, NULL);
	scraper_start(&a->w->s);
}

struct it_scraper *it_scraper_new(const struct scraper_opts *o)
{
	struct it_scraper *w = im_xcalloc(1, sizeof(*w));
	struct scraper_start_args a = {w, o};

	log_setup(getenv("IT_DEBUG") ? LOG_DEBUG : LOG_WARN, LOG_FORMAT_TEXT);
	if (loop_init(&w->loop) || http_init(&w->http, &w->loop))
		t_fail(__FILE__, __LINE__, "loop init");
	w->loop.on_stop = scraper_on_stop;
	w->loop.on_stop_arg = w;
	pthread_create(&w->thread, NULL, scraper_thread, w);
	loop_call_sync(&w->loop, scraper_start_on_loop, &a);
	live_scraper(NULL, w);
	return w;
}

struct scraper_add_args {
	struct it_scraper *w;
	const char *key, *url;
	enum backend b;
	double args;
};

static void scraper_add_on_loop(void *arg)
{
	struct scraper_add_args *a = arg;

	scraper_set_target(&a->w->s, a->key, a->url, "/metrics", a->b, a->args);
}

void it_scraper_add(struct it_scraper *w, const char *key, const char *url, enum backend b,
		    double args_max_num_seqs)
{
	struct scraper_add_args a = {w, key, url, b, args_max_num_seqs};

	loop_call_sync(&w->loop, scraper_add_on_loop, &a);
}

struct scraper_get_args {
	struct it_scraper *w;
	const char *key;
	struct scrape_target t;
	bool found;
};

/* A copy of s that outlives the target's own (the loop thread may scrape
 * it again and free its strings), freed with it_scraper_free. */
static char *keep_copy(struct it_scraper *w, const char *s)
{
	char *m = im_xstrdup(s);

	w->copies = im_xrealloc(w->copies, (w->ncopies + 1) * sizeof(*w->copies));
	w->copies[w->ncopies++] = m;
	return m;
}

static void scraper_get_on_loop(void *arg)
{
	struct scraper_get_args *a = arg;
	struct scrape_target *t = scraper_get(&a->w->s, a->key);

	if (t) {
		struct it_scraper *w = a->w;

		a->t = *t;
		a->found = true;
		for (int k = 0; k < CHECK_COUNT; k++)
			/* "" rather than NULL, as scraper_check_message */
			a->t.checks.message[k] = keep_copy(
				w, scraper_check_message(t, (enum check_kind)k));
		for (int m = 0; m < t->engine.nmodels; m++)
			a->t.engine.models[m] = keep_copy(w, t->engine.models[m]);
		a->t.error = keep_copy(w, t->error);
		a->t.problem = keep_copy(w, t->problem);
	}
}

struct scrape_target it_scraper_get(struct it_scraper *w, const char *key)
{
	struct scraper_get_args a = {.w = w, .key = key};

	loop_call_sync(&w->loop, scraper_get_on_loop, &a);
	if (!a.found)
		t_fail(__FILE__, __LINE__, "no scrape target %s", key);
	return a.t;
}

void it_scraper_free(struct it_scraper *w)
{
	live_scraper(w, NULL);
	loop_stop(&w->loop);
	pthread_join(w->thread, NULL);
	loop_release(&w->loop);
	scraper_release(&w->s);
	for (size_t i = 0; i < w->ncopies; i++)
		im_free(w->copies[i]);
	im_free(w->copies);
	im_free(w);
}

static void cleanup_at_exit(void)
{
	for (int i = 0; i < LIVE_MAX; i++)
		if (live_scrapers[i])
			it_scraper_free(live_scrapers[i]);
	for (int i = 0; i < LIVE_MAX; i++)
		stop_child(live_pids[i]);
}
