#include "t.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>

#include "../lib/alloc.h"
#include "../lib/buf.h"

struct t_case {
	const char *name;
	t_fn fn;
};

static struct t_case cases[512];
static int ncases;
static jmp_buf fail_jmp;
static struct {
	void (*fn)(void *);
	void *arg;
} deferred[16];
static int ndeferred;

char *t_read_data(const char *rel, size_t *len)
{
	const char *dir = getenv("INFERMON_TEST_DATA");
	struct buf path, body;
	char tmp[65536];
	size_t n;
	FILE *f;

	buf_init(&path, 4096);
	buf_init(&body, BUF_MAX_LARGE);
	buf_printf(&path, "%s/%s", dir ? dir : "test/data", rel);
	f = fopen(buf_str(&path), "rb");
	if (!f) {
		int e = errno;
		buf_release(&path);
		t_fail(__FILE__, __LINE__, "cannot open test data %s: %s (INFERMON_TEST_DATA?)",
		       rel, strerror(e));
	}
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_add(&body, tmp, n);
	fclose(f);
	buf_release(&path);
	if (body.overflow)
		t_fail(__FILE__, __LINE__, "test data %s is larger than %zu bytes", rel, body.max);
	return buf_detach(&body, len);
}

void t_defer(void (*fn)(void *), void *arg)
{
	if (ndeferred == (int)(sizeof(deferred) / sizeof(deferred[0]))) {
		fprintf(stderr, "t_defer: more than 16 entries\n");
		abort();
	}
	deferred[ndeferred].fn = fn;
	deferred[ndeferred++].arg = arg;
}

void t_undefer(void *arg)
{
	int n = 0;

	for (int i = 0; i < ndeferred; i++)
		if (deferred[i].arg != arg)
			deferred[n++] = deferred[i];
	ndeferred = n;
}

void t_register(const char *name, t_fn fn)
{
	if (ncases < (int)(sizeof(cases) / sizeof(cases[0])))
		cases[ncases++] = (struct t_case){name, fn};
}

void t_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	while (ndeferred > 0) {
		ndeferred--;
		deferred[ndeferred].fn(deferred[ndeferred].arg);
	}
	longjmp(fail_jmp, 1);
}

int t_run(int argc, char **argv)
{
	volatile int failed = 0, ran = 0; /* live across setjmp */

	im_alloc_install_hooks();
	for (volatile int i = 0; i < ncases; i++) {
		volatile long before;
		if (argc > 1 && strcmp(argv[1], cases[i].name) != 0)
			continue;
		ran++;
		before = im_alloc_live();
		ndeferred = 0;
		if (setjmp(fail_jmp) == 0) {
			cases[i].fn();
			if (im_alloc_live() != before) {
				fprintf(stderr, "%s: leaked %ld allocation(s)\n", cases[i].name,
					im_alloc_live() - before);
				failed++;
				fprintf(stderr, "FAIL %s\n", cases[i].name);
				continue;
			}
			fprintf(stderr, "ok   %s\n", cases[i].name);
		} else {
			failed++;
			fprintf(stderr, "FAIL %s\n", cases[i].name);
		}
	}
	if (ran == 0) {
		fprintf(stderr, "no test named %s\n", argc > 1 ? argv[1] : "(any)");
		return 1;
	}
	fprintf(stderr, "%d passed, %d failed\n", ran - failed, failed);
	return failed ? 1 : 0;
}
