/* tests/unit/test_bare_train.c — SDK-free plugins in a real training run: the bare callback
 * (stop_when: val_acc > 0.95 or epoch >= 3) stops training at its condition, the bare metric
 * top1 logs the same values as the reference accuracy plugin, and an argument that binds to
 * nothing is refused before training.
 * Run: ctest --test-dir build -R test_bare_train --output-on-failure */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_run.h"
#include "synth_data.h"
#include "check_run.h"

static char dir[256];

static void setup(void)
{
    ck_assert_int_eq(synth_workdir(dir, sizeof dir, "bare", 512, 128), 0);
}

static void teardown(void)
{
    synth_remove(dir);
}

static void write_cfg(const char *callbacks)
{
    char path[512], text[4096];
    snprintf(path, sizeof path, "%s/cfg.yaml", dir);
    snprintf(text, sizeof text,
             "seed: 3\n"
             "data: {path: data, batch_size: 32}\n"
             "model:\n  layers:\n"
             "    - {type: conv2d, name: conv1.0, out_channels: 8, kernel_size: 3, padding: 1}\n"
             "    - {type: relu}\n    - {type: maxpool2d, kernel_size: 2}\n"
             "    - {type: flatten}\n    - {type: linear, name: fc, out_features: 10}\n"
             "trainer: {max_epochs: 6, log_every_n_steps: 4, enable_progress_bar: false, "
             "default_root_dir: .}\n"
             "plugin_dirs: [%s/stop_at, %s/top1]\n"
             "metrics:\n  acc: {plugin: accuracy, num_classes: 10, average: micro}\n  top1: {plugin: top1}\n"
             "callbacks:\n%s",
             LH_BARE_FIXTURE_DIR, LH_BARE_FIXTURE_DIR, callbacks);
    write_text(path, text);
}

/* Column `key` of metrics.csv rows, as numbers (NAN for empty cells). */
static int32_t column(const char *csv, const char *key, double *out, int32_t cap)
{
    char *copy = strdup(csv), *save = NULL, *line, *hdr;
    int32_t col = -1, i = 0, n = 0;
    hdr = strtok_r(copy, "\n", &save);
    for (char *tok = hdr, *next; tok; tok = next, i++) {
        next = strchr(tok, ',');
        if (next)
            *next++ = 0;
        if (strcmp(tok, key) == 0)
            col = i;
    }
    while (col >= 0 && (line = strtok_r(NULL, "\n", &save)) && n < cap) {
        char *p = line;
        for (i = 0; i < col && p; i++) {
            p = strchr(p, ',');
            if (p)
                p++;
        }
        out[n++] = (p && *p && *p != ',') ? strtod(p, NULL) : NAN;
    }
    free(copy);
    return col < 0 ? -1 : n;
}

START_TEST(bare_plugins_in_training)
{
    char *out, path[512];
    double acc[256], top1[256], vacc[256], vtop1[256];
    int32_t n, i, epochs = 0;
    char *csv;
    int rc;
    write_cfg("  stop_at: {}\n");
    rc = cli_run(dir, "train --config cfg.yaml", &out);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    ck_assert_msg(strstr(out, "stop_at.stop_when returned 1") || strstr(out, "Stopped after"),
                  "the bare callback did not stop the run:\n%s", out);
    free(out);
    snprintf(path, sizeof path, "%s/lightning_logs/version_0/metrics.csv", dir);
    csv = read_text(path);
    ck_assert_msg(csv != NULL, "cannot read %s", path);
    n = column(csv, "acc_epoch", acc, 256);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(column(csv, "top1_epoch", top1, 256), n);
    ck_assert_int_eq(column(csv, "val_acc", vacc, 256), n);
    ck_assert_int_eq(column(csv, "val_top1", vtop1, 256), n);
    for (i = 0; i < n; i++) {
        ck_assert_msg(isnan(acc[i]) == isnan(top1[i]) && (isnan(acc[i]) || fabs(acc[i] - top1[i]) < 1e-7),
                      "row %d: acc %.9g vs top1 %.9g", i, acc[i], top1[i]);
        ck_assert_msg(isnan(vacc[i]) == isnan(vtop1[i]) && (isnan(vacc[i]) || fabs(vacc[i] - vtop1[i]) < 1e-7),
                      "row %d: val_acc %.9g vs val_top1 %.9g", i, vacc[i], vtop1[i]);
        if (!isnan(vacc[i])) {
            epochs++;
            /* It stops at the first validation where the condition holds. */
            if (vacc[i] > 0.95)
                break;
        }
    }
    /* Every epoch row but the last is below the threshold; the run ended there. */
    ck_assert_int_lt(epochs, 6);
    for (; ++i < n;)
        ck_assert_msg(isnan(vacc[i]), "an epoch ran after the stop condition held");
    free(csv);
}
END_TEST

START_TEST(unbound_argument_refused)
{
    char *out;
    int rc;
    /* stop_at binds val_acc and epoch: renaming the metric leaves val_acc unbound. */
    write_cfg("  stop_at: {}\n");
    rc = cli_run(dir, "train --config cfg.yaml --metrics.acc.name=accuracy", &out);
    ck_assert_msg(rc != 0 && strstr(out, "val_acc"), "exit %d:\n%s", rc, out);
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bare_train");
    TCase *tc = tcase_create("train");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, bare_plugins_in_training);
    tcase_add_test(tc, unbound_argument_refused);
    suite_add_tcase(s, tc);
    return check_run(s);
}
