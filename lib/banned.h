/*
 * banned.h - functions infermon does not use.
 *
 * Parsers work on (pointer, length) views with explicit caps (strparse.h);
 * strings are built with struct buf. CMake force-includes it (-include)
 * before anything else in every lib/ and cmd/ source file, so a use of these
 * is a compile error; hack/check-style.sh greps test/ for them too.
 */
#ifndef INFERMON_BANNED_H
#define INFERMON_BANNED_H

/* The system headers first: with optimisation glibc defines some of these as
 * inline functions, which the macros below must not rewrite. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BANNED(func) sorry_##func##_is_banned_in_infermon

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef atoi
#define atoi(x) BANNED(atoi)
#undef atol
#define atol(x) BANNED(atol)
#undef sscanf
#define sscanf(...) BANNED(sscanf)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef gets
#define gets(x) BANNED(gets)

#endif
