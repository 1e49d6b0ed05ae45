#include "loop.h"

#include "alloc.h"

struct loop_call {
	struct loop_call *next;
	loop_fn_cb fn;
	void *arg;
	bool done;
	bool canceled;
	pthread_cond_t cond;
};

static void run_calls(struct loop *l, bool cancel)
{
	struct loop_call *c, *next;
	bool stop;

	pthread_mutex_lock(&l->lock);
	c = l->calls;
	l->calls = NULL;
	stop = l->stop_requested;
	pthread_mutex_unlock(&l->lock);
	for (; c; c = next) {
		next = c->next;
		if (!cancel && !stop)
			c->fn(c->arg);
		pthread_mutex_lock(&l->lock);
		c->canceled = cancel || stop;
		c->done = true;
		pthread_cond_signal(&c->cond);
		pthread_mutex_unlock(&l->lock);
	}
}

static void wake_cb(uv_async_t *h)
{
	struct loop *l = h->data;
	bool stop;

	run_calls(l, false);
	pthread_mutex_lock(&l->lock);
	stop = l->stop_requested;
	pthread_mutex_unlock(&l->lock);
	if (stop) {
		loop_fn_cb cb = l->on_stop;
		l->on_stop = NULL;
		if (cb)
			cb(l->on_stop_arg);
		loop_close_handle((uv_handle_t *)&l->wake, NULL);
	}
}

im_result loop_init(struct loop *l)
{
	l->calls = NULL;
	l->stop_requested = false;
	l->on_stop = NULL;
	l->on_stop_arg = NULL;
	if (uv_loop_init(&l->uv) != 0)
		return IM_INTERNAL;
	if (uv_async_init(&l->uv, &l->wake, wake_cb) != 0) {
		uv_loop_close(&l->uv);
		return IM_INTERNAL;
	}
	l->wake.data = l;
	pthread_mutex_init(&l->lock, NULL);
	return IM_OK;
}

void loop_run(struct loop *l)
{
	uv_run(&l->uv, UV_RUN_DEFAULT);
}

void loop_stop(struct loop *l)
{
	pthread_mutex_lock(&l->lock);
	l->stop_requested = true;
	pthread_mutex_unlock(&l->lock);
	uv_async_send(&l->wake);
}

static void walk_close(uv_handle_t *h, void *arg)
{
	(void)arg;
	loop_close_handle(h, NULL);
}

void loop_release(struct loop *l)
{
	run_calls(l, true);
	loop_close_handle((uv_handle_t *)&l->wake, NULL);
	/* Anything an owner forgot is closed here so uv_loop_close succeeds. */
	uv_walk(&l->uv, walk_close, NULL);
	uv_run(&l->uv, UV_RUN_DEFAULT);
	uv_loop_close(&l->uv);
	pthread_mutex_destroy(&l->lock);
}

uint64_t loop_now_ms(struct loop *l)
{
	return uv_now(&l->uv);
}

im_result loop_call_sync(struct loop *l, loop_fn_cb fn, void *arg)
{
	struct loop_call c = {.fn = fn, .arg = arg};
	im_result result;

	pthread_cond_init(&c.cond, NULL);
	pthread_mutex_lock(&l->lock);
	if (l->stop_requested) {
		pthread_mutex_unlock(&l->lock);
		pthread_cond_destroy(&c.cond);
		return IM_CANCELED;
	}
	c.next = l->calls;
	l->calls = &c;
	pthread_mutex_unlock(&l->lock);
	uv_async_send(&l->wake);
	pthread_mutex_lock(&l->lock);
	while (!c.done)
		pthread_cond_wait(&c.cond, &l->lock);
	result = c.canceled ? IM_CANCELED : IM_OK;
	pthread_mutex_unlock(&l->lock);
	pthread_cond_destroy(&c.cond);
	return result;
}

void loop_close_handle(uv_handle_t *h, uv_close_cb cb)
{
	if (h->loop && !uv_is_closing(h))
		uv_close(h, cb);
}
