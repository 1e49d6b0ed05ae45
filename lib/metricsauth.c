#include "metricsauth.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "alloc.h"
#include "log.h"

/* A verdict kept, or a token under review (pending). */
struct ma_entry {
	uint8_t key[METRICSAUTH_KEY_LEN];
	bool used;
	bool pending;
	enum metricsauth_verdict verdict;
	uint64_t expires_ms;
	char *reason; /* the response line; NULL for ALLOWED */
};

struct metricsauth {
	pthread_mutex_t lock;
	metricsauth_clock_cb clock;
	metricsauth_signal_cb want, wake;
	void *want_data, *wake_data;
	struct ma_entry entries[METRICSAUTH_MAX_ENTRIES];
	/* FIFO of queued jobs: ring of METRICSAUTH_MAX_QUEUED */
	struct metricsauth_job queue[METRICSAUTH_MAX_QUEUED];
	size_t q_head, q_len;
	struct metricsauth_stats stats;
};

static const char *const verdict_names[] = {
	[METRICSAUTH_ALLOWED] = "allowed",     [METRICSAUTH_UNAUTHENTICATED] = "unauthenticated",
	[METRICSAUTH_FORBIDDEN] = "forbidden", [METRICSAUTH_UNAVAILABLE] = "unavailable",
	[METRICSAUTH_PENDING] = "pending",
};

const char *metricsauth_verdict_name(enum metricsauth_verdict v)
{
	return v < METRICSAUTH_VERDICTS ? verdict_names[v] : "unknown";
}

static uint64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void metricsauth_job_release(struct metricsauth_job *job)
{
	if (job->token) {
		OPENSSL_cleanse(job->token, strlen(job->token));
		im_free(job->token);
	}
	job->token = NULL;
}

struct metricsauth *metricsauth_new(metricsauth_clock_cb clock)
{
	struct metricsauth *a = im_xcalloc(1, sizeof(*a));

	pthread_mutex_init(&a->lock, NULL);
	a->clock = clock ? clock : monotonic_ms;
	return a;
}

static void entry_clear(struct ma_entry *e)
{
	im_free(e->reason);
	memset(e, 0, sizeof(*e));
}

void metricsauth_free(struct metricsauth *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->q_len; i++)
		metricsauth_job_release(&a->queue[(a->q_head + i) % METRICSAUTH_MAX_QUEUED]);
	for (size_t i = 0; i < METRICSAUTH_MAX_ENTRIES; i++)
		entry_clear(&a->entries[i]);
	pthread_mutex_destroy(&a->lock);
	im_free(a);
}

void metricsauth_set_want(struct metricsauth *a, metricsauth_signal_cb fn, void *data)
{
	pthread_mutex_lock(&a->lock);
	a->want = fn;
	a->want_data = data;
	pthread_mutex_unlock(&a->lock);
}

void metricsauth_set_wake(struct metricsauth *a, metricsauth_signal_cb fn, void *data)
{
	pthread_mutex_lock(&a->lock);
	a->wake = fn;
	a->wake_data = data;
	pthread_mutex_unlock(&a->lock);
}

/* RFC 6750 b64token: ALPHA DIGIT - . _ ~ + / then trailing '='. */
static bool b64token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

bool metricsauth_bearer(const char *v, size_t n, const char **token, size_t *len)
{
	size_t i = 0, start, end;

	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	if (n - i < 7 || strncasecmp(v + i, "bearer", 6) != 0 ||
	    (v[i + 6] != ' ' && v[i + 6] != '\t'))
		return false;
	i += 6;
	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	start = i;
	while (i < n && b64token_char(v[i]))
		i++;
	if (i == start) /* RFC 6750: at least one character before any '=' */
		return false;
	while (i < n && v[i] == '=')
		i++;
	end = i;
	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	if (end == start || i != n)
		return false;
	*token = v + start;
	*len = end - start;
	return true;
}

