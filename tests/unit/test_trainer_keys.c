/* tests/unit/test_trainer_keys.c — the table of config keys (host/train/trainer_keys.c) is what
 * lh_trainer_opts_from_cfg reads: an empty config gives every default the table states, each
 * key's range is enforced at both ends, unknown keys are named, and the table is well formed.
 * Run: ctest --test-dir build -R test_trainer_keys --output-on-failure */
#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "trainer.h"
#include "trainer_keys.h"

/* lh_trainer_opts_from_cfg on `yaml`; returns its status, the message in err. */
static int opts_of(const char *yaml, lh_trainer_opts *o, lh_error *err)
{
    lh_config *cfg;
    int rc;
    ck_assert_msg(lh_config_load_string(&cfg, "k.yaml", yaml, err) == 0, "%s", err->msg);
    rc = lh_trainer_opts_from_cfg(cfg, o, err);
    lh_config_free(cfg);
    return rc;
}

/* The field of key k in o, as text ("1000", "null" for NAN / -1 bool, a choice). */
static void field_text(const lh_trainer_key *k, const lh_trainer_opts *o, char *buf, size_t cap)
{
    const char *p = (const char *)o + k->offset;
    int64_t i;
    double d;
    int32_t b;
    switch (k->type) {
    case LH_KEY_INT:
        memcpy(&i, p, sizeof i);
        snprintf(buf, cap, "%" PRId64, i);
        break;
    case LH_KEY_FLOAT:
        memcpy(&d, p, sizeof d);
        if (isnan(d))
            snprintf(buf, cap, "null");
        else
            snprintf(buf, cap, "%g", d);
        break;
    case LH_KEY_BOOL:
        memcpy(&b, p, sizeof b);
        snprintf(buf, cap, "%s", b < 0 ? "null" : b ? "true" : "false");
        break;
    case LH_KEY_STRING:
        snprintf(buf, cap, "%s", p);
        break;
    case LH_KEY_ENUM:
        memcpy(&b, p, sizeof b);
        snprintf(buf, cap, "%s", k->choices[b]);
        break;
    default:
        snprintf(buf, cap, "?");
    }
}

START_TEST(defaults_are_the_tables)
{
    lh_trainer_opts o;
    lh_error err = {{0}};
    char got[4096];
    ck_assert_msg(opts_of("", &o, &err) == 0, "%s", err.msg);
    for (int32_t i = 0; i < lh_trainer_n_keys; i++) {
        const lh_trainer_key *k = &lh_trainer_keys[i];
        if (k->offset == LH_KEY_ELSEWHERE)
            continue;
        if (k->type == LH_KEY_CUSTOM) { /* several forms: the default's text reads the same */
            lh_trainer_opts d;
            char yaml[256];
            const char *dot = strchr(k->path, '.');
            snprintf(yaml, sizeof yaml, "%.*s: {%s: %s}\n", (int)(dot - k->path), k->path,
                     dot + 1, k->dflt);
            ck_assert_msg(opts_of(yaml, &d, &err) == 0, "%s", err.msg);
            ck_assert_msg(memcmp((char *)&o + k->offset, (char *)&d + k->offset, k->size) == 0,
                          "%s: the default differs from reading \"%s\"", k->path, k->dflt);
            continue;
        }
        field_text(k, &o, got, sizeof got);
        ck_assert_msg(strcmp(got, k->dflt) == 0, "%s: read %s, table says %s", k->path, got,
                      k->dflt);
    }
    /* and the fields under their own names, so the table's offsets are the right ones */
    ck_assert_int_eq(o.max_epochs, 1000);
    ck_assert_int_eq(o.batch_size, 64);
    ck_assert_int_eq(o.log_every_n_steps, 50);
    ck_assert_int_eq(o.progress_bar, -1);
    ck_assert_int_eq(o.summary, 1);
    ck_assert_int_eq(o.profiler, 0);
    ck_assert_str_eq(o.device, "auto");
    ck_assert(isnan(o.mean) && isnan(o.std));
    /* Lightning's defaults for the loop's keys */
    ck_assert(o.limit_train_batches.frac == 1.0 && o.limit_val_batches.frac == 1.0);
    ck_assert(o.val_check_interval.frac == 1.0 && o.overfit_batches.frac == 0.0);
    ck_assert_int_eq(o.check_val_every_n_epoch, 1);
    ck_assert_int_eq(o.accumulate_grad_batches, 1);
    ck_assert_int_eq(o.max_steps, -1);
    ck_assert_int_eq(o.min_steps, 0);
    ck_assert_int_eq(o.fast_dev_run, 0);
    ck_assert_int_eq(o.num_sanity_val_steps, 2);
    ck_assert(isnan(o.max_time));
    ck_assert_int_eq(o.shuffle, 1);
    ck_assert_str_eq(o.init_weights, "");
    ck_assert_int_eq(o.init_strict, 1);
}
END_TEST

