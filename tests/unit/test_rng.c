/* tests/unit/test_rng.c — PCG32 against the reference pcg32-demo output (seed 42, stream 54).
 * Run: ctest --test-dir build -R test_rng --output-on-failure */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "check_run.h"

/* Round 1 of pcg32-demo (pcg-c-basic) seeded with pcg32_srandom_r(&rng, 42, 54): six raw draws,
 * then 65 coin flips (bounded 2), 33 dice rolls (bounded 6 + 1), then a 52-card shuffle. */
static const uint32_t demo_raw[6] = {0xa15c02b7u, 0x7b47f409u, 0xba1d3330u,
                                     0x83d2f293u, 0xbfa4784bu, 0xcbed606eu};
static const char demo_coins[] = "HHTTTHTHHHTHTTTHHHHHTTTHHHTHTHTHTTHTTTHHHHHHTTTTHHTTTTTHTTTTTTTHT";
static const int demo_rolls[33] = {3, 4, 1, 1, 2, 2, 3, 2, 4, 3, 2, 4, 3, 3, 5, 2, 3,
                                   1, 3, 1, 5, 1, 4, 1, 5, 6, 4, 6, 6, 2, 6, 3, 3};
static const char demo_cards[] = "Qd Ks 6d 3s 3d 4c 3h Td Kc 5c Jh Kd Jd As 4s 4h Ad Th Ac Jc 7s Qs "
                                 "2s 7h Kh 2d 6c Ah 4d Qh 9h 6s 5s 2c 9c Ts 8d 9s 3c 8c Js 5d 2h 6h "
                                 "7d 8s 9d 5h 8h Qc 7c Tc";

START_TEST(test_reference_demo)
{
    lh_rng r;
    lh_rng_seed(&r, 42, 54);
    for (int i = 0; i < 6; i++)
        ck_assert_msg(lh_rng_next(&r) == demo_raw[i], "raw draw %d differs from pcg32-demo", i);

    char coins[66] = {0};
    for (int i = 0; i < 65; i++)
        coins[i] = lh_rng_bounded(&r, 2) ? 'H' : 'T';
    ck_assert_str_eq(coins, demo_coins);

    for (int i = 0; i < 33; i++)
        ck_assert_int_eq((int)lh_rng_bounded(&r, 6) + 1, demo_rolls[i]);

    int32_t deck[52];
    for (int i = 0; i < 52; i++)
        deck[i] = i;
    lh_rng_shuffle(&r, deck, 52);
    /* The demo prints the deck in order, rank then suit (hcds). */
    char cards[52 * 3] = {0};
    for (int i = 0; i < 52; i++) {
        int32_t c = deck[i];
        cards[i * 3] = "A23456789TJQK"[c / 4];
        cards[i * 3 + 1] = "hcds"[c % 4];
        cards[i * 3 + 2] = i == 51 ? '\0' : ' ';
    }
    ck_assert_str_eq(cards, demo_cards);
}
END_TEST

START_TEST(test_shuffle_is_deterministic_permutation)
{
    enum { N = 1000 };
    int32_t a[N], b[N];
    int seen[N] = {0};
    for (int i = 0; i < N; i++)
        a[i] = b[i] = i;
    lh_rng ra, rb;
    lh_rng_seed(&ra, 7, 3);
    lh_rng_seed(&rb, 7, 3);
    lh_rng_shuffle(&ra, a, N);
    lh_rng_shuffle(&rb, b, N);
    ck_assert_mem_eq(a, b, sizeof a);
    int moved = 0;
    for (int i = 0; i < N; i++) {
        ck_assert_int_ge(a[i], 0);
        ck_assert_int_lt(a[i], N);
        seen[a[i]]++;
        moved += a[i] != i;
    }
    for (int i = 0; i < N; i++)
        ck_assert_msg(seen[i] == 1, "value %d appears %d times", i, seen[i]);
    ck_assert_int_gt(moved, N / 2);
    /* Both generators consumed the same draws. */
    ck_assert_mem_eq(&ra, &rb, sizeof ra);

    /* A different seed gives a different order. */
    int32_t c[N];
    for (int i = 0; i < N; i++)
        c[i] = i;
    lh_rng_seed(&rb, 8, 3);
    lh_rng_shuffle(&rb, c, N);
    ck_assert_int_ne(memcmp(a, c, sizeof a), 0);
}
END_TEST

START_TEST(test_state_is_checkpointable)
{
    lh_rng r, saved;
    lh_rng_seed(&r, 123, 1);
    for (int i = 0; i < 17; i++)
        lh_rng_next(&r);
    saved = r; /* a checkpoint is the two words */
    uint32_t want[8];
    for (int i = 0; i < 8; i++)
        want[i] = lh_rng_next(&r);
    for (int i = 0; i < 8; i++)
        ck_assert_uint_eq(lh_rng_next(&saved), want[i]);
}
END_TEST

START_TEST(test_uniform_and_bounded_ranges)
{
    lh_rng r;
    lh_rng_seed(&r, 1, 1);
    double sum = 0;
    int counts[10] = {0};
    for (int i = 0; i < 20000; i++) {
        double u = lh_rng_uniform(&r);
        ck_assert(u >= 0.0 && u < 1.0);
        sum += u;
        uint32_t k = lh_rng_bounded(&r, 10);
        ck_assert_uint_lt(k, 10);
        counts[k]++;
    }
    ck_assert_double_eq_tol(sum / 20000, 0.5, 0.02);
    for (int k = 0; k < 10; k++)
        ck_assert_int_gt(counts[k], 1700); /* expected 2000 each */
    ck_assert_uint_eq(lh_rng_bounded(&r, 1), 0);
    ck_assert_uint_eq(lh_rng_bounded(&r, 0), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rng");
    TCase *tc = tcase_create("pcg32");
    tcase_add_test(tc, test_reference_demo);
    tcase_add_test(tc, test_shuffle_is_deterministic_permutation);
    tcase_add_test(tc, test_state_is_checkpointable);
    tcase_add_test(tc, test_uniform_and_bounded_ranges);
    suite_add_tcase(s, tc);
    return check_run(s);
}
