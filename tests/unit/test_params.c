/* tests/unit/test_params.c — parameter parsing against a schema (unknown key, wrong type, out of
 * range, enum, bool spellings, defaults, overrides) and schema checks. Schemas are built here.
 * Run: ctest --test-dir build -R test_params --output-on-failure */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "instance.h"
#include "check_run.h"

static const char *const modes[] = {"min", "max", NULL};

static const lhost_param schema[] = {
    {sizeof(lhost_param), LHOST_PARAM_STRING, "monitor", "what to watch", "val_loss", NULL, 0, 0,
     LHOST_PARAM_IDENTITY},
    {sizeof(lhost_param), LHOST_PARAM_ENUM, "mode", "min or max", "min", modes, 0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_INT, "patience", "epochs", "3", NULL, 0, 0,
     LHOST_PARAM_HAS_MIN},
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "min_delta", "delta", "0", NULL, 0, 1,
     LHOST_PARAM_HAS_MIN | LHOST_PARAM_HAS_MAX},
    {sizeof(lhost_param), LHOST_PARAM_BOOL, "verbose", "chatty", "false", NULL, 0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "threshold", "optional", NULL, NULL, 0, 0, 0},
};

static const lhost_plugin_desc desc = {sizeof(lhost_plugin_desc), LHOST_KIND_CALLBACK,
                                       "org.lhost.early_stopping", "early_stopping", "1.0.0",
                                       "test", schema, 6, 0, NULL};

/* Parse one key=value and return the error message ("" on success). */
static const char *parse1(const char *key, const char *value, lhost_param_values *pv)
{
    static lh_error err;
    lh_kv kv = {key, value, NULL};
    err.msg[0] = '\0';
    if (lh_params_parse(&desc, &kv, 1, pv, &err) == 0)
        return "";
    ck_assert_ptr_null(pv->values);
    return err.msg;
}

START_TEST(defaults)
{
    lhost_param_values pv;
    lh_error err;
    ck_assert_int_eq(lh_params_parse(&desc, NULL, 0, &pv, &err), 0);
    ck_assert_uint_eq(pv.count, 6);
    ck_assert_str_eq(lhost_param_string(&pv, "monitor", "?"), "val_loss");
    ck_assert_int_eq(lhost_param_int(&pv, "mode", -1), 0);
    ck_assert_str_eq(lhost_param_string(&pv, "mode", "?"), "min");
    ck_assert_int_eq(lhost_param_int(&pv, "patience", -1), 3);
    ck_assert_double_eq(lhost_param_float(&pv, "min_delta", -1), 0.0);
    ck_assert_int_eq(lhost_param_int(&pv, "verbose", -1), 0);
    ck_assert_int_eq(lhost_param_is_set(&pv, "threshold"), 0);
    ck_assert_int_eq(pv.values[2].from_user, 0);
    ck_assert_str_eq(pv.values[0].name, "monitor");
    lh_params_values_free(&pv);
}
END_TEST

START_TEST(user_values_and_overrides)
{
    const lh_kv kvs[] = {{"patience", "5", "x.yaml:3"}, {"mode", "max", NULL},
                         {"patience", "0x10", "command line"}, {"threshold", "-inf", NULL}};
    lhost_param_values pv;
    lh_error err;
    ck_assert_int_eq(lh_params_parse(&desc, kvs, 4, &pv, &err), 0);
    ck_assert_int_eq(lhost_param_int(&pv, "patience", -1), 16); /* the later one wins */
    ck_assert_double_eq(pv.values[2].f, 16.0);
    ck_assert_int_eq(pv.values[2].from_user, 1);
    ck_assert_int_eq(lhost_param_int(&pv, "mode", -1), 1);
    ck_assert(isinf(lhost_param_float(&pv, "threshold", 0)));
    lh_params_values_free(&pv);
}
END_TEST

START_TEST(unknown_key)
{
    lhost_param_values pv;
    ck_assert_str_eq(parse1("patiense", "3", &pv),
                     "plugin early_stopping: unknown parameter 'patiense' (known: monitor, mode, "
                     "patience, min_delta, verbose, threshold)");
}
END_TEST

