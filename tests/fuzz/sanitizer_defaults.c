/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sanitizer_defaults.c - linked into every fuzz target: the sanitizer
 * settings a target needs, built in, so that `build/fuzz/fuzz_NAME` run
 * plainly (no ASAN_OPTIONS/LSAN_OPTIONS) behaves as in CI.
 *
 * The one idea: LeakSanitizer asks the program for default suppressions
 * before it reads LSAN_OPTIONS, so the binary carries tests/lsan.supp itself
 * (the Makefile turns that file into lsan_supp.inc, one string per line).
 * Without it, the first record that reaches Pango stops the fuzzer on
 * fontconfig's one-time cache. The list stays in one place, and suppressions
 * given in LSAN_OPTIONS still apply on top of it.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_options(void);
const char *__ubsan_default_options(void);

const char *__lsan_default_suppressions(void)
{
	return ""
#include "lsan_supp.inc"
		;
}

/* libFuzzer checks for leaks after many inputs: print no table of the
 * suppressions used each time (as .ci/run's LSAN_OPTIONS). */
const char *__lsan_default_options(void)
{
	return "print_suppressions=0";
}

/* A UBSan report without a stack is hard to act on. */
const char *__ubsan_default_options(void)
{
	return "print_stacktrace=1";
}
