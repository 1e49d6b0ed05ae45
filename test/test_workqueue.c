#include "t.h"

#include "alloc.h"
#include "workqueue.h"

static int ready;
static void on_ready(void *ctx)
{
	(void)ctx;
	ready++;
}

TEST(workqueue_dedupes_and_never_hands_out_a_key_twice)
{
	struct workqueue q;
	char *a, *b;

	wq_init(&q, NULL, 0, 0, 0, on_ready, NULL);
	wq_add(&q, "ns/a");
	wq_add(&q, "ns/b");
	wq_add(&q, "ns/a");
	ASSERT_EQ_INT(wq_len(&q), 2);
	a = wq_get(&q);
	ASSERT_STREQ(a, "ns/a");
	/* added while processing: not handed out, but not lost */
	wq_add(&q, "ns/a");
	ASSERT_EQ_INT(wq_len(&q), 1);
	b = wq_get(&q);
	ASSERT_STREQ(b, "ns/b");
	ASSERT_TRUE(wq_get(&q) == NULL);
	wq_done(&q, a);
	ASSERT_EQ_INT(wq_len(&q), 1); /* the dirty key is back */
	im_free(a);
	a = wq_get(&q);
	ASSERT_STREQ(a, "ns/a");
	wq_done(&q, a);
	wq_done(&q, b);
	ASSERT_EQ_INT(wq_len(&q), 0);
	im_free(a);
	im_free(b);
	ASSERT_TRUE(ready >= 3);
	wq_release(&q);
}

TEST(workqueue_bounded_and_rate_limited)
{
	struct workqueue q;
	uv_loop_t loop;
	char k[16], *got;

	uv_loop_init(&loop);
	wq_init(&q, &loop, 3, 10, 80, NULL, NULL);
	for (int i = 0; i < 5; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		wq_add(&q, k);
	}
	ASSERT_EQ_INT(wq_len(&q), 3);
	ASSERT_EQ_INT(q.dropped, 2);
	while ((got = wq_get(&q)) != NULL) {
		wq_done(&q, got);
		im_free(got);
	}
	/* failures back off: 10, 20, 40, 80, 80 ms (+ up to 10%) */
	for (int i = 0; i < 5; i++)
		wq_add_rate_limited(&q, "slow");
	ASSERT_EQ_INT(wq_failures(&q, "slow"), 5);
	ASSERT_EQ_INT(wq_len(&q), 0); /* not yet */
	uv_run(&loop, UV_RUN_DEFAULT); /* the timer fires once, then nothing is left */
	ASSERT_EQ_INT(wq_len(&q), 1);
	got = wq_get(&q);
	ASSERT_STREQ(got, "slow");
	wq_done(&q, got);
	im_free(got);
	wq_forget(&q, "slow");
	ASSERT_EQ_INT(wq_failures(&q, "slow"), 0);
	wq_shutdown(&q);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	wq_release(&q);
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}
