/*
 * metricsauth.c: bearer tokens as RFC 6750 writes them, verdicts kept for
 * their time and no longer, one review per token however many requests ask,
 * a full queue answered 503, and the callbacks that drive the server and
 * the loop.
 */
#include "alloc.h"
#include "metricsauth.h"
#include "t.h"

static uint64_t fake_now;

static uint64_t fake_clock(void)
{
	return fake_now;
}

static int wants, wakes;

static void count_want(void *data)
{
	(void)data;
	wants++;
}

static void count_wake(void *data)
{
	(void)data;
	wakes++;
}

static bool bearer(const char *v, const char *want)
{
	const char *tok;
	size_t n;

	if (!metricsauth_bearer(v, strlen(v), &tok, &n))
		return want == NULL;
	return want && n == strlen(want) && memcmp(tok, want, n) == 0;
}

TEST(bearer_tokens)
{
	ASSERT_TRUE(bearer("Bearer abc", "abc"));
	ASSERT_TRUE(bearer("bearer abc", "abc"));
	ASSERT_TRUE(bearer("BEARER \t abc.def-ghi_jkl~mno+pq/r==  ", "abc.def-ghi_jkl~mno+pq/r=="));
	ASSERT_TRUE(bearer("  Bearer eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOlsiYSJdfQ.c2ln",
			   "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOlsiYSJdfQ.c2ln"));
	ASSERT_TRUE(bearer("Bearer", NULL));
	ASSERT_TRUE(bearer("Bearer ", NULL));
	ASSERT_TRUE(bearer("Bearerabc", NULL));
	ASSERT_TRUE(bearer("Basic dXNlcjpwYXNz", NULL));
	ASSERT_TRUE(bearer("Bearer a b", NULL));
	ASSERT_TRUE(bearer("Bearer a=b", NULL)); /* '=' only at the end */
	ASSERT_TRUE(bearer("Bearer ==", NULL));  /* and after a character */
	ASSERT_TRUE(bearer("Bearer a\"b", NULL));
	ASSERT_TRUE(bearer("Bearer a,b", NULL));
	ASSERT_TRUE(bearer("", NULL));
}

TEST(one_review_per_token_and_the_verdict_is_kept_for_its_time)
{
	struct metricsauth *a = metricsauth_new(fake_clock);
	struct metricsauth_job job;
	struct metricsauth_stats st;
	uint8_t key[METRICSAUTH_KEY_LEN], key2[METRICSAUTH_KEY_LEN];
	struct buf why;

	buf_init(&why, BUF_MAX_SMALL);
	fake_now = 1000;
	wants = wakes = 0;
	metricsauth_set_want(a, count_want, NULL);
	metricsauth_set_wake(a, count_wake, NULL);
	ASSERT_EQ_INT(metricsauth_check(a, "tok", 3, key, &why), METRICSAUTH_PENDING);
	ASSERT_EQ_INT(wants, 1);
	/* asked again while under review: still one job */
	ASSERT_EQ_INT(metricsauth_check(a, "tok", 3, key2, &why), METRICSAUTH_PENDING);
	ASSERT_TRUE(memcmp(key, key2, sizeof(key)) == 0);
	ASSERT_EQ_INT(metricsauth_lookup(a, key, &why), METRICSAUTH_PENDING);
	ASSERT_TRUE(metricsauth_take(a, &job));
	ASSERT_STREQ(job.token, "tok");
	ASSERT_TRUE(!metricsauth_take(a, &job) || (t_fail(__FILE__, __LINE__, "two jobs"), 0));
	metricsauth_settle(a, job.key, METRICSAUTH_ALLOWED, NULL);
	metricsauth_job_release(&job);
	ASSERT_TRUE(job.token == NULL);
	ASSERT_EQ_INT(wakes, 1);
	ASSERT_EQ_INT(metricsauth_lookup(a, key, &why), METRICSAUTH_ALLOWED);
	fake_now += METRICSAUTH_ALLOWED_TTL_MS - 1;
	ASSERT_EQ_INT(metricsauth_check(a, "tok", 3, key, &why), METRICSAUTH_ALLOWED);
	/* expired: reviewed again */
	fake_now += 1;
	ASSERT_EQ_INT(metricsauth_check(a, "tok", 3, key, &why), METRICSAUTH_PENDING);
	ASSERT_TRUE(metricsauth_take(a, &job));
	metricsauth_settle(a, job.key, METRICSAUTH_FORBIDDEN, "user \"u\" may not get /metrics");
	metricsauth_job_release(&job);
	ASSERT_EQ_INT(metricsauth_check(a, "tok", 3, key, &why), METRICSAUTH_FORBIDDEN);
	ASSERT_STREQ(buf_str(&why), "user \"u\" may not get /metrics");
	/* a forbidden verdict is kept shorter: a new binding counts soon */
	fake_now += METRICSAUTH_FORBIDDEN_TTL_MS;
	ASSERT_EQ_INT(metricsauth_check(a, "tok", 3, key, &why), METRICSAUTH_PENDING);
	metricsauth_stats(a, &st);
	ASSERT_EQ_INT(st.reviews[METRICSAUTH_ALLOWED], 1);
	ASSERT_EQ_INT(st.reviews[METRICSAUTH_FORBIDDEN], 1);
	ASSERT_EQ_INT(st.requests[METRICSAUTH_ALLOWED], 2);
	ASSERT_EQ_INT(st.cache_hits, 2);
	ASSERT_EQ_INT(st.queued, 1);
	metricsauth_free(a); /* with a token still queued: wiped and freed */
	buf_release(&why);
}

