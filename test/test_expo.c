#include "t.h"

#include "expo.h"
#include "promtext.h"

struct got {
	int n;
	char label[300];
	double value;
};

static im_result take(void *ctx, const struct promtext_sample *s)
{
	struct got *g = ctx;
	const struct promtext_label *l = promtext_label_get(s, "v");

	g->n++;
	if (l)
		snprintf(g->label, sizeof(g->label), "%.*s", (int)l->value_len, l->value);
	g->value = s->value;
	return IM_OK;
}

TEST(expo_round_trips_through_the_parser)
{
	struct buf b;
	struct promtext p;
	struct got g = {0};
	char long_value[400];

	memset(long_value, 'x', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	buf_init(&b, BUF_MAX_SMALL);
	expo_family(&b, "infermon_x", "gauge", "a \\ help\nline");
	expo_sample(&b, "infermon_x", 2.5, "v", "quote\" back\\ nl\n", NULL);
	ASSERT_STREQ(buf_str(&b), "# HELP infermon_x a \\\\ help\\nline\n# TYPE infermon_x gauge\n"
				  "infermon_x{v=\"quote\\\" back\\\\ nl\\n\"} 2.5\n");
	promtext_init(&p, NULL, take, &g);
	ASSERT_OK(promtext_feed(&p, b.ptr, b.len));
	ASSERT_OK(promtext_finish(&p));
	ASSERT_EQ_INT(g.n, 1);
	ASSERT_STREQ(g.label, "quote\" back\\ nl\n");
	ASSERT_EQ_DBL(g.value, 2.5, 0);
	promtext_release(&p);

	buf_reset(&b);
	expo_sample(&b, "infermon_y", 7, "v", long_value, NULL);
	expo_sample(&b, "infermon_z", 1.0 / 0.0, NULL);
	ASSERT_CONTAINS(buf_str(&b), "infermon_z +Inf\n");
	ASSERT_CONTAINS(buf_str(&b), "} 7\n");
	g.n = 0;
	promtext_init(&p, NULL, take, &g);
	ASSERT_OK(promtext_feed(&p, b.ptr, b.len));
	ASSERT_OK(promtext_finish(&p));
	ASSERT_EQ_INT(g.n, 2);
	ASSERT_EQ_INT(strlen(g.label), EXPO_MAX_LABEL_VALUE); /* cut, not dropped */
	promtext_release(&p);
	buf_release(&b);
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}