static void token_key(const char *token, size_t len, uint8_t key[METRICSAUTH_KEY_LEN])
{
	unsigned int n = METRICSAUTH_KEY_LEN;

	/* SHA-256 cannot fail here but for a broken OpenSSL: then every
	 * token shares a key of zeros, which the review settles like any
	 * other (wrongly for all but one), so abort instead */
	if (!EVP_Digest(token, len, key, &n, EVP_sha256(), NULL) || n != METRICSAUTH_KEY_LEN) {
		log_kv(LOG_ERROR, "OpenSSL cannot compute SHA-256", NULL);
		abort();
	}
}

/* Under lock. The entry for key, or NULL. */
static struct ma_entry *find(struct metricsauth *a, const uint8_t key[METRICSAUTH_KEY_LEN])
{
	for (size_t i = 0; i < METRICSAUTH_MAX_ENTRIES; i++)
		if (a->entries[i].used && memcmp(a->entries[i].key, key, METRICSAUTH_KEY_LEN) == 0)
			return &a->entries[i];
	return NULL;
}

/* Under lock. A free entry: an unused one, else an expired one, else the
 * settled one that expires first; NULL when every entry is pending. */
static struct ma_entry *free_entry(struct metricsauth *a, uint64_t now)
{
	struct ma_entry *victim = NULL;

	for (size_t i = 0; i < METRICSAUTH_MAX_ENTRIES; i++) {
		struct ma_entry *e = &a->entries[i];

		if (!e->used)
			return e;
		if (e->pending)
			continue;
		if (e->expires_ms <= now)
			victim = e;
		else if (!victim || e->expires_ms < victim->expires_ms)
			victim = e;
	}
	if (victim)
		entry_clear(victim);
	return victim;
}

/* Under lock: counts the answer and copies its reason. */
static enum metricsauth_verdict answer(struct metricsauth *a, const struct ma_entry *e,
				       enum metricsauth_verdict v, const char *why,
				       struct buf *reason)
{
	if (v != METRICSAUTH_PENDING)
		a->stats.requests[v]++;
	if (reason && v != METRICSAUTH_ALLOWED && v != METRICSAUTH_PENDING) {
		buf_reset(reason);
		buf_adds(reason, e && e->reason ? e->reason : why);
	}
	return v;
}

enum metricsauth_verdict metricsauth_check(struct metricsauth *a, const char *token, size_t len,
					   uint8_t key[METRICSAUTH_KEY_LEN], struct buf *reason)
{
	struct ma_entry *e;
	enum metricsauth_verdict v;
	uint64_t now;

	memset(key, 0, METRICSAUTH_KEY_LEN);
	pthread_mutex_lock(&a->lock);
	if (len == 0 || len > METRICSAUTH_MAX_TOKEN) {
		v = answer(a, NULL, METRICSAUTH_UNAUTHENTICATED, "bearer token empty or too long",
			   reason);
		goto out;
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)token[i] <= 0x20 || (unsigned char)token[i] >= 0x7f) {
			v = answer(a, NULL, METRICSAUTH_UNAUTHENTICATED,
				   "bearer token holds a byte that is not printable ASCII", reason);
			goto out;
		}
	token_key(token, len, key);
	now = a->clock();
	e = find(a, key);
	if (e && (e->pending || e->expires_ms > now)) {
		if (!e->pending)
			a->stats.cache_hits++;
		v = answer(a, e, e->pending ? METRICSAUTH_PENDING : e->verdict, NULL, reason);
		goto out;
	}
	if (e)
		entry_clear(e);
	if (a->q_len == METRICSAUTH_MAX_QUEUED || !(e = free_entry(a, now))) {
		v = answer(a, NULL, METRICSAUTH_UNAVAILABLE,
			   "too many tokens under review; try again", reason);
		goto out;
	}
	e->used = true;
	e->pending = true;
	memcpy(e->key, key, METRICSAUTH_KEY_LEN);
	{
		struct metricsauth_job *job =
			&a->queue[(a->q_head + a->q_len++) % METRICSAUTH_MAX_QUEUED];

		memcpy(job->key, key, METRICSAUTH_KEY_LEN);
		job->token = im_xstrndup(token, len);
	}
	if (a->want)
		a->want(a->want_data);
	v = METRICSAUTH_PENDING;
