#include "leader.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "kube.h"
#include "log.h"

/* ---- pure parts ---- */

static im_result copy_str(const cJSON *obj, const char *field, char *out, size_t n, struct buf *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);

	out[0] = '\0';
	if (!v || cJSON_IsNull(v))
		return IM_OK;
	if (!cJSON_IsString(v)) {
		if (err)
			buf_printf(err, "lease field %s is not a string", field);
		return IM_PARSE;
	}
	if (strlen(v->valuestring) >= n) {
		if (err)
			buf_printf(err, "lease field %s is longer than %zu bytes", field, n - 1);
		return IM_TOOBIG;
	}
	memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
	return IM_OK;
}

static im_result copy_int(const cJSON *obj, const char *field, int64_t *out, struct buf *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);

	*out = 0;
	if (!v || cJSON_IsNull(v))
		return IM_OK;
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 2147483647.0 ||
	    v->valuedouble != (double)(int64_t)v->valuedouble) {
		if (err)
			buf_printf(err, "lease field %s is not a whole number", field);
		return IM_PARSE;
	}
	*out = (int64_t)v->valuedouble;
	return IM_OK;
}

im_result lease_record_parse(const cJSON *lease, struct lease_record *out, struct buf *err)
{
	const cJSON *spec, *md;
	im_result result;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(lease)) {
		if (err)
			buf_adds(err, "lease is not an object");
		return IM_PARSE;
	}
	md = cJSON_GetObjectItemCaseSensitive(lease, "metadata");
	spec = cJSON_GetObjectItemCaseSensitive(lease, "spec");
	if ((md && !cJSON_IsObject(md)) || (spec && !cJSON_IsNull(spec) && !cJSON_IsObject(spec))) {
		if (err)
			buf_adds(err, "lease metadata or spec is not an object");
		return IM_PARSE;
	}
	if ((result = copy_str(md, "resourceVersion", out->resource_version,
			       sizeof(out->resource_version), err)) ||
	    (result = copy_str(spec, "holderIdentity", out->holder, sizeof(out->holder), err)) ||
	    (result = copy_str(spec, "acquireTime", out->acquire_time, sizeof(out->acquire_time),
			       err)) ||
	    (result = copy_str(spec, "renewTime", out->renew_time, sizeof(out->renew_time), err)) ||
	    (result = copy_int(spec, "leaseDurationSeconds", &out->duration_s, err)) ||
	    (result = copy_int(spec, "leaseTransitions", &out->transitions, err)))
		memset(out, 0, sizeof(*out));
	return result;
}

bool lease_record_same(const struct lease_record *a, const struct lease_record *b)
{
	return strcmp(a->holder, b->holder) == 0 && a->duration_s == b->duration_s &&
	       strcmp(a->acquire_time, b->acquire_time) == 0 &&
	       strcmp(a->renew_time, b->renew_time) == 0 && a->transitions == b->transitions &&
	       strcmp(a->resource_version, b->resource_version) == 0;
}

void leader_observe(struct leader_view *v, const struct lease_record *rec, uint64_t now_ms)
{
	if (!v->exists || !lease_record_same(&v->rec, rec)) {
		v->rec = *rec;
		v->observed_ms = now_ms;
	}
	v->exists = true;
}

enum leader_action leader_decide(const struct leader_view *v, const char *identity,
				 uint64_t default_duration_ms, uint64_t now_ms,
				 uint64_t *expires_in_ms)
{
	uint64_t dur, until;

	if (expires_in_ms)
		*expires_in_ms = 0;
	if (!v->exists)
		return LEADER_CREATE;
	if (strcmp(v->rec.holder, identity) == 0)
		return LEADER_RENEW;
	if (!v->rec.holder[0])
		return LEADER_TAKE;
	dur = v->rec.duration_s > 0 ? (uint64_t)v->rec.duration_s * 1000 : default_duration_ms;
	until = v->observed_ms + dur;
	if (now_ms >= until)
		return LEADER_TAKE;
	if (expires_in_ms)
		*expires_in_ms = until - now_ms;
	return LEADER_WAIT;
}

static void set_str(cJSON *o, const char *k, const char *v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, k);
	cJSON_AddStringToObject(o, k, v);
}

