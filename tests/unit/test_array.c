/* tests/unit/test_array.c — lh_array_grow: first capacity, doubling, and no move while there is
 * room. Run: ctest --test-dir build -R test_array --output-on-failure */
#include <check.h>
#include <stdlib.h>

#include "array.h"
#include "check_run.h"

START_TEST(test_grows_by_doubling)
{
    int64_t *a = NULL;
    int32_t n, cap = 0, want = 4;
    for (n = 0; n < 100; n++) {
        int64_t *b = lh_array_grow(a, n, &cap, 4, sizeof *b);
        ck_assert_ptr_nonnull(b);
        a = b;
        a[n] = n * 3;
        /* 4, 8, 16, ...: the smallest such capacity above n */
        if (n == want)
            want *= 2;
        ck_assert_int_eq(cap, want);
    }
    for (n = 0; n < 100; n++)
        ck_assert_int_eq(a[n], n * 3);
    free(a);
}
END_TEST

START_TEST(test_room_left_keeps_the_array)
{
    int32_t cap = 0;
    char *a = lh_array_grow(NULL, 0, &cap, 16, 1);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(cap, 16);
    ck_assert_ptr_eq(lh_array_grow(a, 15, &cap, 16, 1), a);
    ck_assert_int_eq(cap, 16);
    free(a);
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {
        test_grows_by_doubling,
        test_room_left_keeps_the_array,
        NULL,
    };
    return check_main("array", 0, NULL, NULL, tests);
}
