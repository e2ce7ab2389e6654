/* tests/unit/test_device_ckpt.c — checkpoints are device-independent: a model trained with
 * --trainer.device=cuda and one trained on the CPU (same seed, small synthetic data) each
 * validate to the same val_acc / val_loss on both devices (within 1e-4), equal to what their
 * training logged; and the two trainings follow each other (same data order and dropout masks,
 * only rounding apart).
 * Needs the CUDA module and a device: without them it prints "SKIP: <reason>" and exits 77.
 * CTest runs it twice: test_device_ckpt (the real module; skips without a GPU) and
 * test_device_ckpt_emu (the host-CPU emulation of tests/cuda_emu, through LHOST_CUDA_MODULE).
 * Run: ctest --test-dir build -R test_device_ckpt --output-on-failure */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "check_run.h"
#include "cli_run.h"
#include "synth_data.h"

static char dir[256];

static const char cfg_text[] =
    "seed: 11\n"
    "data: {path: ../data, batch_size: 16}\n"
    "optimizer: {name: adam, lr: 0.005}\n"
    "model:\n  layers:\n"
    "    - {type: conv2d, name: conv1.0, out_channels: 4, kernel_size: 3, padding: 1}\n"
    "    - {type: relu}\n    - {type: maxpool2d, kernel_size: 2}\n"
    "    - {type: conv2d, name: conv2.0, out_channels: 8, kernel_size: 3, padding: 1}\n"
    "    - {type: relu}\n    - {type: maxpool2d, kernel_size: 2}\n"
    "    - {type: flatten}\n    - {type: dropout, p: 0.25}\n"
    "    - {type: linear, name: fc, out_features: 10}\n"
    "trainer: {max_epochs: 3, limit_train_batches: 8, limit_val_batches: 4, log_every_n_steps: 4, "
    "enable_progress_bar: false, default_root_dir: .}\n"
    "metrics:\n  acc: {plugin: accuracy, num_classes: 10, average: micro}\n"
    "callbacks:\n"
    "  model_checkpoint: {dirpath: ckpt, monitor: val_acc, mode: max, save_last: true}\n";

/* Value of `key` in lhost validate's "key value" lines; NAN when missing. */
static double printed(const char *out, const char *key)
{
    size_t kl = strlen(key);
    for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, key, kl) == 0 && (l[kl] == ' ' || l[kl] == '\t'))
            return strtod(l + kl, NULL);
    return NAN;
}

/* Column `key` of the last row of metrics.csv that has it. */
static double logged(const char *sub, const char *key, int epoch_row)
{
    char path[600], line[4096], *cols[64];
    int ncol = 0, want = -1, epoch_col = -1, i;
    double v = NAN;
    FILE *f;
    snprintf(path, sizeof path, "%s/%s/lightning_logs/version_0/metrics.csv", dir, sub);
    f = fopen(path, "r");
    ck_assert_msg(f != NULL, "no %s", path);
    ck_assert(fgets(line, sizeof line, f) != NULL);
    line[strcspn(line, "\r\n")] = 0;
    for (char *t = strtok(line, ","); t && ncol < 64; t = strtok(NULL, ","))
        cols[ncol++] = strdup(t);
    for (i = 0; i < ncol; i++)
        if (strcmp(cols[i], key) == 0)
            want = i;
        else if (strcmp(cols[i], "epoch") == 0)
            epoch_col = i;
    ck_assert_msg(want >= 0 && epoch_col >= 0, "metrics.csv of %s has no column %s or epoch",
                  sub, key);
    while (fgets(line, sizeof line, f)) {
        char *p = line, *e = line;
        int row_epoch;
        for (i = 0; i < epoch_col && e; i++) /* the header is sorted: epoch is anywhere */
            e = strchr(e, ',') ? strchr(e, ',') + 1 : NULL;
        row_epoch = e ? atoi(e) : -1;
        for (i = 0; i < want && p; i++)
            p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
        if (p && *p && *p != ',' && *p != '\n' && (epoch_row < 0 || row_epoch == epoch_row))
            v = strtod(p, NULL);
    }
    fclose(f);
    for (i = 0; i < ncol; i++)
        free(cols[i]);
    return v;
}

