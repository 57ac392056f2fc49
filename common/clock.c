/* SPDX-License-Identifier: Apache-2.0 */
/*
 * clock.c - wall-clock and monotonic time in integer units.
 *
 * Replaces the private "now" helpers each part used to carry. clock_gettime
 * cannot fail for these two clocks on the systems Smile supports (Linux,
 * valid clock ids, a valid pointer), so the functions return plain values.
 */
#include "smile/clock.h"

#include <time.h>

int64_t smile_clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t smile_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t smile_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
