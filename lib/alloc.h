/*
 * alloc.h - the one allocation wrapper.
 *
 * Out-of-memory policy: infermon runs as a restartable pod, so a failed
 * allocation aborts the process with a message (im_xmalloc never returns
 * NULL). Everything — our code, cJSON (through im_alloc_install_hooks) —
 * allocates here, so tests can count live allocations and check that a test
 * leaked nothing. The counters are atomic; any thread may allocate.
 */
#ifndef INFERMON_ALLOC_H
#define INFERMON_ALLOC_H

#include <stddef.h>

void *im_xmalloc(size_t n);
void *im_xcalloc(size_t nmemb, size_t size);
void *im_xrealloc(void *p, size_t n);
char *im_xstrdup(const char *s);
/* Copies n bytes of s and NUL-terminates. */
char *im_xstrndup(const char *s, size_t n);
void im_free(void *p);

/* Number of allocations made through this wrapper not yet freed. */
long im_alloc_live(void);

/* Routes cJSON's allocations through this wrapper. Call once at start-up. */
void im_alloc_install_hooks(void);

#endif