static void set_num(cJSON *o, const char *k, double v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, k);
	cJSON_AddNumberToObject(o, k, v);
}

void leader_spec(cJSON *spec, const struct lease_record *old, const char *identity,
		 int64_t duration_s, const char *now)
{
	bool kept = old && strcmp(old->holder, identity) == 0;

	set_str(spec, "holderIdentity", identity);
	set_num(spec, "leaseDurationSeconds", (double)duration_s);
	set_str(spec, "renewTime", now);
	if (kept) {
		set_str(spec, "acquireTime", old->acquire_time[0] ? old->acquire_time : now);
		set_num(spec, "leaseTransitions", (double)old->transitions);
	} else {
		set_str(spec, "acquireTime", now);
		set_num(spec, "leaseTransitions", old ? (double)(old->transitions + 1) : 0);
	}
}

void leader_micro_time(char *out, size_t n)
{
	struct timespec ts;
	struct tm tm;
	size_t len;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	len = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + len, n - len, ".%06ldZ", ts.tv_nsec / 1000);
}

char *leader_identity_new(void)
{
	char host[256], *ident;
	const char *pod = getenv("POD_NAME");
	unsigned char rnd[8];
	struct buf b;

	if (pod && *pod)
		snprintf(host, sizeof(host), "%s", pod);
	else if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
		snprintf(host, sizeof(host), "infermon");
	host[sizeof(host) - 1] = '\0';
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		/* no entropy from OpenSSL: time and pid still tell processes apart */
		uint64_t x = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
		memcpy(rnd, &x, sizeof(rnd));
	}
	buf_init(&b, 1024);
	buf_printf(&b, "%.200s_", host);
	for (size_t i = 0; i < sizeof(rnd); i++)
		buf_printf(&b, "%02x", rnd[i]);
	ident = buf_detach(&b, NULL);
	return ident;
}

/* ---- the running election ---- */

static void tick(uv_timer_t *h);
static void send_get(struct leader *le);

void leader_init(struct leader *le, struct kubeclient *kc, struct loop *loop,
		 const struct leader_opts *o, leader_change_cb cb, void *ctx)
{
	memset(le, 0, sizeof(*le));
	le->kc = kc;
	le->loop = loop;
	le->namespace = im_xstrdup(o->namespace);
	le->name = im_xstrdup(o->name);
	le->identity = im_xstrdup(o->identity);
	le->duration_ms = o->lease_duration_ms ? o->lease_duration_ms : LEADER_DEFAULT_LEASE_MS;
	le->deadline_ms = o->renew_deadline_ms ? o->renew_deadline_ms : LEADER_DEFAULT_RENEW_MS;
	le->retry_ms = o->retry_period_ms ? o->retry_period_ms : LEADER_DEFAULT_RETRY_MS;
	le->cb = cb;
	le->cb_ctx = ctx;
}

static uint64_t now_ms(struct leader *le)
{
	return loop_now_ms(le->loop);
}

static void lease_path(struct leader *le, struct buf *b, bool with_name)
{
	buf_adds(b, KUBE_PATH(KUBE_GV_COORDINATION) "/namespaces/");
	kubeclient_escape(b, le->namespace);
	buf_adds(b, "/leases");
	if (with_name) {
		buf_addc(b, '/');
		kubeclient_escape(b, le->name);
	}
}

static void fmt_secs(char *out, size_t n, uint64_t ms)
{
	snprintf(out, n, "%.1fs", (double)ms / 1000.0);
}

static void start_leading(struct leader *le)
{
	char tr[24];

	le->leading = true;
	le->became_ms = now_ms(le);
	le->acquired++;
	snprintf(tr, sizeof(tr), "%lld", (long long)le->view.rec.transitions);
	log_kv(LOG_INFO, "became leader", "identity", le->identity, "lease", le->name, "namespace",
	       le->namespace, "transitions", tr, NULL);
	if (le->cb)
		le->cb(le->cb_ctx, true);
}

static void stop_leading(struct leader *le, enum log_level level, const char *why)
{
	if (!le->leading)
		return;
	le->leading = false;
	le->lost++;
	uv_timer_stop(&le->deadline);
	/* the owner turns writes off before anything else runs */
	if (le->cb)
		le->cb(le->cb_ctx, false);
	log_kv(level, level == LOG_INFO ? "stopped leading" : "lost leadership", "reason", why,
	       "identity", le->identity, "lease", le->name, "namespace", le->namespace, NULL);
}