START_TEST(enum_not_in_choices)
{
    lhost_param_values pv;
    ck_assert_str_eq(parse1("mode", "maz", &pv),
                     "plugin early_stopping: parameter 'mode': expected one of min, max; got \"maz\"");
    ck_assert_str_eq(parse1("mode", "MAX", &pv),
                     "plugin early_stopping: parameter 'mode': expected one of min, max; got \"MAX\"");
}
END_TEST

START_TEST(wrong_type)
{
    lhost_param_values pv;
    ck_assert_str_eq(parse1("patience", "three", &pv),
                     "plugin early_stopping: parameter 'patience': expected an integer >= 0; got "
                     "\"three\"");
    ck_assert_str_eq(parse1("patience", "2.5", &pv),
                     "plugin early_stopping: parameter 'patience': expected an integer >= 0; got "
                     "\"2.5\"");
    ck_assert_str_eq(parse1("patience", "", &pv),
                     "plugin early_stopping: parameter 'patience': expected an integer >= 0; got "
                     "\"\"");
    ck_assert_str_eq(parse1("min_delta", "0.1x", &pv),
                     "plugin early_stopping: parameter 'min_delta': expected a number in [0, 1]; "
                     "got \"0.1x\"");
    ck_assert_str_eq(parse1("patience", "99999999999999999999", &pv),
                     "plugin early_stopping: parameter 'patience': expected an integer >= 0; got "
                     "\"99999999999999999999\"");
}
END_TEST

START_TEST(out_of_range)
{
    lhost_param_values pv;
    ck_assert_str_eq(parse1("patience", "-1", &pv),
                     "plugin early_stopping: parameter 'patience': expected an integer >= 0; got "
                     "\"-1\"");
    ck_assert_str_eq(parse1("min_delta", "1.5", &pv),
                     "plugin early_stopping: parameter 'min_delta': expected a number in [0, 1]; "
                     "got \"1.5\"");
    ck_assert_str_eq(parse1("min_delta", "nan", &pv),
                     "plugin early_stopping: parameter 'min_delta': expected a number in [0, 1]; "
                     "got \"nan\"");
    ck_assert_str_eq(parse1("min_delta", "1", &pv), "");
    lh_params_values_free(&pv);
}
END_TEST

START_TEST(bool_spellings)
{
    static const char *const yes[] = {"true", "True", "yes", "on", "1", "YES"};
    static const char *const no[] = {"false", "no", "off", "0", "FALSE"};
    lhost_param_values pv;
    size_t k;
    for (k = 0; k < sizeof yes / sizeof yes[0]; k++) {
        ck_assert_str_eq(parse1("verbose", yes[k], &pv), "");
        ck_assert_int_eq(lhost_param_int(&pv, "verbose", -1), 1);
        lh_params_values_free(&pv);
    }
    for (k = 0; k < sizeof no / sizeof no[0]; k++) {
        ck_assert_str_eq(parse1("verbose", no[k], &pv), "");
        ck_assert_int_eq(lhost_param_int(&pv, "verbose", -1), 0);
        lh_params_values_free(&pv);
    }
    ck_assert_str_eq(parse1("verbose", "maybe", &pv),
                     "plugin early_stopping: parameter 'verbose': expected a boolean (true/false, "
                     "yes/no, on/off, 1/0); got \"maybe\"");
}
END_TEST

START_TEST(where_prefixes_the_message)
{
    lh_kv kv = {"mode", "maz", "examples/x.yaml:12"};
    lhost_param_values pv;
    lh_error err;
    ck_assert_int_eq(lh_params_parse(&desc, &kv, 1, &pv, &err), -1);
    ck_assert_str_eq(err.msg, "examples/x.yaml:12: plugin early_stopping: parameter 'mode': "
                              "expected one of min, max; got \"maz\"");
}
END_TEST

