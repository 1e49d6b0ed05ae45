/*
 * events.c against an HTTP server on the same loop (t_httpd): a storm of
 * events is folded, not dropped; repeats become one Event with a series;
 * failures that may pass are retried, others are not; a queue full of
 * unrelated events drops and counts.
 */
#include <signal.h>

#include "events.h"
#include "strparse.h"
#include "t.h"
#include "t_httpd.h"

struct ev_case {
	struct loop loop;
	struct http http;
	struct kubeclient kc;
	struct events ev;
	struct t_httpd d;
	uv_timer_t poll;
	int fail_first;    /* answer this many POSTs with fail_status */
	int fail_status;
	long posts, combined, max_series, max_objects;
	int max_in_flight; /* of the client, seen at each post */
	bool finished;
};

/* "(combined from N similar events for M Pods) ...": how many were parsed */
static int parse_combined(const char *note, unsigned *count, unsigned *objects)
{
	static const char a[] = "(combined from ", b[] = " similar events for ";
	const char *p = note + sizeof(a) - 1;
	uint64_t v;
	size_t n = 0;

	while (p[n] >= '0' && p[n] <= '9')
		n++;
	if (strparse_u64(p, n, 1u << 30, &v))
		return 0;
	*count = (unsigned)v;
	p += n;
	if (strncmp(p, b, sizeof(b) - 1) != 0)
		return 1;
	p += sizeof(b) - 1;
	for (n = 0; p[n] >= '0' && p[n] <= '9';)
		n++;
	if (strparse_u64(p, n, 1u << 30, &v))
		return 1;
	*objects = (unsigned)v;
	return 2;
}

static void on_post(struct t_httpd *d, const char *path, size_t path_len, const char *body,
		    size_t body_len)
{
	struct ev_case *k = d->ctx;
	cJSON *ev = cJSON_ParseWithLength(body, body_len);
	const cJSON *series = cJSON_GetObjectItemCaseSensitive(ev, "series");
	const char *note = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "note"));
	unsigned count = 0, objects = 0;

	(void)path, (void)path_len;
	k->posts++;
	if (k->ev.in_flight > k->max_in_flight)
		k->max_in_flight = k->ev.in_flight;
	d->post_status = k->posts <= k->fail_first ? k->fail_status : 201;
	if (series) {
		double c = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(series, "count"));
		if (c > k->max_series)
			k->max_series = (long)c;
	}
	if (note && strstr(note, "(combined from ") == note) {
		k->combined++;
		ASSERT_EQ_INT(parse_combined(note, &count, &objects), 2);
		if ((long)objects > k->max_objects)
			k->max_objects = objects;
	}
	cJSON_Delete(ev);
}

static void poll_cb(uv_timer_t *t)
{
	struct ev_case *k = t->data;

	if (k->finished || k->ev.in_flight || k->ev.queued)
		return;
	k->finished = true;
	uv_close((uv_handle_t *)&k->poll, NULL);
	events_stop(&k->ev);
	t_httpd_stop(&k->d);
	http_release(&k->http);
	loop_close_handle((uv_handle_t *)&k->loop.wake, NULL);
}

static void ev_setup(struct ev_case *k)
{
	char yaml[512];
	struct kubeconfig cfg;
	struct buf err;

	memset(k, 0, sizeof(*k));
	ASSERT_OK(loop_init(&k->loop));
	ASSERT_OK(http_init(&k->http, &k->loop));
	k->d.on_post = on_post;
	k->d.ctx = k;
	ASSERT_EQ_INT(t_httpd_start(&k->d, &k->loop.uv), 0);
	snprintf(yaml, sizeof(yaml),
		 "apiVersion: v1\nkind: Config\n"
		 "clusters: [{name: c, cluster: {server: \"http://127.0.0.1:%d\"}}]\n"
		 "users: [{name: u, user: {token: t}}]\n"
		 "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
		 "current-context: x\n",
		 k->d.port);
	kubeconfig_init(&cfg);
	buf_init(&err, 1024);
	ASSERT_OK(kubeconfig_load_data(&cfg, yaml, strlen(yaml), NULL, NULL, NULL, &err));
	buf_release(&err);
	kubeclient_init(&k->kc, &k->http, &cfg);
	kubeconfig_release(&cfg);
	events_init(&k->ev, &k->kc, "test");
	k->ev.retry_initial_ms = 5;
	k->ev.retry_max_ms = 40;
	uv_timer_init(&k->loop.uv, &k->poll);
	k->poll.data = k;
}

static void ev_run(struct ev_case *k)
{
	uv_timer_start(&k->poll, poll_cb, 10, 10);
	loop_run(&k->loop);
	loop_release(&k->loop);
	kubeclient_release(&k->kc);
}

static void post_pod(struct ev_case *k, const char *ns, const char *pod, const char *reason,
		     bool warning)
{
	struct event_ref about = {"v1", "Pod", ns, pod, "uid-1"};

	events_post(&k->ev, &about, warning, "Check", reason, "the engine exports no such series");
}

TEST(a_storm_is_folded_not_dropped)
{
	static struct ev_case k;
	char pod[32], ns[16];

	ev_setup(&k);
	/* 5,000 pods in 10 namespaces turn MetricsMissing at start-up */
	for (int i = 0; i < 5000; i++) {
		snprintf(ns, sizeof(ns), "ns-%d", i % 10);
		snprintf(pod, sizeof(pod), "pod-%d", i);
		post_pod(&k, ns, pod, "MetricsMissing", true);
	}
	ASSERT_EQ_INT(k.ev.in_flight, EVENTS_MAX_IN_FLIGHT);
	ASSERT_EQ_INT(k.ev.queued, EVENTS_QUEUE_MAX);
	ev_run(&k);
	fprintf(stderr, "  %llu Events written for 5000 occurrences, %llu folded, %ld combined\n",
		(unsigned long long)k.ev.posted, (unsigned long long)k.ev.folded, k.combined);
	ASSERT_EQ_INT(k.ev.dropped, 0);
	ASSERT_EQ_INT(k.ev.failed, 0);
	ASSERT_EQ_INT(k.ev.posted, EVENTS_MAX_IN_FLIGHT + EVENTS_QUEUE_MAX);
	ASSERT_EQ_INT(k.ev.posted + k.ev.folded, 5000);
	ASSERT_EQ_INT(k.posts, k.ev.posted);
	ASSERT_TRUE(k.combined > 0);
	ASSERT_TRUE(k.max_objects > 1);
}

