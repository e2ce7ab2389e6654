/* host/util/fmt.c — the shortest round-trip text of a double or a float (see fmt.h). */
#include "fmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* The finite value of `v` as %.{p}g for the smallest p that reads back as `v`: as a double
 * (max 17 digits) or, when `as_float`, as a float (max 9 digits, the float's own guarantee). */
static char *shortest(char *buf, size_t cap, double v, int as_float)
{
    char tmp[LH_FMT_CAP];
    int p, max = as_float ? 9 : 17;
    if (isnan(v))
        return snprintf(buf, cap, "nan"), buf;
    if (isinf(v))
        return snprintf(buf, cap, v < 0 ? "-inf" : "inf"), buf;
    for (p = 1; p < max; p++) {
        snprintf(tmp, sizeof tmp, "%.*g", p, v);
        if (as_float ? strtof(tmp, NULL) == (float)v : strtod(tmp, NULL) == v)
            break;
    }
    snprintf(tmp, sizeof tmp, "%.*g", p, v);
    snprintf(buf, cap, "%s", tmp);
    return buf;
}

char *lh_fmt_double(char *buf, size_t cap, double v)
{
    return shortest(buf, cap, v, 0);
}

char *lh_fmt_float(char *buf, size_t cap, float v)
{
    return shortest(buf, cap, (double)v, 1);
}

char *lh_fmt_value(char *buf, size_t cap, double v)
{
    if (isfinite(v) && fabs(v) <= 3.4e38 && (double)(float)v == v)
        return lh_fmt_float(buf, cap, (float)v);
    return lh_fmt_double(buf, cap, v);
}
