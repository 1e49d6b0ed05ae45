/*
 * reflector.h - keeps a store in step with the API server (client-go's
 * reflector): LIST a resource in pages, then WATCH from the list's
 * resourceVersion. The pod cache is one store (podcache_store); the
 * controller's caches of InferenceWorkloads and of the objects it owns are
 * others.
 *
 *   LIST ──all pages──▶ replace cache ──▶ WATCH(rv) ──events──▶ cache, rv
 *     ▲  ▲                                 │  │  │
 *     │  └──── 410 Gone (HTTP or ERROR) ───┘  │  └ stream ends (server timeout): WATCH(rv) now
 *     └─ backoff ◀─ list fails   backoff ◀────┘ connection/HTTP error: WATCH(rv) after backoff
 *
 * Pages use limit/continue; an expired continue token restarts the list.
 * Watches ask for bookmarks and a random timeoutSeconds in [300, 600]
 * (watch_min_s, watch_max_s) so a fleet of controllers does not reconnect in
 * step. Backoff 0.8 s doubling to
 * 30 s with jitter, reset after 2 minutes without failure. A watch that
 * receives no byte for 3 minutes (the API server sends bookmarks about once a
 * minute) is treated as half-open and restarted; TCP keepalive probes the
 * connection meanwhile. docs/reflector.md has the details.
 *
 * Loop thread only. The reflector does not own the client or the store.
 */
#ifndef INFERMON_REFLECTOR_H
#define INFERMON_REFLECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "backoff.h"
#include "kubeclient.h"
#include "watchstream.h"

/* Where a reflector puts what it lists and watches. Objects are lent for
 * the call only. Each function returns how many objects it rejected (could
 * not decode), for the reflector's stats. */
struct reflector_store {
	void *ctx;
	/* One object of a list, as its page arrives: what the store keeps of
	 * it (a list of thousands of pods is then never held as JSON trees,
	 * which were most of the controller's peak memory), handed later to
	 * replace or discard. NULL when the object cannot be kept (it counts
	 * as rejected). */
	void *(*decode)(void *ctx, const cJSON *obj);
	/* Frees one result of decode, of a list given up half way. */
	void (*discard)(void *ctx, void *item);
	/* The complete set within scope (a namespace, or NULL for all) after a
	 * list, as decode's results (the store takes them): objects not in it
	 * are gone. */
	size_t (*replace)(void *ctx, const char *ns, void *const *items, size_t n);
	size_t (*upsert)(void *ctx, const cJSON *obj);
	size_t (*remove)(void *ctx, const cJSON *obj);
	size_t (*count)(void *ctx); /* objects held, for log lines */
};

enum reflector_state {
	REFLECTOR_IDLE,
	REFLECTOR_LISTING,
	REFLECTOR_WATCHING,
	REFLECTOR_BACKOFF,
	REFLECTOR_STOPPED
};

struct reflector_opts {
	const char *api;            /* "/api/v1" or "/apis/GROUP/VERSION"; default "/api/v1" */
	const char *resource;       /* plural: "pods", "inferenceworkloads"; default "pods" */
	const char *namespace;      /* NULL: all namespaces */
	const char *label_selector; /* NULL: none */
	const char *field_selector; /* NULL: none; "metadata.name=X" lets RBAC
				     * resourceNames grant the list and watch */
	unsigned page_size;         /* default 500 */
	unsigned watch_min_s;       /* default 300; each watch asks for a */
	unsigned watch_max_s;       /* timeoutSeconds in [min, max]: default 600 */
	unsigned idle_timeout_s;    /* default 180 */
	uint32_t seed;              /* jitter seed; 0 = from the clock */
};

struct reflector_stats {
	uint64_t lists;         /* LIST requests (pages) */
	uint64_t relists;       /* full lists after the first */
	uint64_t gone;          /* 410s seen */
	uint64_t watches;       /* WATCH requests */
	uint64_t events;        /* watch events applied (added, modified, deleted) */
	uint64_t bookmarks;     /* BOOKMARK events (each advances the version) */
	uint64_t failures;      /* failed requests */
	uint64_t decode_errors; /* objects the store rejected */
};

struct reflector;
typedef void (*reflector_synced_cb)(struct reflector *r, void *data);

struct reflector {
	struct kubeclient *kc;
	struct reflector_store store;
	char *api, *resource;
	char *namespace;
	char *selector;       /* NULL: none */
	char *field_selector; /* NULL: none */
	unsigned page_size, watch_min_s, watch_max_s, idle_timeout_s;
	enum reflector_state state;
	bool synced; /* a full list has completed */
	/* cut off: a request failed or 410 Gone came, and since then no list
	 * has completed and no watch has delivered (informers_crs_current) */
	bool cut;
	uint64_t watch_started_ms; /* the loop's clock when the watch began */
	char *rv;                  /* last resourceVersion seen */
	char *cont;                /* continue token of the list in progress */
	void **listed;             /* the list in progress, as store.decode kept it */
	size_t nlisted, caplisted;
	struct http_call *call;
	struct watchstream ws;
	struct buf errbody; /* body of a non-200 watch response */
	bool gone;          /* an ERROR 410 arrived in the stream */
	uv_timer_t timer;
	struct backoff bo;
	struct reflector_stats stats;
	reflector_synced_cb synced_cb;
	void *synced_data;
	char kind_msg_failed[96], kind_msg_listed[96]; /* log messages */
};

void reflector_init(struct reflector *r, struct kubeclient *kc, const struct reflector_store *store,
		    const struct reflector_opts *opts);
/* Starts listing. synced_cb (may be NULL) runs after each completed list. */
im_result reflector_start(struct reflector *r, reflector_synced_cb cb, void *data);
/* Cancels the request in flight and closes the timer; the loop must run
 * once more before reflector_release. */
void reflector_stop(struct reflector *r);
void reflector_release(struct reflector *r);

/* Fault injection for tests: drops the current watch as a broken connection
 * would and resumes watching from rv at once (an old, compacted rv makes the
 * API server answer 410 Gone). */
void reflector_force_resume(struct reflector *r, const char *rv);

const char *reflector_state_name(enum reflector_state s);

#endif
