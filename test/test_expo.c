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

/* Integers are written without printf, as printf's %.0f would write them;
 * a prefix of escaped labels goes before the pairs. */
TEST(numbers_and_prebuilt_labels)
{
	struct buf b, ids;
	static const double ints[] = {0, 1, -1, 7, 10, 65536, -4096, 999999999999999.0};
	char want[64];

	buf_init(&b, BUF_MAX_SMALL);
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		buf_reset(&b);
		expo_sample(&b, "m", ints[i], NULL);
		snprintf(want, sizeof(want), "m %.0f\n", ints[i]);
		ASSERT_STREQ(buf_str(&b), want);
	}
	buf_reset(&b);
	expo_sample(&b, "m", 1e15, NULL);
	ASSERT_STREQ(buf_str(&b), "m 1000000000000000\n");
	buf_reset(&b);
	expo_sample(&b, "m", 0.25, NULL);
	ASSERT_STREQ(buf_str(&b), "m 0.25\n");

	buf_init(&ids, BUF_MAX_SMALL);
	buf_adds(&ids, "pod=\"");
	expo_label_value(&ids, "a\"b\\c\nd");
	buf_adds(&ids, "\"");
	buf_reset(&b);
	expo_sample_with(&b, "m", 3, buf_str(&ids), "check", "X", NULL);
	ASSERT_STREQ(buf_str(&b), "m{pod=\"a\\\"b\\\\c\\nd\",check=\"X\"} 3\n");
	buf_reset(&b);
	expo_sample_with(&b, "m", 3, buf_str(&ids), NULL);
	ASSERT_STREQ(buf_str(&b), "m{pod=\"a\\\"b\\\\c\\nd\"} 3\n");
	buf_reset(&b);
	expo_sample_with(&b, "m", 3, "", "k", "v", NULL);
	ASSERT_STREQ(buf_str(&b), "m{k=\"v\"} 3\n");
	buf_release(&ids);
	buf_release(&b);
}
