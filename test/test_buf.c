#include "t.h"

#include <errno.h>

#include "alloc.h"
#include "buf.h"
#include "strparse.h"

TEST(buf_appends_and_terminates)
{
	struct buf b;

	buf_init(&b, 16);
	ASSERT_STREQ(buf_str(&b), "");
	ASSERT_OK(buf_adds(&b, "abc"));
	ASSERT_OK(buf_printf(&b, "-%d", 42));
	ASSERT_STREQ(b.ptr, "abc-42");
	ASSERT_EQ_INT(b.len, 6);
	buf_consume(&b, 2);
	ASSERT_STREQ(b.ptr, "c-42");
	buf_release(&b);
}

TEST(buf_add_quoted_quotes_escapes_and_cuts)
{
	struct buf b;

	buf_init(&b, BUF_MAX_SMALL);
	ASSERT_OK(buf_add_quoted(&b, "a\"b\\c\n\x7f", 7, 0, 0));
	ASSERT_STREQ(buf_str(&b), "\"a\\\"b\\\\c\\x0a\\x7f\"");
	/* UTF-8 passes as it is, and a cut does not split a sequence */
	buf_reset(&b);
	ASSERT_OK(buf_add_quoted(&b, "ab\xc3\xa9", 4, 3, 0));
	ASSERT_STREQ(buf_str(&b), "\"ab...\"");
	buf_reset(&b);
	ASSERT_OK(buf_add_quoted(&b, "ab\xc3\xa9", 4, 4, 0));
	ASSERT_STREQ(buf_str(&b), "\"ab\xc3\xa9\"");
	/* ASCII: every other byte as \xNN, and the cut is at max bytes */
	buf_reset(&b);
	ASSERT_OK(buf_add_quoted(&b, "ab\xc3\xa9", 4, 3, BUF_QUOTE_ASCII));
	ASSERT_STREQ(buf_str(&b), "\"ab\\xc3...\"");
	/* n bytes, not up to a NUL */
	buf_reset(&b);
	ASSERT_OK(buf_add_quoted(&b, "x\0y", 3, 0, 0));
	ASSERT_STREQ(buf_str(&b), "\"x\\x00y\"");
	buf_release(&b);
	buf_init(&b, 4);
	ASSERT_ERR(buf_add_quoted(&b, "toolong", 7, 0, 0), IM_TOOBIG);
	buf_release(&b);
}

TEST(buf_add_errno_lower_cases_the_reason)
{
	struct buf b;

	buf_init(&b, BUF_MAX_SMALL);
	buf_adds(&b, "cannot read: ");
	ASSERT_OK(buf_add_errno(&b, ENOENT));
	ASSERT_STREQ(buf_str(&b), "cannot read: no such file or directory");
	buf_release(&b);
}

TEST(buf_cap_frees_and_fails)
{
	struct buf b;

	buf_init(&b, 8);
	ASSERT_OK(buf_adds(&b, "12345678"));
	ASSERT_ERR(buf_addc(&b, '9'), IM_TOOBIG);
	ASSERT_TRUE(b.ptr == NULL);
	ASSERT_EQ_INT(b.len, 0);
	ASSERT_TRUE(b.overflow);
	/* sticky: a later append that would fit is refused too, so no piece
	 * built after the lost one passes for the whole */
	ASSERT_ERR(buf_adds(&b, "ok"), IM_TOOBIG);
	ASSERT_ERR(buf_printf(&b, "%d", 1), IM_TOOBIG);
	ASSERT_ERR(buf_add_escaped(&b, "x", 1), IM_TOOBIG);
	ASSERT_STREQ(buf_str(&b), "");
	ASSERT_EQ_INT(b.len, 0);
	ASSERT_TRUE(b.overflow);
	/* consuming does not clear it either */
	buf_consume(&b, 0);
	ASSERT_TRUE(b.overflow);
	/* reset and release start afresh */
	buf_reset(&b);
	ASSERT_TRUE(!b.overflow);
	ASSERT_OK(buf_adds(&b, "ok"));
	ASSERT_STREQ(buf_str(&b), "ok");
	ASSERT_ERR(buf_adds(&b, "1234567"), IM_TOOBIG);
	buf_release(&b);
	ASSERT_TRUE(!b.overflow);
	ASSERT_OK(buf_adds(&b, "again"));
	buf_release(&b);
}

