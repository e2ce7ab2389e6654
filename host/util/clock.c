/* host/util/clock.c — the monotonic clock behind every timing the host prints. */
#include "clock.h"

#include <time.h>

double lh_clock_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}
