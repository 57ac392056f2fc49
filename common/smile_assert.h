/* SPDX-License-Identifier: Apache-2.0 */
/*
 * smile_assert.h - SMILE_ASSERT(cond): invariants checked where it is cheap.
 *
 * Like curl's DEBUGASSERT. In a build with SMILE_DEBUG defined (the Makefile
 * defines it for every `make SANITIZE=...` build, so CI's sanitizer run and
 * the fuzz build check them), a false condition prints
 *
 *     FILE:LINE: FUNCTION: assertion failed: EXPRESSION
 *
 * on stderr and aborts. Otherwise it compiles to nothing, but the condition
 * is still parsed and type-checked (inside sizeof, so it is never evaluated):
 * an assertion cannot rot in the release build, and must not have side
 * effects. The message is the source text of the expression, never a value,
 * so it cannot carry personal data.
 *
 * For invariants only: what a caller or an input can get wrong is an error
 * return (`enum smile_err`), never an assertion.
 *
 * Build-internal and never installed (include it by relative path,
 * "../common/smile_assert.h"): whether a library aborts on a broken
 * invariant is a property of how Smile was built, not a contract for programs
 * that link the installed libraries. It needs nothing but the C library, so
 * the C99, heap-free device core may use it too.
 */
#ifndef SMILE_ASSERT_H
#define SMILE_ASSERT_H

#ifdef SMILE_DEBUG
#include <stdio.h>
#include <stdlib.h>
#define SMILE_ASSERT(cond)                                                                 \
	((cond) ? (void)0                                                                  \
		: (fprintf(stderr, "%s:%d: %s: assertion failed: %s\n", __FILE__, __LINE__, \
			   __func__, #cond),                                                \
		   abort()))
#else
#define SMILE_ASSERT(cond) ((void)sizeof(!(cond)))
#endif

#endif
