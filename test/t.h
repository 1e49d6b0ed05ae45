/*
 * t.h - the unit-test harness: typed asserts that print both sides, and a
 * runner that checks each test left no allocation behind (libuv).
 *
 *   TEST(buf_grows) { ... ASSERT_EQ_INT(b.len, 3); }
 *   int main(int argc, char **argv) { return t_run(argc, argv); }
 *
 * Tests register themselves through a constructor, so a test file lists
 * nothing twice. `./test_x name` runs one test.
 */
#ifndef INFERMON_T_H
#define INFERMON_T_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*t_fn)(void);
void t_register(const char *name, t_fn fn);
int t_run(int argc, char **argv);
void t_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
/* Runs fn(arg) when the running test fails, before t_fail leaves it (the
 * last registered first): for what must not outlive the test's stack, such
 * as a thread using a struct on it. t_undefer(arg) drops the entries for arg
 * when the test undoes it itself. Test thread only; at most 16 at a time. */
void t_defer(void (*fn)(void *), void *arg);
void t_undefer(void *arg);
/* The contents of test/data/<rel> ($INFERMON_TEST_DATA, which ctest sets;
 * test/data from the source root otherwise), NUL-terminated; *len (may be
 * NULL) its length. Free with im_free. Fails the test when it cannot read. */
char *t_read_data(const char *rel, size_t *len);

#define TEST(name)                                                \
	static void test_##name(void);                            \
	__attribute__((constructor)) static void reg_##name(void) \
	{                                                         \
		t_register(#name, test_##name);                   \
	}                                                         \
	static void test_##name(void)

#define ASSERT_TRUE(c)                                                       \
	do {                                                                 \
		if (!(c))                                                    \
			t_fail(__FILE__, __LINE__, "expected true: %s", #c); \
	} while (0)

#define ASSERT_EQ_INT(a, b)                                                                     \
	do {                                                                                    \
		long long t_a = (long long)(a), t_b = (long long)(b);                           \
		if (t_a != t_b)                                                                 \
			t_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, t_a, t_b); \
	} while (0)

#define ASSERT_EQ_DBL(a, b, eps)                                                                  \
	do {                                                                                      \
		double t_a = (double)(a), t_b = (double)(b);                                      \
		if (!((isnan(t_a) && isnan(t_b)) || t_a == t_b || fabs(t_a - t_b) <= (eps)))      \
			t_fail(__FILE__, __LINE__, "%s == %s: %.17g != %.17g", #a, #b, t_a, t_b); \
	} while (0)

#define ASSERT_STREQ(a, b)                                                               \
	do {                                                                             \
		const char *t_a = (a), *t_b = (b);                                       \
		if (!t_a || !t_b || strcmp(t_a, t_b) != 0)                               \
			t_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, \
			       t_a ? t_a : "(null)", t_b ? t_b : "(null)");              \
	} while (0)

#define ASSERT_CONTAINS(hay, needle)                                                        \
	do {                                                                                \
		const char *t_h = (hay), *t_n = (needle);                                   \
		if (!t_h || !strstr(t_h, t_n))                                              \
			t_fail(__FILE__, __LINE__, "%s contains \"%s\": \"%s\"", #hay, t_n, \
			       t_h ? t_h : "(null)");                                       \
	} while (0)

#define ASSERT_OK(expr)                                                                \
	do {                                                                           \
		im_result t_r = (expr);                                                \
		if (t_r != IM_OK)                                                      \
			t_fail(__FILE__, __LINE__, "%s: %s", #expr, im_err_name(t_r)); \
	} while (0)

#define ASSERT_ERR(expr, want)                                                                     \
	do {                                                                                       \
		im_result t_r = (expr);                                                            \
		if (t_r != (want))                                                                 \
			t_fail(__FILE__, __LINE__, "%s: got %s, want %s", #expr, im_err_name(t_r), \
			       im_err_name(want));                                                 \
	} while (0)

#endif
