#include "workqueue.h"

#include <string.h>

#include "alloc.h"

struct wq_delayed {
	struct wq_delayed *next;
	uint64_t due;
	char key[];
};

static void timer_cb(uv_timer_t *t);

void wq_init(struct workqueue *q, uv_loop_t *loop, size_t max_keys, uint64_t base_ms,
	     uint64_t max_ms, void (*ready_cb)(void *ctx), void *ctx)
{
	memset(q, 0, sizeof(*q));
	q->loop = loop;
	q->max_keys = max_keys ? max_keys : 100000;
	q->base_ms = base_ms ? base_ms : 100;
	q->max_ms = max_ms ? max_ms : 300000;
	hmap_init(&q->queued);
	hmap_init(&q->processing);
	hmap_init(&q->dirty);
	hmap_init(&q->failures);
	backoff_init(&q->rng, 1, 2, 1, (uint32_t)(uintptr_t)q);
	q->ready_cb = ready_cb;
	q->ctx = ctx;
	if (loop) {
		uv_timer_init(loop, &q->timer);
		q->timer.data = q;
	}
}

void wq_shutdown(struct workqueue *q)
{
	q->closed = true;
	if (q->loop && !uv_is_closing((uv_handle_t *)&q->timer)) {
		uv_timer_stop(&q->timer);
		uv_close((uv_handle_t *)&q->timer, NULL);
	}
}

void wq_release(struct workqueue *q)
{
	struct wq_delayed *d, *n;

	for (size_t i = 0; i < q->len; i++)
		im_free(q->fifo[(q->head + i) % q->cap]);
	im_free(q->fifo);
	for (d = q->delayed; d; d = n) {
		n = d->next;
		im_free(d);
	}
	hmap_release(&q->queued);
	hmap_release(&q->processing);
	hmap_release(&q->dirty);
	hmap_release(&q->failures);
}

static void push(struct workqueue *q, const char *key)
{
	if (q->len == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		char **f = im_xcalloc(cap, sizeof(*f));
		for (size_t i = 0; i < q->len; i++)
			f[i] = q->fifo[(q->head + i) % q->cap];
		im_free(q->fifo);
		q->fifo = f;
		q->cap = cap;
		q->head = 0;
	}
	q->fifo[(q->head + q->len) % q->cap] = im_xstrdup(key);
	q->len++;
	hmap_put(&q->queued, key, (void *)1);
}

void wq_add(struct workqueue *q, const char *key)
{
	q->adds++;
	if (hmap_get(&q->queued, key))
		return;
	if (hmap_get(&q->processing, key)) {
		hmap_put(&q->dirty, key, (void *)1);
		return;
	}
	if (q->len >= q->max_keys) {
		q->dropped++;
		return;
	}
	push(q, key);
	if (q->ready_cb)
		q->ready_cb(q->ctx);
}

static void arm(struct workqueue *q)
{
	uint64_t now;

	if (!q->loop || !q->delayed || q->closed)
		return;
	now = uv_now(q->loop);
	uv_timer_start(&q->timer, timer_cb, q->delayed->due > now ? q->delayed->due - now : 0, 0);
}

static void timer_cb(uv_timer_t *t)
{
	struct workqueue *q = t->data;
	uint64_t now = uv_now(q->loop);

	while (q->delayed && q->delayed->due <= now) {
		struct wq_delayed *d = q->delayed;
		q->delayed = d->next;
		wq_add(q, d->key);
		im_free(d);
	}
	arm(q);
}

void wq_add_after(struct workqueue *q, const char *key, uint64_t delay_ms)
{
	struct wq_delayed *d, **pp;
	size_t n = strlen(key);

	if (delay_ms == 0 || !q->loop) {
		wq_add(q, key);
		return;
	}
	/* one pending delayed add per key: keep the earlier */
	for (pp = &q->delayed; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->key, key) == 0) {
			if ((*pp)->due <= uv_now(q->loop) + delay_ms)
				return;
			d = *pp;
			*pp = d->next;
			im_free(d);
			break;
		}
	d = im_xmalloc(sizeof(*d) + n + 1);
	memcpy(d->key, key, n + 1);
	d->due = uv_now(q->loop) + delay_ms;
	for (pp = &q->delayed; *pp && (*pp)->due <= d->due; pp = &(*pp)->next)
		;
	d->next = *pp;
	*pp = d;
	arm(q);
}

int wq_failures(const struct workqueue *q, const char *key)
{
	return (int)(intptr_t)hmap_get(&q->failures, key);
}

void wq_add_rate_limited(struct workqueue *q, const char *key)
{
	int n = wq_failures(q, key);
	uint64_t delay = q->base_ms;

	for (int i = 0; i < n && delay < q->max_ms; i++)
		delay *= 2;
	if (delay > q->max_ms)
		delay = q->max_ms;
	delay += backoff_rand(&q->rng, 0, delay / 10); /* 10% jitter */
	hmap_put(&q->failures, key, (void *)(intptr_t)(n + 1));
	q->retries++;
	wq_add_after(q, key, delay);
}

void wq_forget(struct workqueue *q, const char *key)
{
	hmap_del(&q->failures, key);
}

char *wq_get(struct workqueue *q)
{
	char *key;

	if (q->len == 0)
		return NULL;
	key = q->fifo[q->head];
	q->head = (q->head + 1) % q->cap;
	q->len--;
	hmap_del(&q->queued, key);
	hmap_put(&q->processing, key, (void *)1);
	return key;
}

void wq_done(struct workqueue *q, const char *key)
{
	hmap_del(&q->processing, key);
	if (hmap_del(&q->dirty, key))
		wq_add(q, key);
}

size_t wq_len(const struct workqueue *q)
{
	return q->len;
}