static char *run_ok(const char *sub, const char *args)
{
    char cwd[400], *out;
    int rc;
    snprintf(cwd, sizeof cwd, "%s/%s", dir, sub);
    rc = cli_run(cwd, args, &out);
    ck_assert_msg(rc == 0, "lhost %s (in %s): exit %d\n%s", args, sub, rc, out);
    return out;
}

static void near(const char *what, double a, double b, double rtol)
{
    double d = fabs(a - b), ref = fabs(b) > 1e-3 ? fabs(b) : 1e-3;
    printf("%-44s %.9g vs %.9g (rel %.3g)\n", what, a, b, d / ref);
    ck_assert_msg(!isnan(a) && !isnan(b) && d <= rtol * ref, "%s: %.9g vs %.9g (tolerance %g)",
                  what, a, b, rtol);
}

START_TEST(checkpoints_cross_devices)
{
    const char *dev[2] = {"cuda", "cpu"};
    char path[600], args[256], what[128];
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, dev[i]);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        snprintf(path, sizeof path, "%s/%s/cfg.yaml", dir, dev[i]);
        write_text(path, cfg_text);
        snprintf(args, sizeof args, "train --config cfg.yaml --trainer.device=%s", dev[i]);
        free(run_ok(dev[i], args));
    }
    /* Same seed, data order and dropout masks: only rounding separates the two trainings. */
    for (int e = 0; e < 3; e++) {
        snprintf(what, sizeof what, "epoch %d val_loss, cuda vs cpu training", e);
        near(what, logged("cuda", "val_loss", e), logged("cpu", "val_loss", e), 1e-2);
    }
    /* Each last checkpoint validates the same on both devices, and as its training logged. */
    for (int i = 0; i < 2; i++) {
        double acc[2], loss[2];
        for (int j = 0; j < 2; j++) {
            char *out;
            snprintf(args, sizeof args, "validate --ckpt ckpt/last.ckpt --trainer.device=%s",
                     dev[j]);
            out = run_ok(dev[i], args);
            acc[j] = printed(out, "val_acc"), loss[j] = printed(out, "val_loss");
            ck_assert_msg(!isnan(acc[j]) && !isnan(loss[j]), "no val_acc/val_loss in:\n%s", out);
            free(out);
        }
        snprintf(what, sizeof what, "trained on %s: val_acc on cuda vs cpu", dev[i]);
        near(what, acc[0], acc[1], 1e-4);
        snprintf(what, sizeof what, "trained on %s: val_loss on cuda vs cpu", dev[i]);
        near(what, loss[0], loss[1], 1e-4);
        snprintf(what, sizeof what, "trained on %s: val_acc validated vs logged", dev[i]);
        near(what, acc[i], logged(dev[i], "val_acc", 2), 1e-6);
    }
}
END_TEST

int main(void)
{
    const lh_backend *be;
    lh_backend_ctx *ctx;
    lh_error err = {{0}};
    Suite *s;
    TCase *tc;
    int rc;
    if (lh_backend_select("cuda", 1, &be, &ctx, &err)) {
        printf("SKIP: %s\n", err.msg);
        return 77;
    }
    printf("device: %s\n", be->describe(ctx));
    be->close(ctx);
    if (synth_workdir(dir, sizeof dir, "devckpt", 256, 64)) {
        printf("cannot make a work folder\n");
        return EXIT_FAILURE;
    }
    s = suite_create("device_ckpt"); /* after the skip: nothing to free before it */
    tc = tcase_create("cross");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, checkpoints_cross_devices);
    suite_add_tcase(s, tc);
    rc = check_run(s);
    synth_remove(dir);
    return rc;
}