out:
	pthread_mutex_unlock(&a->lock);
	return v;
}

enum metricsauth_verdict metricsauth_lookup(struct metricsauth *a,
					    const uint8_t key[METRICSAUTH_KEY_LEN],
					    struct buf *reason)
{
	struct ma_entry *e;
	enum metricsauth_verdict v;

	pthread_mutex_lock(&a->lock);
	e = find(a, key);
	if (!e || (!e->pending && e->expires_ms <= a->clock()))
		v = answer(a, NULL, METRICSAUTH_UNAVAILABLE,
			   "the review's verdict was dropped; "
			   "try again",
			   reason);
	else
		v = answer(a, e, e->pending ? METRICSAUTH_PENDING : e->verdict, NULL, reason);
	pthread_mutex_unlock(&a->lock);
	return v;
}

bool metricsauth_take(struct metricsauth *a, struct metricsauth_job *job)
{
	bool got = false;

	pthread_mutex_lock(&a->lock);
	if (a->q_len) {
		*job = a->queue[a->q_head];
		memset(&a->queue[a->q_head], 0, sizeof(a->queue[a->q_head]));
		a->q_head = (a->q_head + 1) % METRICSAUTH_MAX_QUEUED;
		a->q_len--;
		got = true;
	}
	pthread_mutex_unlock(&a->lock);
	return got;
}

static uint64_t ttl_ms(enum metricsauth_verdict v)
{
	switch (v) {
	case METRICSAUTH_ALLOWED:
		return METRICSAUTH_ALLOWED_TTL_MS;
	case METRICSAUTH_FORBIDDEN:
		return METRICSAUTH_FORBIDDEN_TTL_MS;
	case METRICSAUTH_UNAUTHENTICATED:
		return METRICSAUTH_UNAUTHENTICATED_TTL_MS;
	default:
		return METRICSAUTH_UNAVAILABLE_TTL_MS;
	}
}

void metricsauth_settle(struct metricsauth *a, const uint8_t key[METRICSAUTH_KEY_LEN],
			enum metricsauth_verdict v, const char *reason)
{
	struct ma_entry *e;

	if (v >= METRICSAUTH_PENDING)
		v = METRICSAUTH_UNAVAILABLE;
	pthread_mutex_lock(&a->lock);
	a->stats.reviews[v]++;
	e = find(a, key);
	if (e) {
		im_free(e->reason);
		e->pending = false;
		e->verdict = v;
		e->expires_ms = a->clock() + ttl_ms(v);
		e->reason = v == METRICSAUTH_ALLOWED
				    ? NULL
				    : im_xstrdup(reason && *reason ? reason : verdict_names[v]);
	}
	if (a->wake)
		a->wake(a->wake_data);
	pthread_mutex_unlock(&a->lock);
}

void metricsauth_count_call(struct metricsauth *a, bool access_review)
{
	pthread_mutex_lock(&a->lock);
	if (access_review)
		a->stats.access_reviews++;
	else
		a->stats.token_reviews++;
	pthread_mutex_unlock(&a->lock);
}

void metricsauth_stats(struct metricsauth *a, struct metricsauth_stats *out)
{
	pthread_mutex_lock(&a->lock);
	*out = a->stats;
	out->entries = 0;
	for (size_t i = 0; i < METRICSAUTH_MAX_ENTRIES; i++)
		out->entries += a->entries[i].used;
	out->queued = a->q_len;
	pthread_mutex_unlock(&a->lock);
}