static void deadline_cb(uv_timer_t *h)
{
	struct leader *le = h->data;
	char why[128], secs[32];

	if (!le->leading)
		return;
	fmt_secs(secs, sizeof(secs), now_ms(le) - le->renewed_ms);
	snprintf(why, sizeof(why), "renewal failed for %s", secs);
	stop_leading(le, LOG_WARN, why);
}

static void arm_deadline(struct leader *le)
{
	uint64_t now = now_ms(le), end = le->renewed_ms + le->deadline_ms;

	uv_timer_start(&le->deadline, deadline_cb, end > now ? end - now : 0, 0);
}

static void failure(struct leader *le, const char *what, const char *err)
{
	le->failures++;
	if (strcmp(le->last_error, err) != 0) {
		snprintf(le->last_error, sizeof(le->last_error), "%s", err);
		log_kv(LOG_WARN, what, "error", err, "lease", le->name, "namespace", le->namespace,
		       NULL);
	} else {
		log_kv(LOG_DEBUG, what, "error", err, NULL);
	}
}

static void call_done(struct http_call *c, im_result transport, void *data);

static void send_call(struct leader *le, enum leader_call kind, const char *method, bool with_name,
		      const cJSON *body, uint64_t timeout_ms)
{
	struct buf path;
	struct http_call *c;
	char *text = NULL;

	buf_init(&path, BUF_MAX_SMALL);
	lease_path(le, &path, with_name);
	c = kubeclient_call_uncounted(le->kc, method, buf_str(&path));
	buf_release(&path);
	if (body) {
		text = cJSON_PrintUnformatted(body);
		kubeclient_set_body(c, "application/json", text, strlen(text));
		im_free(text);
	}
	http_call_timeouts(c, (long)timeout_ms, (long)timeout_ms, 0);
	le->requests++;
	le->call_kind = kind;
	le->call_sent_ms = now_ms(le);
	if (http_call_start(c, call_done, le)) {
		http_call_free(c);
		le->call_kind = LEADER_CALL_NONE;
		failure(le, "cannot start a lease request", "http_call_start failed");
		return;
	}
	le->call = c;
}

/* Each request may take half the renew deadline: two attempts fit in it. */
static uint64_t request_timeout(struct leader *le)
{
	uint64_t t = le->deadline_ms / 2;
	return t < 1000 ? 1000 : t;
}

static void send_get(struct leader *le)
{
	send_call(le, LEADER_CALL_GET, "GET", true, NULL, request_timeout(le));
}

/* The Lease last read, to PUT back (resourceVersion kept, managedFields
 * dropped), with *spec its spec object (created when missing). */
static cJSON *lease_copy(const struct leader *le, cJSON **spec)
{
	cJSON *obj = cJSON_Duplicate(le->lease, true);
	cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");

	if (md)
		cJSON_DeleteItemFromObjectCaseSensitive(md, "managedFields");
	*spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	if (!cJSON_IsObject(*spec)) {
		cJSON_DeleteItemFromObjectCaseSensitive(obj, "spec");
		*spec = cJSON_AddObjectToObject(obj, "spec");
	}
	return obj;
}

/* Writes the lease taken over, renewed or created, from the object read. */
static void write_lease(struct leader *le, bool create)
{
	cJSON *obj, *spec, *md;
	char now[40];

	leader_micro_time(now, sizeof(now));
	if (create || !le->lease) {
		obj = cJSON_CreateObject();
		cJSON_AddStringToObject(obj, "apiVersion", KUBE_GV_COORDINATION);
		cJSON_AddStringToObject(obj, "kind", "Lease");
		md = cJSON_AddObjectToObject(obj, "metadata");
		cJSON_AddStringToObject(md, "name", le->name);
		cJSON_AddStringToObject(md, "namespace", le->namespace);
		spec = cJSON_AddObjectToObject(obj, "spec");
	} else {
		obj = lease_copy(le, &spec);
	}
	leader_spec(spec, create ? NULL : &le->view.rec, le->identity,
		    (int64_t)((le->duration_ms + 999) / 1000), now);
	if (create)
		send_call(le, LEADER_CALL_CREATE, "POST", false, obj, request_timeout(le));
	else
		send_call(le, LEADER_CALL_UPDATE, "PUT", true, obj, request_timeout(le));
	cJSON_Delete(obj);
}

