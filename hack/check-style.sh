#!/usr/bin/env bash
# Checks what the compiler does not: no banned functions anywhere in C
# sources (banned.h stops them in lib/ and cmd/, this also covers test/),
# and every lib/ and cmd/ source formatted per .clang-format when
# clang-format is installed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
status=0
banned='\b(strcpy|strcat|strncpy|sprintf|vsprintf|atoi|atol|sscanf|strtok|gets)[[:space:]]*\('
if grep -nE "$banned" $(git ls-files 'lib/*.c' 'cmd/*.c' 'test/*.c' 'test/**/*.c') | grep -v 'banned.h'; then
	echo "check-style: banned functions above (see lib/banned.h)" >&2
	status=1
fi
if command -v clang-format >/dev/null; then
	for f in $(git ls-files 'lib/*.[ch]' 'cmd/*.[ch]'); do
		if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
			echo "check-style: $f is not formatted (clang-format -i $f)" >&2
			status=1
		fi
	done
fi
exit $status
