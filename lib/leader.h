/*
 * leader.h - leader election on a coordination.k8s.io/v1 Lease, with
 * client-go's semantics (k8s.io/client-go/tools/leaderelection).
 *
 * Several replicas of the controller run at once; exactly one of them, the
 * holder of the Lease, writes (generated objects, CR status, Events). The
 * others keep their caches warm and scrape, so a takeover needs no relist.
 *
 *   - Every retry period a candidate GETs the Lease. Absent: it creates it
 *     (POST; 409 means another candidate won). Held by another holder whose
 *     record has not changed for leaseDurationSeconds of OUR monotonic
 *     clock since we first saw it that way: it takes it over with a PUT
 *     carrying the resourceVersion it read (409: someone else was faster),
 *     leaseTransitions + 1, acquireTime and renewTime now. Clocks of
 *     different machines are never compared: the holder's renewTime is
 *     only a value whose change we notice.
 *   - The leader renews every retry period (a PUT with the resourceVersion
 *     of its last write; on a 409 it reads the Lease again). When no renewal
 *     succeeded within the renew deadline, counted from when the last
 *     successful one was SENT, it stops leading at once: the callback runs
 *     with leading=false before anything else on the loop, so the owner can
 *     turn its writes off. Since renew deadline < lease duration, a deposed
 *     leader stops writing before any other candidate may take over.
 *   - Unlike client-go, losing the lease does not exit the process: the
 *     candidate goes back to following, caches warm, and may lead again.
 *   - leader_resign hands the Lease back on shutdown (holderIdentity "",
 *     leaseDurationSeconds 1), so a follower takes over at its next retry
 *     instead of waiting for the lease to expire.
 *
 * The decision (leader_decide) and the record to write (leader_spec) are
 * pure functions of the observed record and caller-supplied times, so the
 * expiry rules are tested without a clock or an API server.
 *
 * Loop thread only. docs/leader-election.md has the timing argument.
 */
#ifndef INFERMON_LEADER_H
#define INFERMON_LEADER_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "kubeclient.h"
#include "loop.h"

#define LEADER_DEFAULT_NAME "infermon"
#define LEADER_DEFAULT_NAMESPACE "infermon-system"
#define LEADER_DEFAULT_LEASE_MS 15000
#define LEADER_DEFAULT_RENEW_MS 10000
#define LEADER_DEFAULT_RETRY_MS 2000

/* The election fields of a Lease (spec, and metadata.resourceVersion). */
struct lease_record {
	char holder[256];      /* holderIdentity; "" when free */
	int64_t duration_s;    /* leaseDurationSeconds; 0 when absent */
	char acquire_time[40]; /* RFC 3339 micro time, "" when absent */
	char renew_time[40];
	int64_t transitions;       /* leaseTransitions */
	char resource_version[64]; /* metadata.resourceVersion */
};

/* Reads the election fields of a Lease object. IM_PARSE when it is not an
 * object or a field has the wrong type (the message, when err is not NULL,
 * names the field); fields too long for the record are IM_TOOBIG. */
im_result lease_record_parse(const cJSON *lease, struct lease_record *out, struct buf *err);
/* Whether two records are the same (every field, resourceVersion too). */
bool lease_record_same(const struct lease_record *a, const struct lease_record *b);

/* What a candidate knows about the Lease. */
struct leader_view {
	bool exists;             /* a Lease was read */
	struct lease_record rec; /* the last record read */
	uint64_t observed_ms;    /* local monotonic time rec was first seen */
};

enum leader_action {
	LEADER_WAIT,   /* held by another and not expired: follow */
	LEADER_CREATE, /* no Lease: create it */
	LEADER_TAKE,   /* free or expired: take it over */
	LEADER_RENEW,  /* ours: renew it */
};

/* Records rec, read at now_ms, into v: observed_ms moves to now_ms only
 * when rec differs from what v held (or v held nothing). */
void leader_observe(struct leader_view *v, const struct lease_record *rec, uint64_t now_ms);

/* What identity should do at now_ms given v. A record is expired once
 * now_ms >= observed_ms + its leaseDurationSeconds (default_duration_ms
 * when the record has none); *expires_in_ms (may be NULL) gets the time
 * left, 0 when expired or not held. */
