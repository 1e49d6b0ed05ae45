#include "alloc.h"

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_long live;

static void oom(size_t n)
{
	fprintf(stderr, "infermon: out of memory allocating %zu bytes\n", n);
	abort();
}

void *im_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	atomic_fetch_add(&live, 1);
	return p;
}

void *im_xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (!p)
		oom(nmemb * size);
	atomic_fetch_add(&live, 1);
	return p;
}

void *im_xrealloc(void *p, size_t n)
{
	void *q;
	if (!p)
		return im_xmalloc(n);
	q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *im_xstrndup(const char *s, size_t n)
{
	char *p = im_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *im_xstrdup(const char *s)
{
	return im_xstrndup(s, strlen(s));
}

void im_free(void *p)
{
	if (!p)
		return;
	atomic_fetch_sub(&live, 1);
	free(p);
}

long im_alloc_live(void)
{
	return atomic_load(&live);
}

void im_alloc_install_hooks(void)
{
	cJSON_Hooks hooks = {.malloc_fn = im_xmalloc, .free_fn = im_free};
	cJSON_InitHooks(&hooks);
}