static bool is_busy(void *ctx)
{
	return *(bool *)ctx;
}

/* k set up busy, with 40 events posted */
static void busy_case(struct ev_case *k, bool *busy)
{
	char pod[32];

	*busy = true;
	ev_setup(k);
	events_set_busy(&k->ev, is_busy, busy);
	for (int i = 0; i < 40; i++) {
		snprintf(pod, sizeof(pod), "pod-%d", i);
		post_pod(k, "ns", pod, "MetricsMissing", true);
	}
}

TEST(events_come_second_while_the_controller_writes)
{
	static struct ev_case k;
	static bool busy;

	/* busy throughout: two posts at a time, and every Event still goes */
	busy_case(&k, &busy);
	ASSERT_EQ_INT(k.ev.in_flight, EVENTS_BUSY_IN_FLIGHT);
	ASSERT_EQ_INT(k.ev.queued, 40 - EVENTS_BUSY_IN_FLIGHT);
	ev_run(&k);
	ASSERT_EQ_INT(k.ev.posted, 40);
	ASSERT_EQ_INT(k.max_in_flight, EVENTS_BUSY_IN_FLIGHT);

	/* no longer busy: the next event lets the waiting ones go */
	busy_case(&k, &busy);
	busy = false;
	post_pod(&k, "ns", "pod-last", "MetricsMissing", true);
	ASSERT_EQ_INT(k.ev.in_flight, EVENTS_MAX_IN_FLIGHT);
	ev_run(&k);
	ASSERT_EQ_INT(k.ev.posted, 41);
	ASSERT_EQ_INT(k.max_in_flight, EVENTS_MAX_IN_FLIGHT);
}

TEST(repeats_of_one_object_are_one_event_with_a_series)
{
	static struct ev_case k;
	char pod[32];

	ev_setup(&k);
	/* every slot busy: what comes next waits */
	for (int i = 0; i < EVENTS_MAX_IN_FLIGHT; i++) {
		snprintf(pod, sizeof(pod), "busy-%d", i);
		post_pod(&k, "ns", pod, "Saturated", true);
	}
	for (int i = 0; i < 5; i++)
		post_pod(&k, "ns", "pod-a", "Saturated", true);
	post_pod(&k, "ns", "pod-a", "SaturatedResolved", false);
	ASSERT_EQ_INT(k.ev.queued, 2);
	ev_run(&k);
	ASSERT_EQ_INT(k.posts, EVENTS_MAX_IN_FLIGHT + 2);
	ASSERT_EQ_INT(k.ev.posted, EVENTS_MAX_IN_FLIGHT + 2);
	ASSERT_EQ_INT(k.ev.folded, 4);
	ASSERT_EQ_INT(k.max_series, 5);
	ASSERT_EQ_INT(k.combined, 0);
}

TEST(failures_that_may_pass_are_retried)
{
	static struct ev_case k;

	ev_setup(&k);
	k.fail_first = 3;
	k.fail_status = 503;
	post_pod(&k, "ns", "pod-a", "LimitDrift", true);
	ev_run(&k);
	ASSERT_EQ_INT(k.posts, 4);
	ASSERT_EQ_INT(k.ev.retries, 3);
	ASSERT_EQ_INT(k.ev.posted, 1);
	ASSERT_EQ_INT(k.ev.failed, 0);
}

TEST(a_refusal_is_not_retried_and_retries_end)
{
	static struct ev_case k;

	ev_setup(&k);
	k.fail_first = 1;
	k.fail_status = 422;
	post_pod(&k, "ns", "pod-a", "LimitDrift", true);
	ev_run(&k);
	ASSERT_EQ_INT(k.posts, 1);
	ASSERT_EQ_INT(k.ev.retries, 0);
	ASSERT_EQ_INT(k.ev.failed, 1);

	ev_setup(&k);
	k.fail_first = 1000;
	k.fail_status = 500;
	post_pod(&k, "ns", "pod-a", "LimitDrift", true);
	ev_run(&k);
	ASSERT_EQ_INT(k.posts, EVENTS_MAX_TRIES);
	ASSERT_EQ_INT(k.ev.retries, EVENTS_MAX_TRIES - 1);
	ASSERT_EQ_INT(k.ev.failed, 1);
	ASSERT_EQ_INT(k.ev.posted, 0);
}

TEST(a_queue_full_of_unrelated_events_drops_and_counts)
{
	static struct ev_case k;
	char reason[32];
	int n = EVENTS_MAX_IN_FLIGHT + EVENTS_QUEUE_MAX + 7;

	ev_setup(&k);
	for (int i = 0; i < n; i++) {
		snprintf(reason, sizeof(reason), "Reason%d", i);
		post_pod(&k, "ns", "pod-a", reason, true);
	}
	ASSERT_EQ_INT(k.ev.dropped, 7);
	ev_run(&k);
	ASSERT_EQ_INT(k.ev.posted, n - 7);
	ASSERT_EQ_INT(k.ev.folded, 0);
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = t_run(argc, argv);
	curl_global_cleanup();
	return rc;
}
