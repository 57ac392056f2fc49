/* SPDX-License-Identifier: Apache-2.0 */
/*
 * clock.h - the one way Smile reads the time.
 *
 * Wall-clock time is for timestamps that leave the process (scan times, log
 * lines, database rows); monotonic time is for intervals and timeouts, which
 * must not jump when the wall clock is stepped.
 */
#ifndef SMILE_CLOCK_H
#define SMILE_CLOCK_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Wall-clock time (CLOCK_REALTIME): milliseconds since 1970-01-01 UTC. */
int64_t smile_clock_ms(void);
/* Monotonic time (CLOCK_MONOTONIC), for intervals only: milliseconds and
 * nanoseconds since an arbitrary fixed point. */
int64_t smile_mono_ms(void);
int64_t smile_mono_ns(void);

#ifdef __cplusplus
}
#endif
#endif
