/* libFuzzer target: the parsers behind /metrics authentication. The first
 * byte picks one (its value modulo 3) and the rest is its input:
 *   0  metricsauth_bearer, an Authorization header value
 *   1  metricsreview_parse_token, a TokenReview answer; a user it hands
 *      back goes on to metricsreview_access_body
 *   2  metricsreview_parse_access, a SubjectAccessReview answer, for one
 *      of a few usernames (the first byte divided by 3 picks it)
 * Checks what the server relies on: a bearer token is a non-empty piece of
 * the input in RFC 6750 b64token characters and agrees with a second,
 * differently written reading of the header; a verdict is never PENDING; a
 * user comes back exactly when ALLOWED and has a username; the
 * SubjectAccessReview body is JSON asking about that user and get
 * /metrics; `why` is one line of printable ASCII, empty only for ALLOWED;
 * nothing leaks. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "alloc.h"
#include "metricsauth.h"
#include "metricsreview.h"

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_metricsauth: %s\n", what);
	abort();
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_b64(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* The header read another way: trim both ends, "bearer" in any case, at
 * least one space, more spaces, then the token to the end: b64token
 * characters and then only '='s. Returns the token's offset and length. */
static bool model_bearer(const char *v, size_t n, size_t *off, size_t *len)
{
	size_t b = 0, e = n, i, k;

	while (b < e && is_space(v[b]))
		b++;
	while (e > b && is_space(v[e - 1]))
		e--;
	if (e - b < 7)
		return false;
	for (k = 0; k < 6; k++)
		if (lower(v[b + k]) != "bearer"[k])
			return false;
	i = b + 6;
	if (!is_space(v[i]))
		return false;
	while (i < e && is_space(v[i]))
		i++;
	if (i == e)
		return false;
	for (k = i; k < e && is_b64(v[k]); k++)
		;
	if (k == i) /* RFC 6750: 1*( ALPHA / DIGIT / ... ) *"=" */
		return false;
	for (; k < e; k++)
		if (v[k] != '=')
			return false;
	*off = i;
	*len = e - i;
	return true;
}

static void check_bearer(const char *v, size_t n)
{
	const char *token = NULL;
	size_t len = 0, moff = 0, mlen = 0, i;
	bool ok = metricsauth_bearer(v, n, &token, &len);
	bool model = model_bearer(v, n, &moff, &mlen);

	if (ok != model)
		fail(ok ? "bearer took a header the model refuses"
			: "bearer refused a header the model takes");
	if (!ok)
		return;
	if (!token || len == 0 || token < v || len > n || (size_t)(token - v) > n - len)
		fail("bearer token is empty or outside the input");
	if ((size_t)(token - v) != moff || len != mlen)
		fail("bearer token differs from the model's");
	for (i = 0; i < len && is_b64(token[i]); i++)
		;
	if (i == 0)
		fail("bearer token starts with '='");
	for (; i < len; i++)
		if (token[i] != '=')
			fail("bearer token holds a byte outside b64token");
}

/* why: one line of printable ASCII, empty exactly when allowed. */
static void check_why(const struct buf *why, enum metricsauth_verdict v)
{
	size_t i;

	if (why->overflow)
		fail("why overflowed");
	if ((v == METRICSAUTH_ALLOWED) != (why->len == 0))
		fail(v == METRICSAUTH_ALLOWED ? "why is set for ALLOWED" : "why is empty");
	for (i = 0; i < why->len; i++)
		if ((unsigned char)why->ptr[i] < 0x20 || (unsigned char)why->ptr[i] > 0x7e)
			fail("why holds a byte that is not printable ASCII");
}

static const cJSON *field(const cJSON *o, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(o, name);
}

static void check_access_body(const cJSON *user)
{
	const char *name = field(user, "username")->valuestring;
	struct buf body;
	cJSON *sar;
	const cJSON *spec, *nr, *u, *path, *verb, *kind;

	buf_init(&body, BUF_MAX_LARGE);
	metricsreview_access_body(&body, user);
	if (body.overflow || body.len == 0)
		fail("the SubjectAccessReview body is empty");
	sar = cJSON_ParseWithLength(body.ptr, body.len);
	if (!sar)
		fail("the SubjectAccessReview body is not JSON");
	kind = field(sar, "kind");
	spec = field(sar, "spec");
	u = field(spec, "user");
	nr = field(spec, "nonResourceAttributes");
	path = field(nr, "path");
	verb = field(nr, "verb");
	if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "SubjectAccessReview") != 0)
		fail("the SubjectAccessReview body has the wrong kind");
	if (!cJSON_IsString(u) || strcmp(u->valuestring, name) != 0)
		fail("the SubjectAccessReview body asks about another user");
	if (!cJSON_IsString(path) || strcmp(path->valuestring, METRICSREVIEW_PATH) != 0 ||
	    !cJSON_IsString(verb) || strcmp(verb->valuestring, METRICSREVIEW_VERB) != 0)
		fail("the SubjectAccessReview body does not ask about get /metrics");
	cJSON_Delete(sar);
	buf_release(&body);
}

static void check_token(const char *p, size_t n)
{
	struct buf why;
	cJSON *user = NULL;
	const cJSON *name;
	enum metricsauth_verdict v;

	buf_init(&why, BUF_MAX_SMALL);
	v = metricsreview_parse_token(p, n, &user, &why);
	if (v >= METRICSAUTH_PENDING)
		fail("parse_token gave no verdict");
	if ((v == METRICSAUTH_ALLOWED) != (user != NULL))
		fail(user ? "parse_token gave a user without ALLOWED"
			  : "parse_token gave ALLOWED without a user");
	check_why(&why, v);
	if (user) {
		name = field(user, "username");
		if (!cJSON_IsObject(user) || !cJSON_IsString(name) || !name->valuestring[0])
			fail("parse_token gave a user without a username");
		check_access_body(user);
		cJSON_Delete(user);
	}
	buf_release(&why);
}

static void check_access(const char *p, size_t n, unsigned pick)
{
	static const char *const names[] = {
		"system:serviceaccount:mon:prom",
		"a \"quoted\"\nname\\",
		"",
		"\xc3\xa9l\xe8ve\x7f",
	};
	const char *name = names[pick % (sizeof(names) / sizeof(names[0]))];
	struct buf why;
	enum metricsauth_verdict v;

	buf_init(&why, BUF_MAX_SMALL);
	v = metricsreview_parse_access(p, n, name, &why);
	if (v != METRICSAUTH_ALLOWED && v != METRICSAUTH_FORBIDDEN && v != METRICSAUTH_UNAVAILABLE)
		fail("parse_access gave a verdict other than allowed, forbidden, unavailable");
	check_why(&why, v);
	if (v == METRICSAUTH_FORBIDDEN && strncmp(why.ptr, "user \"", 6) != 0)
		fail("a forbidden why does not name the user");
	buf_release(&why);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int hooked;
	const char *p = (const char *)data + 1;
	long live;

	if (!hooked) {
		im_alloc_install_hooks();
		hooked = 1;
	}
	if (size < 1)
		return 0;
	live = im_alloc_live();
	switch (data[0] % 3) {
	case 0:
		check_bearer(p, size - 1);
		break;
	case 1:
		check_token(p, size - 1);
		break;
	default:
		check_access(p, size - 1, data[0] / 3u);
		break;
	}
	if (im_alloc_live() != live) {
		fprintf(stderr, "leaked %ld allocations\n", im_alloc_live() - live);
		abort();
	}
	return 0;
}
