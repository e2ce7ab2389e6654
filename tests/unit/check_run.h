/* tests/unit/check_run.h — run a Check suite and turn its result into the exit status CTest
 * reads (header-only). Each test runs in its own process (CK_FORK, Check's default). */
#ifndef LH_TEST_CHECK_RUN_H
#define LH_TEST_CHECK_RUN_H

#include <check.h>
#include <stdlib.h>

static int check_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* A whole test program of one test case: `tests` (NULL-terminated, each in its own process),
 * `timeout` seconds each (0: Check's default of 4), `setup`/`teardown` around each test (both
 * NULL: none). Returns check_run's status for main to return. */
static inline int check_main(const char *suite, int timeout, void (*setup)(void),
                             void (*teardown)(void), const TTest *const *tests)
{
    Suite *s = suite_create(suite);
    TCase *tc = tcase_create(suite);
    if (setup || teardown)
        tcase_add_checked_fixture(tc, setup, teardown);
    if (timeout)
        tcase_set_timeout(tc, timeout);
    for (; *tests; tests++)
        tcase_add_test(tc, *tests);
    suite_add_tcase(s, tc);
    return check_run(s);
}

#endif
