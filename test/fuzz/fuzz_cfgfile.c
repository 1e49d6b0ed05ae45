/* libFuzzer target: cfgfile_parse (the `infermon run --config` reader) on
 * arbitrary bytes, against a key table with every type, nested sections and
 * a setter that refuses some values. Checks what `infermon run` relies on:
 * a failure has one message that starts with the file name; the setter only
 * sees values of its key's type; nothing leaks either way. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cfgfile.h"

static const struct cfg_key keys[] = {
	{"name", CFG_STRING, 1, "--name", ""},
	{"port", CFG_NAME, 2, "--port", ""},
	{"ratio", CFG_NUMBER, 3, "--ratio", ""},
	{"interval", CFG_DURATION, 4, "--interval", ""},
	{"enabled", CFG_BOOL, 5, "--enabled", ""},
	{"namespaces", CFG_STRING_LIST, 6, "--namespace", ""},
	{"leaderElection.leaseDuration", CFG_DURATION, 7, "--lease", ""},
	{"leaderElection.deeper.leaf", CFG_STRING, 8, "--leaf", ""},
};

static im_result set(void *ctx, const struct cfg_key *key, const char *value, struct buf *err)
{
	(void)ctx;
	if (key->type == CFG_BOOL && strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
		fprintf(stderr, "bool key got \"%s\"\n", value);
		abort();
	}
	if (strchr(value, 'x')) {
		buf_printf(err, "invalid %s", key->path);
		return IM_CONFIG;
	}
	return IM_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int hooked;
	long live;
	struct buf err;

	if (!hooked) {
		im_alloc_install_hooks();
		hooked = 1;
	}
	live = im_alloc_live();
	buf_init(&err, BUF_MAX_SMALL);
	if (cfgfile_parse((const char *)data, size, "fuzz.yaml", keys, sizeof(keys) / sizeof(keys[0]),
			  set, NULL, &err) &&
	    strncmp(buf_str(&err), "fuzz.yaml:", 10) != 0) {
		fprintf(stderr, "message without the file: %s\n", buf_str(&err));
		abort();
	}
	buf_release(&err);
	if (im_alloc_live() != live) {
		fprintf(stderr, "leaked %ld allocations\n", im_alloc_live() - live);
		abort();
	}
	return 0;
}
