/* clock.h: milliseconds, monotonic (for timers) and wall-clock (for what people read). */
#ifndef TR_CLOCK_H
#define TR_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t tr_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline uint64_t tr_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#endif
