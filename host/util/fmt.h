/* host/util/fmt.h — numbers as text for people: the shortest form that reads back exactly.
 *
 * printf's %.17g keeps a double exact but shows 0.9186 as 0.91859999999999997; %g loses digits.
 * lh_fmt_double tries %.1g, %.2g, ... %.17g and keeps the first that strtod turns back into the
 * same double (what Python's repr and JavaScript print); lh_fmt_float does the same for a float
 * (at most %.9g), so a float32 metric shows as 0.9186 and not 0.918600023. Non-finite values
 * print as nan, inf and -inf. Every place lhost shows a value to a person uses these. */
#ifndef LH_FMT_H
#define LH_FMT_H

#include <stddef.h>

/* Room for any result, terminator included ("-2.2250738585072014e-308"). */
#define LH_FMT_CAP 32

/* Write the shortest round-trip text of `v` into buf (cap >= LH_FMT_CAP is always enough; less
 * truncates as snprintf does). Returns buf, so a call can be a printf argument. */
char *lh_fmt_double(char *buf, size_t cap, double v);
char *lh_fmt_float(char *buf, size_t cap, float v);
/* A logged value (a double that often holds a float32 result, such as a loss): as a float when
 * it is exactly one, so 0.2345f shows as 0.2345, else as a double. */
char *lh_fmt_value(char *buf, size_t cap, double v);

#endif