/* The int-or-float, int-or-null, bool-or-int and string-or-mapping keys, as Lightning reads
 * them (trainer/setup.py, callbacks/timer.py), and what they imply. */
START_TEST(loop_keys)
{
    lh_trainer_opts o;
    lh_error err = {{0}};
    ck_assert_msg(opts_of("trainer: {limit_train_batches: 3, limit_val_batches: 0.25, "
                          "val_check_interval: 100, overfit_batches: 4.0, "
                          "check_val_every_n_epoch: null, max_time: \"01:02:03:04\", "
                          "fast_dev_run: false}\n", &o, &err) == 0, "%s", err.msg);
    ck_assert(isnan(o.limit_train_batches.frac) && o.limit_train_batches.n == 3);
    ck_assert(o.limit_val_batches.frac == 0.25);
    ck_assert(isnan(o.val_check_interval.frac) && o.val_check_interval.n == 100);
    ck_assert(isnan(o.overfit_batches.frac) && o.overfit_batches.n == 4); /* 4.0: the int 4 */
    ck_assert_int_eq(o.check_val_every_n_epoch, 0);
    ck_assert(o.max_time == 86400 + 2 * 3600 + 3 * 60 + 4);
    ck_assert_int_eq(o.max_epochs, -1); /* max_time without max_epochs, as Lightning */
    ck_assert_msg(opts_of("trainer: {max_time: {days: 1, minutes: 30}, max_epochs: 3}\n", &o,
                          &err) == 0, "%s", err.msg);
    ck_assert(o.max_time == 86400 + 1800);
    ck_assert_int_eq(o.max_epochs, 3);
    ck_assert_msg(opts_of("trainer: {fast_dev_run: true, max_epochs: 9}\n", &o, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(o.fast_dev_run, 1);
    ck_assert_int_eq(o.max_epochs, 1);
    ck_assert_int_eq(o.max_steps, 1);
    ck_assert_int_eq(o.num_sanity_val_steps, 0);
    ck_assert(isnan(o.limit_train_batches.frac) && o.limit_train_batches.n == 1);
    ck_assert(isnan(o.limit_val_batches.frac) && o.limit_val_batches.n == 1);
    ck_assert_msg(opts_of("trainer: {fast_dev_run: 7}\n", &o, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(o.fast_dev_run, 7);
    ck_assert_int_eq(o.limit_train_batches.n, 7);
    ck_assert_int_ne(opts_of("trainer: {limit_val_batches: 1.5}\n", &o, &err), 0);
    ck_assert_str_eq(err.msg, "config k.yaml:1: trainer.limit_val_batches: expected an int "
                              "(batches) >= 0 or a float in [0.0, 1.0] (a fraction of the "
                              "batches), got \"1.5\"");
    ck_assert_int_ne(opts_of("trainer: {max_time: \"1:00\"}\n", &o, &err), 0);
    ck_assert_msg(strstr(err.msg, "trainer.max_time: expected \"DD:HH:MM:SS\""), "%s", err.msg);
    ck_assert_int_ne(opts_of("trainer: {max_time: {hours: 1, secs: 2}}\n", &o, &err), 0);
    ck_assert_msg(strstr(err.msg, "trainer.max_time.secs: unknown key"), "%s", err.msg);
    ck_assert_int_ne(opts_of("trainer: {check_val_every_n_epoch: 0}\n", &o, &err), 0);
    ck_assert_msg(strstr(err.msg, "trainer.check_val_every_n_epoch: expected an integer"), "%s",
                  err.msg);
    ck_assert_int_ne(opts_of("trainer: {fast_dev_run: -1}\n", &o, &err), 0);
    ck_assert_msg(strstr(err.msg, "trainer.fast_dev_run: expected true, false or an int >= 0"),
                  "%s", err.msg);
}
END_TEST

START_TEST(values_and_ranges)
{
    lh_trainer_opts o;
    lh_error err = {{0}};
    char yaml[256];
    ck_assert_msg(opts_of("seed: 5\ndata: {batch_size: 8, mean: 0.25, path: /d}\ntrainer: "
                          "{max_epochs: -1, enable_progress_bar: false, profiler: simple, "
                          "device: cpu}\n", &o, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(o.seed, 5);
    ck_assert_int_eq(o.batch_size, 8);
    ck_assert(o.mean == 0.25);
    ck_assert_str_eq(o.data_dir, "/d");
    ck_assert_int_eq(o.max_epochs, -1);
    ck_assert_int_eq(o.progress_bar, 0);
    ck_assert_int_eq(o.profiler, 1);
    ck_assert_str_eq(o.device, "cpu");
    ck_assert_msg(opts_of("data: {shuffle: false}\nmodel: {init_weights: w.safetensors, "
                          "init_strict: false}\n", &o, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(o.shuffle, 0);
    ck_assert_str_eq(o.init_weights, "w.safetensors");
    ck_assert_int_eq(o.init_strict, 0);
    /* every integer key takes its bounds and refuses one past them, naming itself */
    for (int32_t i = 0; i < lh_trainer_n_keys; i++) {
        const lh_trainer_key *k = &lh_trainer_keys[i];
        const char *dot = strchr(k->path, '.');
        if (k->type != LH_KEY_INT)
            continue;
        int64_t vals[3] = {k->imin, k->imax, k->imin - 1};
        for (int j = 0; j < 3; j++) {
            if (dot)
                snprintf(yaml, sizeof yaml, "%.*s: {%s: %" PRId64 "}\n", (int)(dot - k->path),
                         k->path, dot + 1, vals[j]);
            else
                snprintf(yaml, sizeof yaml, "%s: %" PRId64 "\n", k->path, vals[j]);
            int rc = opts_of(yaml, &o, &err);
            if (j < 2)
                ck_assert_msg(rc == 0, "%s", err.msg);
            if (j == 2)
                ck_assert_msg(rc != 0 && strstr(err.msg, k->path), "%s: %s", yaml, err.msg);
        }
    }
    ck_assert_int_ne(opts_of("trainer: {max_epochs: 0}\n", &o, &err), 0);
    ck_assert_str_eq(err.msg, "config k.yaml:1: trainer.max_epochs: expected -1 (unlimited) or "
                              ">= 1");
    ck_assert_int_ne(opts_of("trainer: {profiler: advanced}\n", &o, &err), 0);
    ck_assert_str_eq(err.msg, "config k.yaml:1: trainer.profiler: expected null or simple, got "
                              "\"advanced\"");
}
END_TEST

START_TEST(unknown_keys_are_named)
{
    lh_trainer_opts o;
    lh_error err = {{0}};
    ck_assert_int_ne(opts_of("trainr: {}\n", &o, &err), 0);
    ck_assert_str_eq(err.msg, "config k.yaml:1: trainr: unknown key; expected one of seed, data, "
                              "model, optimizer, trainer, metrics, callbacks, loggers, "
                              "plugin_dirs");
    ck_assert_int_ne(opts_of("data: {bath_size: 3}\n", &o, &err), 0);
    ck_assert_str_eq(err.msg, "config k.yaml:1: data.bath_size: unknown key; expected one of "
                              "path, batch_size, shuffle, num_classes, mean, std, format, train, "
                     "val, test, train_labels, val_labels, test_labels, label_column, "
                     "feature_columns, val_split, normalize");
    /* model's keys are the table's too: a typo is named with what it may be */
    ck_assert_int_ne(opts_of("model: {init_weight: w.safetensors}\n", &o, &err), 0);
    ck_assert_str_eq(err.msg, "config k.yaml:1: model.init_weight: unknown key; expected one of "
                              "input_shape, layers, init_weights, init_strict");
    ck_assert_int_ne(opts_of("trainer: {epochs: 3}\n", &o, &err), 0);
    ck_assert_msg(strstr(err.msg, "trainer.epochs: unknown key; expected one of max_epochs, "
                                  "min_epochs, device"), "%s", err.msg);
}
END_TEST

/* Every key has a help line and, unless a section, a default; sections come before their keys;
 * paths are unique; lh_trainer_keys_find finds each. */
START_TEST(table_is_well_formed)
{
    for (int32_t i = 0; i < lh_trainer_n_keys; i++) {
        const lh_trainer_key *k = &lh_trainer_keys[i];
        const char *dot = strchr(k->path, '.');
        ck_assert_msg(k->help && k->help[0], "%s: no help", k->path);
        ck_assert_msg((k->type == LH_KEY_SECTION) == (k->dflt == NULL), "%s: default", k->path);
        ck_assert_ptr_eq(lh_trainer_keys_find(k->path), k);
        if (dot) {
            char sec[64];
            snprintf(sec, sizeof sec, "%.*s", (int)(dot - k->path), k->path);
            const lh_trainer_key *s = lh_trainer_keys_find(sec);
            ck_assert_msg(s && s->type == LH_KEY_SECTION && s < k, "%s: section", k->path);
        }
        if (k->offset != LH_KEY_ELSEWHERE)
            ck_assert_msg(k->offset + (k->type == LH_KEY_STRING ? k->size : 4) <=
                              sizeof(lh_trainer_opts), "%s: offset", k->path);
    }
    ck_assert_ptr_null(lh_trainer_keys_find("trainer.nope"));
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {
        defaults_are_the_tables,
        values_and_ranges,
        loop_keys,
        unknown_keys_are_named,
        table_is_well_formed,
        NULL,
    };
    return check_main("trainer_keys", 10, NULL, NULL, tests);
}
