/* plugins/common/fmt.h — the shortest text of a double that reads back exactly (0.9186, not
 * %.17g's 0.91859999999999997 nor %g's lost digits), for the reference plugins' messages: what
 * Lightning's Python prints. The host's twin is host/util/fmt.c; plugins build against the SDK
 * alone, so they carry their own copy of these few lines.
 *
 * Header-only (static inline), private to the reference plugins. */
#ifndef LHP_FMT_H
#define LHP_FMT_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define LHP_FMT_CAP 32

/* The first %.{1..17}g of `v` that strtod reads back as `v`; nan, inf, -inf. Returns buf. */
static inline char *lhp_fmt_double(char buf[LHP_FMT_CAP], double v)
{
    int p;
    if (isnan(v) || isinf(v)) {
        snprintf(buf, LHP_FMT_CAP, "%s", isnan(v) ? "nan" : v < 0 ? "-inf" : "inf");
        return buf;
    }
    for (p = 1; p < 17; p++) {
        snprintf(buf, LHP_FMT_CAP, "%.*g", p, v);
        if (strtod(buf, NULL) == v)
            return buf;
    }
    snprintf(buf, LHP_FMT_CAP, "%.17g", v);
    return buf;
}

#endif
