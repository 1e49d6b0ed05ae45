#include "t.h"

#include "backoff.h"

TEST(backoff_grows_with_jitter_to_cap)
{
	struct backoff b;
	uint64_t now = 1000000, base = 800;

	backoff_init_default(&b, 42);
	for (int i = 0; i < 12; i++) {
		uint64_t d = backoff_next(&b, now);
		uint64_t lo = base < 30000 ? base : 30000;
		ASSERT_TRUE(d >= lo);
		ASSERT_TRUE(d <= 30000);
		ASSERT_TRUE(d < 2 * base || d == 30000);
		base = base * 2 > 30000 ? 30000 : base * 2;
		now += d;
	}
	ASSERT_EQ_INT(b.current_ms, 30000);
}

TEST(backoff_resets_after_healthy_spell)
{
	struct backoff b;
	uint64_t d;

	backoff_init_default(&b, 7);
	for (int i = 0; i < 6; i++)
		backoff_next(&b, 1000 + (uint64_t)i);
	ASSERT_TRUE(b.current_ms > 800);
	/* 2 minutes later, a new failure starts from the initial delay again */
	d = backoff_next(&b, 1005 + 120000);
	ASSERT_TRUE(d >= 800 && d < 1600);
	/* but one minute is not enough */
	backoff_next(&b, 1005 + 120000 + 1);
	d = backoff_next(&b, 1005 + 120000 + 60000);
	ASSERT_TRUE(d >= 3200);
}

TEST(backoff_jitter_differs_by_seed_and_stays_in_range)
{
	struct backoff a, b;
	int differ = 0;

	backoff_init_default(&a, 1);
	backoff_init_default(&b, 2);
	for (int i = 0; i < 5; i++)
		differ += backoff_next(&a, 10) != backoff_next(&b, 10);
	ASSERT_TRUE(differ > 0);
	for (int i = 0; i < 1000; i++) {
		uint64_t v = backoff_rand(&a, 300, 600);
		ASSERT_TRUE(v >= 300 && v <= 600);
	}
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}