TEST(bad_tokens_are_refused_without_a_review)
{
	struct metricsauth *a = metricsauth_new(fake_clock);
	uint8_t key[METRICSAUTH_KEY_LEN];
	struct metricsauth_stats st;
	struct buf why;
	char *big = im_xmalloc(METRICSAUTH_MAX_TOKEN + 2);

	buf_init(&why, BUF_MAX_SMALL);
	memset(big, 'a', METRICSAUTH_MAX_TOKEN + 1);
	big[METRICSAUTH_MAX_TOKEN + 1] = '\0';
	ASSERT_EQ_INT(metricsauth_check(a, "", 0, key, &why), METRICSAUTH_UNAUTHENTICATED);
	ASSERT_EQ_INT(metricsauth_check(a, big, METRICSAUTH_MAX_TOKEN + 1, key, &why),
		      METRICSAUTH_UNAUTHENTICATED);
	ASSERT_CONTAINS(buf_str(&why), "too long");
	ASSERT_EQ_INT(metricsauth_check(a, "a\x01z", 3, key, &why), METRICSAUTH_UNAUTHENTICATED);
	ASSERT_CONTAINS(buf_str(&why), "printable ASCII");
	metricsauth_stats(a, &st);
	ASSERT_EQ_INT(st.queued, 0);
	ASSERT_EQ_INT(st.requests[METRICSAUTH_UNAUTHENTICATED], 3);
	im_free(big);
	buf_release(&why);
	metricsauth_free(a);
}

TEST(a_full_queue_answers_unavailable_and_full_cache_evicts)
{
	struct metricsauth *a = metricsauth_new(fake_clock);
	uint8_t key[METRICSAUTH_KEY_LEN], first[METRICSAUTH_KEY_LEN];
	struct metricsauth_job job;
	struct metricsauth_stats st;
	struct buf why;
	char tok[32];

	buf_init(&why, BUF_MAX_SMALL);
	fake_now = 5000;
	for (int i = 0; i < METRICSAUTH_MAX_QUEUED; i++) {
		snprintf(tok, sizeof(tok), "t%d", i);
		ASSERT_EQ_INT(metricsauth_check(a, tok, strlen(tok), key, &why),
			      METRICSAUTH_PENDING);
	}
	ASSERT_EQ_INT(metricsauth_check(a, "one-more", 8, key, &why), METRICSAUTH_UNAVAILABLE);
	ASSERT_CONTAINS(buf_str(&why), "too many tokens under review");
	/* settle them all: the queue drains in order */
	for (int i = 0; metricsauth_take(a, &job); i++) {
		snprintf(tok, sizeof(tok), "t%d", i);
		ASSERT_STREQ(job.token, tok);
		fake_now++;
		metricsauth_settle(a, job.key, METRICSAUTH_UNAUTHENTICATED, NULL);
		metricsauth_job_release(&job);
	}
	/* fill the cache; the verdict that expires first is evicted */
	ASSERT_EQ_INT(metricsauth_check(a, "t0", 2, first, &why), METRICSAUTH_UNAUTHENTICATED);
	for (int i = METRICSAUTH_MAX_QUEUED; i < METRICSAUTH_MAX_ENTRIES + 1; i++) {
		snprintf(tok, sizeof(tok), "t%d", i);
		ASSERT_EQ_INT(metricsauth_check(a, tok, strlen(tok), key, &why),
			      METRICSAUTH_PENDING);
		ASSERT_TRUE(metricsauth_take(a, &job));
		fake_now++;
		metricsauth_settle(a, job.key, METRICSAUTH_ALLOWED, NULL);
		metricsauth_job_release(&job);
	}
	metricsauth_stats(a, &st);
	ASSERT_EQ_INT(st.entries, METRICSAUTH_MAX_ENTRIES);
	ASSERT_EQ_INT(metricsauth_lookup(a, first, &why), METRICSAUTH_UNAVAILABLE);
	buf_release(&why);
	metricsauth_free(a);
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}
