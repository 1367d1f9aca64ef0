/*
 * clock: the server's notion of "now".
 *
 * memcached keeps a coarse clock that ticks once a second and compares item
 * expiry against it; clients see that granularity (a TTL of 1 may expire at
 * once). We copy it: clock_now() returns whole Unix seconds cached by
 * clock_tick(), which the main thread calls from a timer. Reading it is one
 * relaxed atomic load, cheap enough for every request.
 *
 * Tests can freeze time with clock_set() to check expiry without sleeping.
 */
#ifndef TANDEM_CORE_CLOCK_H
#define TANDEM_CORE_CLOCK_H

#include <stdint.h>

/* Seconds since the epoch, refreshed by clock_tick(). */
uint32_t clock_now(void);

/* Milliseconds since the epoch, read from the coarse real-time clock. */
uint64_t clock_now_ms(void);

/* Refresh the cached seconds from the system clock, unless frozen. */
void clock_tick(void);

/* Freeze the clock at `now` (0 unfreezes it and re-reads the system clock). */
void clock_set(uint32_t now);

/* The time the process started, as memcached reports it (real start - 2 s). */
uint32_t clock_started(void);

#endif
