/* tests/unit/test_strmap.c — lh_strmap: copies kept in put order, find, growth past the first
 * capacity, free leaving it empty. Run: ctest --test-dir build -R test_strmap --output-on-failure */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "check_run.h"
#include "strmap.h"

START_TEST(test_put_find_in_order)
{
    lh_strmap m = {0};
    char key[16], value[16];
    int32_t i;
    for (i = 0; i < 40; i++) {
        snprintf(key, sizeof key, "k%d", (int)i);
        snprintf(value, sizeof value, "v%d", (int)(i * 7));
        ck_assert_int_eq(lh_strmap_put(&m, key, value), 0);
    }
    key[0] = 'x'; /* the map keeps its own copies */
    ck_assert_int_eq(m.n, 40);
    ck_assert_str_eq(m.items[0].key, "k0");
    ck_assert_str_eq(m.items[39].value, "v273");
    ck_assert_int_eq(lh_strmap_find(&m, "k17"), 17);
    ck_assert_str_eq(m.items[lh_strmap_find(&m, "k17")].value, "v119");
    ck_assert_int_eq(lh_strmap_find(&m, "k40"), -1);
    lh_strmap_free(&m);
    ck_assert_int_eq(m.n, 0);
    ck_assert_ptr_null(m.items);
    ck_assert_int_eq(lh_strmap_find(&m, "k0"), -1);
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {
        test_put_find_in_order,
        NULL,
    };
    return check_main("strmap", 0, NULL, NULL, tests);
}
