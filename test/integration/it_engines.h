/*
 * it_engines.h - engines for integration tests that need no API server:
 * the real llm-d-inference-sim, the composed engines of engines.py, and the
 * real scraper running on its own loop thread against them.
 *
 * Processes started here are children of the test: they get SIGTERM when
 * the test process dies (PR_SET_PDEATHSIG) and are stopped and reaped by the
 * matching _stop call; what a failed test leaves running (processes,
 * scrapers) is stopped when the test program exits. Everything binds
 * 127.0.0.1 on ports picked at run time. Failures (a missing binary, an
 * engine that never answers) fail the test through t_fail with a message
 * saying what to do.
 */
#ifndef INFERMON_IT_ENGINES_H
#define INFERMON_IT_ENGINES_H

#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>

#include "../t.h"
#include "buf.h"
#include "http.h"
#include "loop.h"
#include "scraper.h"

/* GET url with a blocking libcurl call (5 s timeout); the body goes into out
 * (reset first). Returns the HTTP status, 0 when no response came. */
long it_http_get(const char *url, struct buf *out);

#define IT_ENGINES_MAX 16

/* test/integration/engines.py: one port per mode. */
struct it_engines {
	pid_t pid;
	int n;
	struct {
		char mode[32];
		int port;
	} ports[IT_ENGINES_MAX];
};

/* Starts engines.py serving the space-separated modes (oversized pages of
 * big_mb MB; 0 = its default) and waits for its ports. */
void it_engines_start(struct it_engines *e, const char *modes, int big_mb);
/* Writes mode's base URL, "http://127.0.0.1:PORT", into out (n bytes).
 * Fails the test for a mode that was not started. */
void it_engines_url(const struct it_engines *e, const char *mode, char *out, size_t n);
/* How many times path was asked on mode's port (engines.py's /_requests). */
int it_engines_requests(const struct it_engines *e, const char *mode, const char *path);
void it_engines_stop(struct it_engines *e);

/* The simulator: INFERMON_SIM, else
 * ${XDG_CACHE_HOME:-$HOME/.cache}/infermon/bin/llm-d-inference-sim (built by
 * hack/tools/build.sh sim). */
struct it_sim {
	pid_t pid;
	int port;
	char url[64];
};

/* Starts the simulator on a free port with --force-dummy-tokenizer, --port
 * and the NULL-terminated extra arguments; waits until /v1/models answers. */
void it_sim_start(struct it_sim *s, const char *const *args);
void it_sim_stop(struct it_sim *s);

/* The real scraper on a loop thread of its own. The test thread talks to it
 * only through these calls (loop_call_sync underneath). */
struct it_scraper {
	struct loop loop;
	struct http http;
	struct scraper s;
	pthread_t thread;
	/* copies of the strings handed out by it_scraper_get, freed with
	 * the scraper (the target's own change with every scrape) */
	char **copies;
	size_t ncopies;
};

/* Starts a scraper; free it with it_scraper_free. Heap-allocated because a
 * failed assert leaves the test function while the loop thread runs. */
struct it_scraper *it_scraper_new(const struct scraper_opts *o);
void it_scraper_add(struct it_scraper *w, const char *key, const char *url, enum backend b,
		    double args_max_num_seqs);
/* A copy of the target's state: read only the results (up, error, engine,
 * limits, checks, counters); its pointers belong to the scraper, except
 * checks.message[], engine.models[], error and problem: copies kept until
 * it_scraper_free. */
struct scrape_target it_scraper_get(struct it_scraper *w, const char *key);
/* Stops the loop thread and frees everything. */
void it_scraper_free(struct it_scraper *w);

#endif