/* A cap of SIZE_MAX means "no cap": max + 1 must not wrap to 0. */
TEST(buf_uncapped_grows)
{
	struct buf b;

	buf_init(&b, (size_t)-1);
	for (int i = 0; i < 1000; i++)
		ASSERT_OK(buf_adds(&b, "0123456789"));
	ASSERT_EQ_INT(b.len, 10000);
	ASSERT_TRUE(b.cap > b.len);
	ASSERT_EQ_INT(b.ptr[9999], '9');
	buf_release(&b);
}

TEST(buf_escapes_for_messages)
{
	struct buf b;

	buf_init(&b, 64);
	ASSERT_OK(buf_add_escaped(&b, "a\"b\\c\nd\x7f", 8));
	ASSERT_STREQ(b.ptr, "a\\\"b\\\\c\\x0ad\\x7f");
	buf_release(&b);
}

TEST(buf_detach_hands_over)
{
	struct buf b;
	size_t n;
	char *s;

	buf_init(&b, 100);
	s = buf_detach(&b, &n);
	ASSERT_STREQ(s, "");
	im_free(s);
	buf_adds(&b, "xyz");
	s = buf_detach(&b, &n);
	ASSERT_EQ_INT(n, 3);
	ASSERT_STREQ(s, "xyz");
	ASSERT_TRUE(b.ptr == NULL);
	im_free(s);
}

TEST(strparse_numbers)
{
	uint64_t u;
	int64_t i;
	double d;

	ASSERT_OK(strparse_u64("1024", 4, 100000, &u));
	ASSERT_EQ_INT(u, 1024);
	ASSERT_ERR(strparse_u64("1024", 4, 1000, &u), IM_TOOBIG);
	ASSERT_ERR(strparse_u64("", 0, 1000, &u), IM_PARSE);
	/* a single digit above max, and max itself */
	ASSERT_ERR(strparse_u64("8", 1, 4, &u), IM_TOOBIG);
	ASSERT_OK(strparse_u64("4", 1, 4, &u));
	ASSERT_EQ_INT(u, 4);
	ASSERT_OK(strparse_u64("18446744073709551615", 20, UINT64_MAX, &u));
	ASSERT_TRUE(u == UINT64_MAX);
	ASSERT_ERR(strparse_u64("18446744073709551616", 20, UINT64_MAX, &u), IM_TOOBIG);
	ASSERT_ERR(strparse_u64("12a", 3, 1000, &u), IM_PARSE);
	ASSERT_ERR(strparse_u64("99999999999999999999999", 23, UINT64_MAX, &u), IM_TOOBIG);
	ASSERT_OK(strparse_i64("-410", 4, -1000, 1000, &i));
	ASSERT_EQ_INT(i, -410);
	ASSERT_OK(strparse_double("+Inf", 4, &d));
	ASSERT_TRUE(isinf(d) && d > 0);
	ASSERT_OK(strparse_double("NaN", 3, &d));
	ASSERT_TRUE(isnan(d));
	ASSERT_OK(strparse_double("1.5e3", 5, &d));
	ASSERT_EQ_DBL(d, 1500, 0);
	ASSERT_ERR(strparse_double("0x10", 4, &d), IM_PARSE);
	ASSERT_ERR(strparse_double(" 1", 2, &d), IM_PARSE);
	ASSERT_ERR(strparse_double("1.5 ", 4, &d), IM_PARSE);
}

TEST(strparse_durations)
{
	uint64_t ms;

	ASSERT_OK(strparse_duration_ms("15s", 3, 86400000, &ms));
	ASSERT_EQ_INT(ms, 15000);
	ASSERT_OK(strparse_duration_ms("500ms", 5, 86400000, &ms));
	ASSERT_EQ_INT(ms, 500);
	ASSERT_OK(strparse_duration_ms("1m30s", 5, 86400000, &ms));
	ASSERT_EQ_INT(ms, 90000);
	ASSERT_OK(strparse_duration_ms("30", 2, 86400000, &ms));
	ASSERT_EQ_INT(ms, 30000);
	ASSERT_OK(strparse_duration_ms("2h", 2, 86400000, &ms));
	ASSERT_EQ_INT(ms, 7200000);
	ASSERT_ERR(strparse_duration_ms("15x", 3, 86400000, &ms), IM_PARSE);
	ASSERT_ERR(strparse_duration_ms("s", 1, 86400000, &ms), IM_PARSE);
	ASSERT_ERR(strparse_duration_ms("", 0, 86400000, &ms), IM_PARSE);
	ASSERT_ERR(strparse_duration_ms("25h", 3, 86400000, &ms), IM_TOOBIG);
}

int main(int argc, char **argv)
{
	return t_run(argc, argv);
}
