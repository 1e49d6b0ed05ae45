/*
 * cfgfile.h - a YAML configuration file read against a table of keys.
 *
 * The file holds one YAML mapping (read with yamljson.h, so YAML 1.1 as
 * kubectl reads it). A key with a dot in the table is written as a nested
 * mapping: "leaderElection.leaseDuration" is
 *
 *   leaderElection:
 *     leaseDuration: 15s
 *
 * Each value is checked against its key's type and handed to the caller's
 * setter as text, so a file and a command-line flag go through the same
 * validation (`infermon run --config` uses it that way). An unknown key, a
 * wrong type or a value the setter refuses is an error of the form
 *
 *   run.yaml:7: unknown key "scrapeIntervall"
 *   run.yaml:3: scrapeInterval must be a duration (a string such as 15s, or seconds), not a list
 *
 * and nothing after the first error is applied. A file that is empty (or
 * only comments) sets nothing.
 *
 * No shared state; any thread.
 */
#ifndef INFERMON_CFGFILE_H
#define INFERMON_CFGFILE_H

#include <stddef.h>

#include "buf.h"
#include "error.h"

#define CFGFILE_MAX_BYTES ((size_t)1024 * 1024)

enum cfg_type {
	CFG_STRING,      /* a string */
	CFG_NAME,        /* a string or a whole number (a port name or number) */
	CFG_NUMBER,      /* a number; handed over as written by %.17g */
	CFG_DURATION,    /* a string such as "1m30s", or a number of seconds */
	CFG_BOOL,        /* true or false; handed over as "true" / "false" */
	CFG_STRING_LIST, /* a sequence of strings; the setter runs once per item */
};

struct cfg_key {
	const char *path; /* "scrapeInterval", "leaderElection.leaseDuration" */
	enum cfg_type type;
	int id;           /* the caller's, e.g. its getopt code */
	const char *flag; /* the equivalent command-line flag, for help text */
	const char *help; /* one line */
};

/* Sets key to value. On refusal returns an error and writes one message
 * (without file or line, which cfgfile adds) to err. */
typedef im_result (*cfg_set_cb)(void *ctx, const struct cfg_key *key, const char *value,
				struct buf *err);

/* Applies the mapping in data[0..len) (source names it in messages).
 * IM_OK, or IM_PARSE / IM_CONFIG / the setter's error with err reset to
 * one "source:line: message" line. */
im_result cfgfile_parse(const char *data, size_t len, const char *source,
			const struct cfg_key *keys, size_t nkeys, cfg_set_cb set, void *ctx,
			struct buf *err);

/* Reads path (at most CFGFILE_MAX_BYTES) and applies it as cfgfile_parse. */
im_result cfgfile_load(const char *path, const struct cfg_key *keys, size_t nkeys, cfg_set_cb set,
		       void *ctx, struct buf *err);

/* "a duration (a string such as 15s, or seconds)" etc., for messages and help. */
const char *cfg_type_desc(enum cfg_type t);

#endif
