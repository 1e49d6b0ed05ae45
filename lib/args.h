/*
 * args.h - reads one numeric flag from an engine's command line.
 *
 * Engine pods carry their limits as flags (`--max-num-seqs 8`,
 * `--max-num-seqs=8`), sometimes inside a shell string
 * (`sh -c "vllm serve m --max-num-seqs 8"`). Arguments can also carry
 * secrets (`--api-key …`), so this module is the only reader of pod args and
 * it returns nothing but the one number asked for: no other argument value
 * ever leaves it.
 */
#ifndef INFERMON_ARGS_H
#define INFERMON_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Looks for flag (e.g. "--max-num-seqs"; "--max_num_seqs" matches too, as
 * vLLM's parser accepts both) among argv, also inside arguments that hold a
 * shell command line. The last occurrence wins, as with argparse.
 * Returns IM_OK and *out when found with a value in [0, max];
 * IM_NOTFOUND when absent; IM_PARSE when present with a value that is not a
 * whole number (the value itself is not reported). */
im_result args_find_uint(char *const *argv, size_t argc, const char *flag, uint64_t max,
			 uint64_t *out);

/* Looks for a JSON-valued flag (e.g. --kv-transfer-config) and reports
 * whether its value contains the given string (e.g. "kv_producer"). */
bool args_flag_contains(char *const *argv, size_t argc, const char *flag, const char *needle);

/* Value of a word-valued flag such as --disaggregation-mode, copied into
 * out (NUL-terminated) when it is at most outlen-1 bytes of [a-z_-];
 * only for flags whose values are enumerations, never secrets. */
bool args_find_word(char *const *argv, size_t argc, const char *flag, char *out, size_t outlen);

#endif
