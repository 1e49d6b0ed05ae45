#include "backoff.h"

void backoff_init(struct backoff *b, uint64_t initial_ms, uint64_t max_ms, uint64_t reset_after_ms,
		  uint32_t seed)
{
	b->initial_ms = initial_ms;
	b->max_ms = max_ms;
	b->reset_after_ms = reset_after_ms;
	b->current_ms = initial_ms;
	b->last_fail_ms = 0;
	b->failures = 0;
	b->rng = seed ? seed : 0x9e3779b9u;
}

void backoff_init_default(struct backoff *b, uint32_t seed)
{
	backoff_init(b, 800, 30000, 120000, seed);
}

static uint32_t xorshift(struct backoff *b)
{
	uint32_t x = b->rng;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	b->rng = x;
	return x;
}

uint64_t backoff_rand(struct backoff *b, uint64_t lo, uint64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + (uint64_t)xorshift(b) % (hi - lo + 1);
}

uint64_t backoff_next(struct backoff *b, uint64_t now_ms)
{
	uint64_t base, delay;

	if (b->failures > 0 && now_ms - b->last_fail_ms >= b->reset_after_ms) {
		b->current_ms = b->initial_ms;
		b->failures = 0;
	}
	base = b->current_ms;
	/* jitter factor 1.0: wait base + rand[0, base) */
	delay = base + backoff_rand(b, 0, base - 1);
	if (delay > b->max_ms)
		delay = b->max_ms;
	b->current_ms = base * 2 > b->max_ms ? b->max_ms : base * 2;
	b->last_fail_ms = now_ms;
	b->failures++;
	return delay;
}
