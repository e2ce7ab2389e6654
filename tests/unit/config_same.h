/* tests/unit/config_same.h — expect two config trees to be the same (header-only): what a
 * YAML round trip (lh_config_to_yaml, --print_config) must keep. */
#ifndef LH_TEST_CONFIG_SAME_H
#define LH_TEST_CONFIG_SAME_H

#include <check.h>
#include <string.h>

#include "config.h"

/* Two trees hold the same keys in the same order, the same scalar texts and the same nulls. */
static void expect_same_tree(const lh_config_node *a, const lh_config_node *b)
{
    ck_assert_msg(lh_config_type(a) == lh_config_type(b), "%s: type %d vs %d", lh_config_path(a),
                  lh_config_type(a), lh_config_type(b));
    ck_assert_msg(lh_config_len(a) == lh_config_len(b), "%s: %d vs %d entries",
                  lh_config_path(a), (int)lh_config_len(a), (int)lh_config_len(b));
    if (lh_config_type(a) == LH_CFG_SCALAR) {
        ck_assert_msg(lh_config_is_null(a) == lh_config_is_null(b), "%s: null %d vs %d",
                      lh_config_path(a), lh_config_is_null(a), lh_config_is_null(b));
        ck_assert_msg(strcmp(lh_config_scalar(a), lh_config_scalar(b)) == 0,
                      "%s: \"%s\" vs \"%s\"", lh_config_path(a), lh_config_scalar(a),
                      lh_config_scalar(b));
        return;
    }
    for (int32_t i = 0; i < lh_config_len(a); i++) {
        if (lh_config_type(a) == LH_CFG_MAP)
            ck_assert_msg(strcmp(lh_config_key_at(a, i), lh_config_key_at(b, i)) == 0,
                          "%s: key %d \"%s\" vs \"%s\"", lh_config_path(a), (int)i,
                          lh_config_key_at(a, i), lh_config_key_at(b, i));
        expect_same_tree(lh_config_at(a, i), lh_config_at(b, i));
    }
}

#endif