/* Keeps the object returned or read, and observes its record. */
static im_result take_object(struct leader *le, struct http_call *c, struct buf *err)
{
	const struct buf *body = http_call_body_buf(c);
	cJSON *obj = body->len ? cJSON_ParseWithLength(body->ptr, body->len) : NULL;
	struct lease_record rec;
	const char *prev_holder = le->view.exists ? le->view.rec.holder : NULL;
	bool new_holder;
	im_result result;

	if (!obj) {
		buf_adds(err, "lease response is not JSON");
		return IM_PARSE;
	}
	if ((result = lease_record_parse(obj, &rec, err))) {
		cJSON_Delete(obj);
		return result;
	}
	new_holder = !prev_holder || strcmp(prev_holder, rec.holder) != 0;
	cJSON_Delete(le->lease);
	le->lease = obj;
	leader_observe(&le->view, &rec, now_ms(le));
	if (new_holder && strcmp(rec.holder, le->identity) != 0)
		log_kv(LOG_INFO, rec.holder[0] ? "following leader" : "lease is free", "holder",
		       rec.holder, "lease", le->name, "namespace", le->namespace, NULL);
	return IM_OK;
}

static void after_get(struct leader *le, struct http_call *c, im_result result, struct buf *err)
{
	enum leader_action a;
	char secs[32];

	if (result == IM_NOTFOUND) {
		le->view.exists = false;
		cJSON_Delete(le->lease);
		le->lease = NULL;
		if (le->leading)
			stop_leading(le, LOG_WARN, "the lease was deleted");
		write_lease(le, true);
		return;
	}
	if (!result)
		result = take_object(le, c, err);
	if (result) {
		failure(le, "cannot read the lease", buf_str(err));
		return;
	}
	le->last_error[0] = '\0';
	a = leader_decide(&le->view, le->identity, le->duration_ms, now_ms(le), NULL);
	if (a == LEADER_WAIT) {
		if (le->leading) {
			char why[384];
			snprintf(why, sizeof(why), "the lease is held by %s", le->view.rec.holder);
			stop_leading(le, LOG_WARN, why);
		}
		return;
	}
	if (a == LEADER_TAKE && le->view.rec.holder[0]) {
		fmt_secs(secs, sizeof(secs), now_ms(le) - le->view.observed_ms);
		log_kv(LOG_INFO, "lease expired; taking it over", "holder", le->view.rec.holder,
		       "unchanged_for", secs, NULL);
	}
	write_lease(le, false);
}

static void after_write(struct leader *le, struct http_call *c, im_result result, struct buf *err)
{
	uint64_t sent = le->call_sent_ms;

	if (result == IM_CONFLICT ||
	    (result == IM_NOTFOUND && le->call_kind == LEADER_CALL_UPDATE)) {
		/* someone else wrote first (or created it), or deleted it: read
		 * it again now */
		log_kv(LOG_DEBUG, "lease write conflicted; reading it again", NULL);
		send_get(le);
		return;
	}
	if (!result)
		result = take_object(le, c, err);
	if (result) {
		if (result == IM_NOTFOUND && le->call_kind == LEADER_CALL_CREATE)
			buf_printf(err, " (does namespace \"%s\" exist?)", le->namespace);
		failure(le,
			le->call_kind == LEADER_CALL_CREATE ? "cannot create the lease"
							    : "cannot update the lease",
			buf_str(err));
		return;
	}
	le->last_error[0] = '\0';
	if (strcmp(le->view.rec.holder, le->identity) != 0)
		return; /* not ours after all (cannot happen with a compliant server) */
	if (now_ms(le) - sent >= le->deadline_ms) {
		/* it took longer than the deadline: others may act on older news */
		log_kv(LOG_DEBUG, "lease write succeeded too late to lead on it", NULL);
		return;
	}
	le->renewed_ms = sent;
	if (!le->leading)
		start_leading(le);
	arm_deadline(le);
}