START_TEST(required_parameter)
{
    static const lhost_param req[] = {{sizeof(lhost_param), LHOST_PARAM_STRING, "monitor", "m",
                                       NULL, NULL, 0, 0, LHOST_PARAM_REQUIRED}};
    lhost_plugin_desc d = desc;
    lhost_param_values pv;
    lh_kv kv = {"monitor", "val_acc", NULL};
    lh_error err;
    d.params = req;
    d.n_params = 1;
    ck_assert_int_eq(lh_params_check_schema(&d, &err), 0);
    ck_assert_int_eq(lh_params_parse(&d, NULL, 0, &pv, &err), -1);
    ck_assert_str_eq(err.msg, "plugin early_stopping: parameter 'monitor': required but not given");
    ck_assert_int_eq(lh_params_parse(&d, &kv, 1, &pv, &err), 0);
    ck_assert_str_eq(pv.values[0].s, "val_acc");
    lh_params_values_free(&pv);
}
END_TEST

START_TEST(schema_checks)
{
    lhost_param bad[2];
    lhost_plugin_desc d = desc;
    lh_error err;
    d.params = bad;
    d.n_params = 1;
    ck_assert_int_eq(lh_params_check_schema(&desc, &err), 0);
    bad[0] = schema[1];
    bad[0].default_value = "median";
    ck_assert_int_eq(lh_params_check_schema(&d, &err), -1);
    ck_assert_str_eq(err.msg, "plugin early_stopping: parameter 'mode': default: expected one of "
                              "min, max; got \"median\"");
    bad[0] = schema[2];
    bad[0].name = "Patience";
    ck_assert_int_eq(lh_params_check_schema(&d, &err), -1);
    ck_assert_str_eq(err.msg, "plugin early_stopping: parameter 0: name 'Patience' is not [a-z0-9_]+");
    bad[0] = schema[1];
    bad[0].choices = NULL;
    ck_assert_int_eq(lh_params_check_schema(&d, &err), -1);
    ck_assert_str_eq(err.msg, "plugin early_stopping: parameter 'mode': enum without choices");
    bad[0] = schema[2];
    bad[1] = schema[2];
    d.n_params = 2;
    ck_assert_int_eq(lh_params_check_schema(&d, &err), -1);
    ck_assert_str_eq(err.msg, "plugin early_stopping: parameter 'patience': declared twice");
    d.n_params = 1;
    bad[0].type = 9;
    ck_assert_int_eq(lh_params_check_schema(&d, &err), -1);
    ck_assert_str_eq(err.msg, "plugin early_stopping: parameter 'patience': unknown type 9");
}
END_TEST

START_TEST(canonical_value_text)
{
    const lh_kv kvs[] = {{"patience", "0x10", NULL}, {"min_delta", "0.1", NULL},
                         {"verbose", "yes", NULL}};
    lhost_param_values pv;
    lh_error err;
    char buf[64];
    ck_assert_int_eq(lh_params_parse(&desc, kvs, 3, &pv, &err), 0);
    lh_params_format_value(&pv.values[2], buf, sizeof buf);
    ck_assert_str_eq(buf, "16");
    lh_params_format_value(&pv.values[3], buf, sizeof buf);
    ck_assert_str_eq(buf, "0.1");
    lh_params_format_value(&pv.values[4], buf, sizeof buf);
    ck_assert_str_eq(buf, "true");
    lh_params_format_value(&pv.values[5], buf, sizeof buf);
    ck_assert_str_eq(buf, "None");
    lh_params_values_free(&pv);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("params");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, user_values_and_overrides);
    tcase_add_test(tc, unknown_key);
    tcase_add_test(tc, enum_not_in_choices);
    tcase_add_test(tc, wrong_type);
    tcase_add_test(tc, out_of_range);
    tcase_add_test(tc, bool_spellings);
    tcase_add_test(tc, where_prefixes_the_message);
    tcase_add_test(tc, required_parameter);
    tcase_add_test(tc, schema_checks);
    tcase_add_test(tc, canonical_value_text);
    suite_add_tcase(s, tc);
    return check_run(s);
}
