/* host/util/clock.h — the one clock the host times things with (seconds, monotonic). */
#ifndef LH_CLOCK_H
#define LH_CLOCK_H

/* Seconds since an arbitrary fixed point (CLOCK_MONOTONIC): only differences mean anything. */
double lh_clock_now(void);

#endif
