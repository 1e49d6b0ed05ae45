#include "args.h"

#include <string.h>

#include "strparse.h"

/* Calls fn for each word of argv, splitting arguments that contain spaces
 * as a shell would (quotes group, backslash escapes outside single quotes).
 * Words are (pointer, length) views into a scratch copy when unquoting
 * changed them, else into argv. */
struct word {
	const char *p;
	size_t n;
};

#define MAX_WORDS 8192
#define SCRATCH (256 * 1024)

struct words {
	struct word w[MAX_WORDS];
	size_t n;
	char scratch[SCRATCH];
	size_t used;
};

static void add_word(struct words *ws, const char *p, size_t n)
{
	if (ws->n < MAX_WORDS)
		ws->w[ws->n++] = (struct word){p, n};
}

/* Splits s as a shell command line into ws (through the scratch area). */
static void split_shell(struct words *ws, const char *s)
{
	const char *p = s;

	while (*p) {
		size_t start;
		char q = 0;
		bool any = false;

		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == ';' || *p == '&' || *p == '|')
			p++;
		if (!*p)
			break;
		start = ws->used;
		while (*p && (q || !(*p == ' ' || *p == '\t' || *p == '\n' || *p == ';' ||
				     *p == '&' || *p == '|'))) {
			char c = *p++;
			if (q) {
				if (c == q) {
					q = 0;
					continue;
				}
				if (q == '"' && c == '\\' && *p) {
					c = *p++;
				}
			} else if (c == '\'' || c == '"') {
				q = c;
				any = true;
				continue;
			} else if (c == '\\' && *p) {
				c = *p++;
			}
			if (ws->used < SCRATCH - 1)
				ws->scratch[ws->used++] = c;
			any = true;
		}
		if (any)
			add_word(ws, ws->scratch + start, ws->used - start);
	}
}

static void collect(struct words *ws, char *const *argv, size_t argc)
{
	ws->n = 0;
	ws->used = 0;
	for (size_t i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strpbrk(a, " \t\n"))
			split_shell(ws, a);
		else
			add_word(ws, a, strlen(a));
	}
}

/* True when word w is flag, with '-' and '_' equal after the leading "--". */
static bool flag_eq(const char *p, size_t n, const char *flag)
{
	size_t fl = strlen(flag);

	if (n != fl)
		return false;
	for (size_t i = 0; i < n; i++) {
		char a = p[i] == '_' ? '-' : p[i], b = flag[i] == '_' ? '-' : flag[i];
		if (a != b)
			return false;
	}
	return true;
}

/* Finds the last value of flag; sets *v. */
static bool find_value(const struct words *ws, const char *flag, struct word *v)
{
	bool found = false;
	size_t fl = strlen(flag);

	for (size_t i = 0; i < ws->n; i++) {
		const struct word *w = &ws->w[i];
		const char *eq = memchr(w->p, '=', w->n);
		if (eq && flag_eq(w->p, (size_t)(eq - w->p), flag)) {
			*v = (struct word){eq + 1, w->n - (size_t)(eq - w->p) - 1};
			found = true;
		} else if (!eq && w->n == fl && flag_eq(w->p, w->n, flag) && i + 1 < ws->n) {
			*v = ws->w[i + 1];
			found = true;
		}
	}
	return found;
}

static struct words *words_get(void)
{
	/* Large: keep it off the stack. One per thread. */
	static _Thread_local struct words ws;
	return &ws;
}

im_result args_find_uint(char *const *argv, size_t argc, const char *flag, uint64_t max,
			 uint64_t *out)
{
	struct words *ws = words_get();
	struct word v;
	uint64_t n;
	im_result result;

	collect(ws, argv, argc);
	if (!find_value(ws, flag, &v))
		return IM_NOTFOUND;
	result = strparse_u64(v.p, v.n, max, &n);
	if (result)
		return result;
	*out = n;
	return IM_OK;
}

bool args_flag_contains(char *const *argv, size_t argc, const char *flag, const char *needle)
{
	struct words *ws = words_get();
	struct word v;
	size_t nl = strlen(needle);

	collect(ws, argv, argc);
	if (!find_value(ws, flag, &v) || nl == 0 || v.n < nl)
		return false;
	for (size_t i = 0; i + nl <= v.n; i++)
		if (memcmp(v.p + i, needle, nl) == 0)
			return true;
	return false;
}

bool args_find_word(char *const *argv, size_t argc, const char *flag, char *out, size_t outlen)
{
	struct words *ws = words_get();
	struct word v;

	collect(ws, argv, argc);
	if (!find_value(ws, flag, &v) || v.n == 0 || v.n >= outlen)
		return false;
	for (size_t i = 0; i < v.n; i++)
		if (!((v.p[i] >= 'a' && v.p[i] <= 'z') || v.p[i] == '-' || v.p[i] == '_'))
			return false;
	memcpy(out, v.p, v.n);
	out[v.n] = '\0';
	return true;
}
