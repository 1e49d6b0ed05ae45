#include "t.h"

#include "alloc.h"
#include "watchstream.h"

struct seen {
	int n;
	char types[64][12];
	char names[64][64];
	char rv[64][16];
	long code;
};

static im_result record(void *ctx, struct watch_event *ev)
{
	struct seen *s = ctx;
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(ev->object, "metadata"), "name"));

	if (s->n >= 64)
		return IM_TOOBIG;
	snprintf(s->types[s->n], sizeof(s->types[0]), "%s", watch_type_name(ev->type));
	snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name ? name : "");
	snprintf(s->rv[s->n], sizeof(s->rv[0]), "%s", ev->resource_version ? ev->resource_version : "");
	s->code = ev->error_code;
	s->n++;
	return IM_OK;
}

static const char stream[] =
	"{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"10\"}}}\n"
	"{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"11\"}}}\r\n"
	"\n"
	"{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"resourceVersion\":\"15\"}}}\n"
	"{\"type\":\"DELETED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"16\"}}}\n"
	"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"message\":\"too old resource version: 1 (16)\"}}\n";

static void check_all(const struct seen *s)
{
	ASSERT_EQ_INT(s->n, 5);
	ASSERT_STREQ(s->types[0], "ADDED");
	ASSERT_STREQ(s->names[0], "a");
	ASSERT_STREQ(s->rv[0], "10");
	ASSERT_STREQ(s->types[1], "MODIFIED");
	ASSERT_STREQ(s->rv[1], "11");
	ASSERT_STREQ(s->types[2], "BOOKMARK");
	ASSERT_STREQ(s->rv[2], "15");
	ASSERT_STREQ(s->types[3], "DELETED");
	ASSERT_STREQ(s->types[4], "ERROR");
	ASSERT_EQ_INT(s->code, 410);
}

TEST(watchstream_one_chunk)
{
	struct watchstream ws;
	struct seen s = {0};

	watchstream_init(&ws, 0, record, &s);
	ASSERT_OK(watchstream_feed(&ws, stream, sizeof(stream) - 1));
	ASSERT_TRUE(!watchstream_pending(&ws));
	check_all(&s);
	watchstream_release(&ws);
}

/* Every split point, and byte-at-a-time, gives the same events. */
TEST(watchstream_any_split)
{
	size_t n = sizeof(stream) - 1;

	for (size_t cut = 0; cut <= n; cut++) {
		struct watchstream ws;
		struct seen s = {0};
		watchstream_init(&ws, 0, record, &s);
		ASSERT_OK(watchstream_feed(&ws, stream, cut));
		ASSERT_OK(watchstream_feed(&ws, stream + cut, n - cut));
		check_all(&s);
		watchstream_release(&ws);
	}
	{
		struct watchstream ws;
		struct seen s = {0};
		watchstream_init(&ws, 0, record, &s);
		for (size_t i = 0; i < n; i++)
			ASSERT_OK(watchstream_feed(&ws, stream + i, 1));
		check_all(&s);
		watchstream_release(&ws);
	}
}

TEST(watchstream_partial_tail_is_pending)
{
	struct watchstream ws;
	struct seen s = {0};

	watchstream_init(&ws, 0, record, &s);
	ASSERT_OK(watchstream_feed(&ws, stream, 30));
	ASSERT_TRUE(watchstream_pending(&ws));
	ASSERT_EQ_INT(s.n, 0);
	watchstream_reset(&ws);
	ASSERT_TRUE(!watchstream_pending(&ws));
	watchstream_release(&ws);
}

TEST(watchstream_rejects_garbage_with_position)
{
	struct watchstream ws;
	struct seen s = {0};
	const char bad[] = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\"}}}\nnot json\n";

	watchstream_init(&ws, 0, record, &s);
	ASSERT_ERR(watchstream_feed(&ws, bad, sizeof(bad) - 1), IM_PARSE);
	ASSERT_EQ_INT(s.n, 1);
	ASSERT_CONTAINS(buf_str(&ws.err), "watch event 2");
	ASSERT_CONTAINS(buf_str(&ws.err), "not a JSON object");
	watchstream_release(&ws);
}

TEST(watchstream_rejects_unknown_type_and_missing_object)
{
	struct watch_event ev;
	struct buf err;
	const char *a = "{\"type\":\"EXPLODED\",\"object\":{}}";
	const char *b = "{\"type\":\"ADDED\"}";
	const char *c = "[1,2]";

	buf_init(&err, 1024);
	ASSERT_ERR(watchstream_decode(a, strlen(a), &ev, &err), IM_PARSE);
	ASSERT_CONTAINS(buf_str(&err), "EXPLODED");
	buf_reset(&err);
	ASSERT_ERR(watchstream_decode(b, strlen(b), &ev, &err), IM_PARSE);
	buf_reset(&err);
	ASSERT_ERR(watchstream_decode(c, strlen(c), &ev, &err), IM_PARSE);
	buf_release(&err);
}

TEST(watchstream_line_cap)
{
	struct watchstream ws;
	struct seen s = {0};
	char big[300];

	memset(big, 'x', sizeof(big));
	watchstream_init(&ws, 256, record, &s);
	/* split across calls: the carried tail hits the cap */
	ASSERT_OK(watchstream_feed(&ws, big, 200));
	ASSERT_ERR(watchstream_feed(&ws, big, 100), IM_TOOBIG);
	ASSERT_CONTAINS(buf_str(&ws.err), "longer than 256");
	watchstream_release(&ws);
	/* in one chunk with its newline */
	watchstream_init(&ws, 256, record, &s);
	big[299] = '\n';
	ASSERT_ERR(watchstream_feed(&ws, big, 300), IM_TOOBIG);
	watchstream_release(&ws);
}

TEST(watchstream_callback_error_stops)
{
	struct watchstream ws;
	struct seen s = {.n = 64};

	watchstream_init(&ws, 0, record, &s);
	ASSERT_ERR(watchstream_feed(&ws, stream, sizeof(stream) - 1), IM_TOOBIG);
	watchstream_release(&ws);
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}
