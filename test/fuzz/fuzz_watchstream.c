/* libFuzzer target: the watch-stream splitter and event decoder, plus the
 * pod decoder behind them. The first byte picks chunk sizes so that splits
 * land everywhere. */
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "pod.h"
#include "watchstream.h"

static im_result on_event(void *ctx, struct watch_event *ev)
{
	struct pod *p;
	struct buf err;

	(void)ctx;
	buf_init(&err, 1024);
	if (ev->type != WATCH_ERROR && ev->type != WATCH_BOOKMARK && pod_decode(ev->object, &p, &err) == IM_OK)
		pod_free(p);
	buf_release(&err);
	return IM_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct watchstream ws;
	size_t step, off = 1;
	static int hooked;

	if (!hooked) {
		im_alloc_install_hooks();
		hooked = 1;
	}
	if (size < 1)
		return 0;
	step = (size_t)(data[0] % 32) + 1;
	watchstream_init(&ws, 4096, on_event, NULL);
	while (off < size) {
		size_t n = size - off < step ? size - off : step;
		if (watchstream_feed(&ws, (const char *)data + off, n))
			break;
		off += n;
	}
	watchstream_release(&ws);
	return 0;
}
