/* SPDX-License-Identifier: Apache-2.0 */
/*
 * banned.h - C library functions Smile code must not call.
 *
 * Build-internal, never installed: the Makefile force-includes it
 * (`-include common/banned.h`) into every C file it compiles, the C99 device
 * core, tests, tools and the fuzz build included. A banned call then fails to
 * compile with an error that names the function:
 *
 *     error: 'sorry_strcpy_is_a_banned_function' undeclared
 *
 * Why each is banned, and what to use instead:
 *   strcpy, strcat, sprintf, vsprintf, gets: no bound on the destination;
 *       use snprintf (or memcpy with a length you checked), or struct smile_buf.
 *   strncpy, strncat: silently truncate, and strncpy leaves no NUL; use
 *       snprintf and check its result.
 *   strtok: hidden static state, not thread-safe (the gateway is threaded);
 *       use strtok_r or walk the string.
 *   atoi, atol, atoll, atof: no error report, undefined on overflow; use
 *       strtol/strtoul/strtod with an end pointer and range checks.
 *   gmtime, localtime, ctime, asctime: return a shared static buffer; use
 *       gmtime_r (localtime also makes output depend on the host's TZ).
 *   mktemp, tmpnam, tempnam: the name can be taken between check and use;
 *       use mkstemp or mkdtemp.
 *
 * The macros are function-like, so only calls are caught. Force-included
 * first, a macro would also rewrite the C library's own declarations of these
 * functions in <string.h> & co. and break them; so the headers that declare
 * them are included here, before the macros (their include guards keep later
 * includes from seeing the macros). The feature macros (-D_GNU_SOURCE) come
 * from the command line, so they are set before these includes.
 */
#ifndef SMILE_BANNED_H
#define SMILE_BANNED_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SMILE_BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(...) SMILE_BANNED(strcpy)
#undef strcat
#define strcat(...) SMILE_BANNED(strcat)
#undef strncpy
#define strncpy(...) SMILE_BANNED(strncpy)
#undef strncat
#define strncat(...) SMILE_BANNED(strncat)
#undef sprintf
#define sprintf(...) SMILE_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) SMILE_BANNED(vsprintf)
#undef gets
#define gets(...) SMILE_BANNED(gets)
#undef strtok
#define strtok(...) SMILE_BANNED(strtok)
#undef atoi
#define atoi(...) SMILE_BANNED(atoi)
#undef atol
#define atol(...) SMILE_BANNED(atol)
#undef atoll
#define atoll(...) SMILE_BANNED(atoll)
#undef atof
#define atof(...) SMILE_BANNED(atof)
#undef gmtime
#define gmtime(...) SMILE_BANNED(gmtime)
#undef localtime
#define localtime(...) SMILE_BANNED(localtime)
#undef ctime
#define ctime(...) SMILE_BANNED(ctime)
#undef asctime
#define asctime(...) SMILE_BANNED(asctime)
#undef mktemp
#define mktemp(...) SMILE_BANNED(mktemp)
#undef tmpnam
#define tmpnam(...) SMILE_BANNED(tmpnam)
#undef tempnam
#define tempnam(...) SMILE_BANNED(tempnam)

#endif
