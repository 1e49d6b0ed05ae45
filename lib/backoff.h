/*
 * backoff.h - exponential backoff with jitter, reset after a healthy spell
 * (client-go's reflector: 800 ms doubling to 30 s, full jitter factor 1.0,
 * back to the start after 2 minutes without a failure).
 *
 * Pure state machine over caller-supplied times, so tests need no clock.
 */
#ifndef INFERMON_BACKOFF_H
#define INFERMON_BACKOFF_H

#include <stdint.h>

struct backoff {
	uint64_t initial_ms;
	uint64_t max_ms;
	uint64_t reset_after_ms;
	uint64_t current_ms; /* next base delay */
	uint64_t last_fail_ms;
	uint32_t rng;      /* xorshift state for jitter */
	uint32_t failures; /* consecutive failures since the last reset */
};

void backoff_init(struct backoff *b, uint64_t initial_ms, uint64_t max_ms, uint64_t reset_after_ms,
		  uint32_t seed);
/* Default reflector settings. */
void backoff_init_default(struct backoff *b, uint32_t seed);
/* Delay before the next attempt after a failure at now_ms: base in
 * [current, 2*current) capped at max, jittered. */
uint64_t backoff_next(struct backoff *b, uint64_t now_ms);
/* Uniform random integer in [lo, hi] from b's generator. */
uint64_t backoff_rand(struct backoff *b, uint64_t lo, uint64_t hi);

#endif