enum leader_action leader_decide(const struct leader_view *v, const char *identity,
				 uint64_t default_duration_ms, uint64_t now_ms,
				 uint64_t *expires_in_ms);

/* Sets the election fields of spec (a Lease's spec object) for identity
 * writing at wall time now (RFC 3339 micro time): holderIdentity,
 * leaseDurationSeconds, renewTime; acquireTime and leaseTransitions are kept
 * when identity already holds old, else acquireTime is now and the
 * transitions count old's + 1 (0 when old is NULL, i.e. on create). */
void leader_spec(cJSON *spec, const struct lease_record *old, const char *identity,
		 int64_t duration_s, const char *now);

/* The wall clock as a Kubernetes MicroTime: 2026-11-23T21:53:04.123456Z. */
void leader_micro_time(char *out, size_t n);

/* ---- the running election ---- */

struct leader_opts {
	const char *namespace;      /* of the Lease */
	const char *name;           /* of the Lease */
	const char *identity;       /* holderIdentity of this candidate */
	uint64_t lease_duration_ms; /* how long others wait; whole seconds */
	uint64_t renew_deadline_ms; /* leader gives up after this without renewal */
	uint64_t retry_period_ms;   /* between attempts */
};

/* Runs on the loop thread when this candidate starts or stops leading. */
typedef void (*leader_change_cb)(void *ctx, bool leading);
/* Runs when leader_resign's write is done, whatever its outcome. */
typedef void (*leader_resign_cb)(void *ctx);

enum leader_call {
	LEADER_CALL_NONE,
	LEADER_CALL_GET,
	LEADER_CALL_CREATE,
	LEADER_CALL_UPDATE,
	LEADER_CALL_RESIGN
};

struct leader {
	struct kubeclient *kc;
	struct loop *loop;
	char *namespace, *name, *identity;
	uint64_t duration_ms, deadline_ms, retry_ms;
	leader_change_cb cb;
	void *cb_ctx;
	uv_timer_t tick;        /* every retry period */
	uv_timer_t deadline;    /* renew deadline, armed while leading */
	struct http_call *call; /* in flight, or NULL */
	enum leader_call call_kind;
	uint64_t call_sent_ms;
	cJSON *lease; /* the last Lease object read or written */
	struct leader_view view;
	bool leading;
	bool stopped;
	uint64_t renewed_ms; /* send time of the last successful write */
	uint64_t became_ms;  /* when leading started */
	leader_resign_cb resign_cb;
	void *resign_ctx;
	char last_error[512]; /* last failure, logged once per change */
	/* counters for /metrics */
	uint64_t requests, failures, acquired, lost;
};

/* The counters /metrics shows. */
struct leader_stats {
	int64_t transitions;         /* leaseTransitions of the Lease as last read */
	uint64_t requests, failures; /* Lease requests, and those that failed */
	uint64_t acquired, lost;     /* times this candidate started or stopped leading */
};
void leader_stats(const struct leader *le, struct leader_stats *out);

/* Copies the options; the callback reports leadership changes. Starts
 * nothing. */
void leader_init(struct leader *le, struct kubeclient *kc, struct loop *loop,
		 const struct leader_opts *o, leader_change_cb cb, void *ctx);
/* First attempt now, then one per retry period. */
void leader_start(struct leader *le);
/* Stops leading (the callback runs with false if it was leading) and hands
 * the Lease back: a PUT with holderIdentity "" and leaseDurationSeconds 1,
 * at most timeout_ms long. IM_OK: cb runs when the write is done.
 * IM_NOTFOUND when this candidate does not hold the Lease (cb never runs). */
im_result leader_resign(struct leader *le, uint64_t timeout_ms, leader_resign_cb cb, void *ctx);
/* Cancels what is in flight (no callbacks) and closes the timers. */
void leader_stop(struct leader *le);
/* Frees what leader_init and the election allocated; after the loop has
 * closed the timers. */
void leader_release(struct leader *le);

/* "host_1a2b3c4d5e6f7a8b": $POD_NAME, else the hostname, plus a random
 * suffix so two processes on one host never share an identity. */
char *leader_identity_new(void);

#endif
