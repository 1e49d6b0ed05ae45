/* libFuzzer target: the pod-args reader (lib/args.c), which finds
 * --max-num-seqs and friends in a container's args, also inside shell
 * command lines. The input is argv with NUL bytes between the arguments
 * (Kubernetes args cannot hold NUL). Checks what callers rely on: a number
 * found is within the asked maximum; a word found is short enough and only
 * [a-z_-]; and the answer does not change when asked twice (the reader keeps
 * per-thread scratch state). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

#define MAX_ARGS 512

static const char *const uint_flags[] = {"--max-num-seqs", "--max-running-requests",
					 "--tensor-parallel-size", "--dp"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy, *argv[MAX_ARGS];
	size_t argc = 0, i = 0;

	if (size > 1 << 20)
		return 0;
	copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	while (i <= size && argc < MAX_ARGS) {
		argv[argc++] = copy + i;
		i += strlen(copy + i) + 1;
	}

	for (size_t f = 0; f < sizeof(uint_flags) / sizeof(uint_flags[0]); f++) {
		uint64_t max = f == 0 ? 1u << 24 : 1000, a = 0, b = 0;
		im_result ra = args_find_uint(argv, argc, uint_flags[f], max, &a);
		im_result rb = args_find_uint(argv, argc, uint_flags[f], max, &b);
		if (ra != rb || (ra == IM_OK && (a != b || a > max)))
			abort();
	}
	if (args_flag_contains(argv, argc, "--kv-transfer-config", "kv_producer") !=
	    args_flag_contains(argv, argc, "--kv-transfer-config", "kv_producer"))
		abort();
	{
		char word[16];
		memset(word, 'X', sizeof(word));
		if (args_find_word(argv, argc, "--disaggregation-mode", word, sizeof(word))) {
			size_t n = strnlen(word, sizeof(word));
			if (n == 0 || n >= sizeof(word))
				abort();
			for (size_t k = 0; k < n; k++)
				if (!((word[k] >= 'a' && word[k] <= 'z') || word[k] == '-' || word[k] == '_'))
					abort();
		}
	}
	free(copy);
	return 0;
}