static void call_done(struct http_call *c, im_result transport, void *data)
{
	struct leader *le = data;
	enum leader_call kind = le->call_kind;
	struct buf err;
	im_result result;

	buf_init(&err, 2048);
	result = kubeclient_result(c, transport, &err);
	le->call = NULL;
	if (kind == LEADER_CALL_RESIGN) {
		if (result)
			log_kv(LOG_WARN, "cannot release the lease", "error", buf_str(&err), NULL);
		else
			log_kv(LOG_INFO, "released the lease", "lease", le->name, "namespace",
			       le->namespace, NULL);
		le->call_kind = LEADER_CALL_NONE;
		http_call_free(c);
		buf_release(&err);
		if (le->resign_cb)
			le->resign_cb(le->resign_ctx);
		return;
	}
	if (le->stopped || result == IM_CANCELED) {
		le->call_kind = LEADER_CALL_NONE;
		http_call_free(c);
		buf_release(&err);
		return;
	}
	if (kind == LEADER_CALL_GET)
		after_get(le, c, result, &err);
	else
		after_write(le, c, result, &err);
	/* after_* may have started the next call */
	if (le->call == NULL)
		le->call_kind = LEADER_CALL_NONE;
	http_call_free(c);
	buf_release(&err);
}

static void tick(uv_timer_t *h)
{
	struct leader *le = h->data;

	if (le->stopped || le->call)
		return; /* a request is still running; the deadline timer watches it */
	if (le->leading && le->lease)
		write_lease(le, false); /* optimistic renewal with the version we wrote */
	else
		send_get(le);
}

void leader_start(struct leader *le)
{
	uv_timer_init(&le->loop->uv, &le->tick);
	uv_timer_init(&le->loop->uv, &le->deadline);
	le->tick.data = le->deadline.data = le;
	uv_timer_start(&le->tick, tick, 0, le->retry_ms);
	log_kv(LOG_INFO, "leader election started", "identity", le->identity, "lease", le->name,
	       "namespace", le->namespace, NULL);
}

im_result leader_resign(struct leader *le, uint64_t timeout_ms, leader_resign_cb cb, void *ctx)
{
	cJSON *obj, *spec;
	char now[40];
	bool held = le->leading;

	le->stopped = true; /* no further attempts */
	uv_timer_stop(&le->tick);
	stop_leading(le, LOG_INFO, "shutting down");
	if (le->call) {
		http_call_free(le->call);
		le->call = NULL;
		le->call_kind = LEADER_CALL_NONE;
	}
	if (!held || !le->lease)
		return IM_NOTFOUND;
	obj = lease_copy(le, &spec);
	/* as client-go's ReleaseOnCancel: no holder, a 1 s lease, transitions kept */
	leader_micro_time(now, sizeof(now));
	set_str(spec, "holderIdentity", "");
	set_num(spec, "leaseDurationSeconds", 1);
	set_str(spec, "acquireTime", now);
	set_str(spec, "renewTime", now);
	set_num(spec, "leaseTransitions", (double)le->view.rec.transitions);
	le->resign_cb = cb;
	le->resign_ctx = ctx;
	send_call(le, LEADER_CALL_RESIGN, "PUT", true, obj, timeout_ms);
	cJSON_Delete(obj);
	return le->call ? IM_OK : IM_INTERNAL;
}

void leader_stop(struct leader *le)
{
	le->stopped = true;
	le->resign_cb = NULL;
	if (le->call) {
		http_call_free(le->call);
		le->call = NULL;
		le->call_kind = LEADER_CALL_NONE;
	}
	uv_timer_stop(&le->tick);
	uv_timer_stop(&le->deadline);
	loop_close_handle((uv_handle_t *)&le->tick, NULL);
	loop_close_handle((uv_handle_t *)&le->deadline, NULL);
}

void leader_release(struct leader *le)
{
	cJSON_Delete(le->lease);
	le->lease = NULL;
	im_free(le->namespace);
	im_free(le->name);
	im_free(le->identity);
	le->namespace = le->name = le->identity = NULL;
}

void leader_stats(const struct leader *le, struct leader_stats *out)
{
	*out = (struct leader_stats){.transitions = le->view.rec.transitions,
				     .requests = le->requests,
				     .failures = le->failures,
				     .acquired = le->acquired,
				     .lost = le->lost};
}
