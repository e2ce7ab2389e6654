/* tests/unit/test_fmt.c — host/util/fmt.c: the shortest text that reads back as the same double
 * or float. Run: ctest --test-dir build -R test_fmt --output-on-failure */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "fmt.h"

START_TEST(test_double_examples)
{
    char b[LH_FMT_CAP];
    ck_assert_str_eq(lh_fmt_double(b, sizeof b, 0.9186), "0.9186");
    ck_assert_str_eq(lh_fmt_double(b, sizeof b, 0.1 + 0.2), "0.30000000000000004");
    ck_assert_str_eq(lh_fmt_double(b, sizeof b, 1.0), "1");
    ck_assert_str_eq(lh_fmt_double(b, sizeof b, -2.5e-300), "-2.5e-300");
    ck_assert_str_eq(lh_fmt_double(b, sizeof b, 1e21), "1e+21");
    ck_assert_str_eq(lh_fmt_double(b, sizeof b, NAN), "nan");
    ck_assert_str_eq(lh_fmt_double(b, sizeof b, -INFINITY), "-inf");
    ck_assert_str_eq(lh_fmt_double(b, sizeof b, 5e-324), "5e-324");
}
END_TEST

START_TEST(test_float_examples)
{
    char b[LH_FMT_CAP];
    ck_assert_str_eq(lh_fmt_float(b, sizeof b, 0.9186f), "0.9186");
    ck_assert_str_eq(lh_fmt_float(b, sizeof b, 0.1f), "0.1");
    ck_assert_str_eq(lh_fmt_float(b, sizeof b, 16777217.0f), "16777216");
    /* a float32 result stored in a double prints as the float it is */
    ck_assert_str_eq(lh_fmt_value(b, sizeof b, (double)0.2345f), "0.2345");
    ck_assert_str_eq(lh_fmt_value(b, sizeof b, 0.2345), "0.2345");
    ck_assert_str_eq(lh_fmt_value(b, sizeof b, 1e300), "1e+300");
}
END_TEST

/* Round trip and minimality over many bit patterns: the text reads back exactly, and one digit
 * fewer would not. */
START_TEST(test_round_trip_random)
{
    uint64_t s = 88172645463325252ull;
    char b[LH_FMT_CAP], shorter[400];
    for (int i = 0; i < 20000; i++) {
        uint64_t bits;
        double d;
        float f;
        uint32_t fb;
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        bits = s;
        memcpy(&d, &bits, sizeof d);
        fb = (uint32_t)(s >> 11);
        memcpy(&f, &fb, sizeof f);
        if (isfinite(d)) {
            lh_fmt_double(b, sizeof b, d);
            ck_assert_msg(strtod(b, NULL) == d, "%s does not read back as %.17g", b, d);
            int digits = 0, lead = 1; /* significant digits: leading zeros do not count */
            for (const char *c = b; *c && *c != 'e'; c++) {
                lead = lead && (*c == '0' || *c == '.' || *c == '-');
                digits += !lead && *c >= '0' && *c <= '9';
            }
            if (digits > 1) {
                snprintf(shorter, sizeof shorter, "%.*g", digits - 1, d);
                ck_assert_msg(strtod(shorter, NULL) != d, "%s is shorter than %s", shorter, b);
            }
        }
        if (isfinite(f)) {
            lh_fmt_float(b, sizeof b, f);
            ck_assert_msg(strtof(b, NULL) == f, "%s does not read back as %.9g", b, (double)f);
            ck_assert_msg(strlen(b) <= 16, "%s is too long for a float", b);
        }
    }
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {test_double_examples, test_float_examples,
                                         test_round_trip_random, NULL};
    return check_main("fmt", 30, NULL, NULL, tests);
}
