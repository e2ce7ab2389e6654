/* tests/unit/test_resume.c — determinism (two runs, same bytes) and resume equivalence: 4 epochs
 * straight vs 2 epochs, then --resume from last.ckpt for 2 more, give byte-identical last
 * checkpoints (weights, Adam moments or SGD momentum, RNG, data order, metric and
 * EarlyStopping/ModelCheckpoint states) and identical metrics.csv.
 * Small synthetic data so it runs in seconds.
 * Run: ctest --test-dir build -R test_resume --output-on-failure */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_run.h"
#include "cpu_bf16.h"
#include "safetensors.h"
#include "synth_data.h"
#include "check_run.h"

static char dir[256];

static const char cfg_text[] =
    "seed: 7\n"
    "data: {path: ../data, batch_size: 16}\n"
    "model:\n  layers:\n"
    "    - {type: conv2d, name: conv1.0, out_channels: 8, kernel_size: 3, padding: 1}\n"
    "    - {type: relu}\n    - {type: maxpool2d, kernel_size: 2}\n"
    "    - {type: flatten}\n    - {type: dropout, p: 0.25}\n"
    "    - {type: linear, name: fc, out_features: 10}\n"
    "trainer: {limit_train_batches: 6, limit_val_batches: 2, log_every_n_steps: 2, "
    "enable_progress_bar: false, default_root_dir: .}\n"
    "metrics:\n  acc: {plugin: accuracy, num_classes: 10}\n"
    "  precision: {plugin: precision, num_classes: 10, average: macro}\n"
    "callbacks:\n"
    "  early_stopping: {monitor: val_acc, mode: max, patience: 50}\n"
    "  model_checkpoint: {dirpath: ckpt, monitor: val_acc, mode: max, save_top_k: 2, "
    "save_last: true, filename: \"m-{epoch}-{val_acc:.4f}\"}\n";

static char *slurp(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)*len + 1);
    if (buf && fread(buf, 1, (size_t)*len, f) != (size_t)*len) {
        free(buf);
        buf = NULL;
    }
    if (buf)
        buf[*len] = 0;
    fclose(f);
    return buf;
}

static void run_ok(const char *sub, const char *args)
{
    char cwd[400], *out;
    int rc;
    snprintf(cwd, sizeof cwd, "%s/%s", dir, sub);
    rc = cli_run(cwd, args, &out);
    ck_assert_msg(rc == 0, "lhost %s (in %s): exit %d\n%s", args, sub, rc, out);
    free(out);
}

/* Name the first tensor or metadata entry that differs between two checkpoints. */
static void explain_difference(const char *a, const char *b)
{
    lh_safetensors_file *fa, *fb;
    lh_error err;
    int32_t i;
    ck_assert_msg(lh_safetensors_read(a, &fa, &err) == 0, "%s", err.msg);
    ck_assert_msg(lh_safetensors_read(b, &fb, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(lh_safetensors_count(fa), lh_safetensors_count(fb));
    for (i = 0; i < lh_safetensors_count(fa); i++) {
        ck_assert_str_eq(lh_safetensors_name(fa, i), lh_safetensors_name(fb, i));
        ck_assert_msg(lh_safetensors_nbytes(fa, i) == lh_safetensors_nbytes(fb, i) &&
                          memcmp(lh_safetensors_data(fa, i), lh_safetensors_data(fb, i),
                                 lh_safetensors_nbytes(fa, i)) == 0,
                      "tensor %s differs after resume", lh_safetensors_name(fa, i));
    }
    for (i = 0; i < lh_safetensors_meta_count(fa); i++) {
        const char *k = lh_safetensors_meta_key(fa, i), *vb = lh_safetensors_meta_get(fb, k);
        ck_assert_msg(vb && strcmp(lh_safetensors_meta_value(fa, i), vb) == 0,
                      "metadata %s differs: %s vs %s", k, lh_safetensors_meta_value(fa, i),
                      vb ? vb : "(none)");
    }
    lh_safetensors_close(fa);
    lh_safetensors_close(fb);
}

/* Files <dir>/<x>/<rel> and <dir>/<y>/<rel> are byte-identical; for checkpoints name the first
 * differing tensor or metadata key. */
static void assert_same(const char *x, const char *y, const char *rel)
{
    char a[512], b[512], *ca, *cb;
    long la, lb;
    int same;
    snprintf(a, sizeof a, "%s/%s/%s", dir, x, rel);
    snprintf(b, sizeof b, "%s/%s/%s", dir, y, rel);
    ca = slurp(a, &la);
    cb = slurp(b, &lb);
    ck_assert_msg(ca && cb, "missing %s", rel);
    same = la == lb && memcmp(ca, cb, (size_t)la) == 0;
    if (!same && strstr(rel, ".ckpt"))
        explain_difference(a, b);
    ck_assert_msg(same, "%s differs between %s and %s:\n--- %s\n%s\n--- %s\n%s", rel, x, y, x,
                  strstr(rel, ".csv") ? ca : "", y, strstr(rel, ".csv") ? cb : "");
    free(ca);
    free(cb);
}

/* 4 epochs straight, twice, and 2 + 2 through --resume, with `opt` as extra CLI arguments. */
static void straight_vs_split(const char *opt)
{
    char path[512], args[512];
    const char *sub[] = {"straight", "split", "again"};
    int i;
    ck_assert_int_eq(synth_workdir(dir, sizeof dir, "resume", 256, 64), 0);
    for (i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, sub[i]);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        snprintf(path, sizeof path, "%s/%s/cfg.yaml", dir, sub[i]);
        write_text(path, cfg_text);
    }
    snprintf(args, sizeof args, "train --config cfg.yaml --trainer.max_epochs=4 %s", opt);
    run_ok("straight", args);
    run_ok("again", args);
    snprintf(args, sizeof args, "train --config cfg.yaml --trainer.max_epochs=2 %s", opt);
    run_ok("split", args);
    snprintf(args, sizeof args,
             "train --config cfg.yaml --trainer.max_epochs=4 --resume ckpt/last.ckpt %s", opt);
    run_ok("split", args);

    assert_same("straight", "split", "ckpt/last.ckpt");
    /* Determinism: the same config and seed give the same bytes in another process. */
    assert_same("straight", "again", "ckpt/last.ckpt");
    assert_same("straight", "split", "lightning_logs/version_0/metrics.csv");
    {
        long len;
        char csv[512], *text;
        snprintf(csv, sizeof csv, "%s/straight/lightning_logs/version_0/metrics.csv", dir);
        text = slurp(csv, &len);
        /* 4 epochs' rows plus step rows: an epoch-3 row is there (epoch is the column named
         * so; the header is sorted and no key holds a comma) */
        ck_assert_ptr_nonnull(text);
        {
            const char *h = strncmp(text, "epoch,", 6) ? strstr(text, ",epoch,") : text, *line;
            int col = 0, found = 0;
            ck_assert_msg(h != NULL, "no epoch column: %s", text);
            for (const char *c = text; c <= h; c++)
                col += *c == ',';
            for (line = strchr(text, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
                const char *c = line + 1;
                for (int k = 0; k < col && c; k++)
                    c = strchr(c, ',') ? strchr(c, ',') + 1 : NULL;
                found |= c && strncmp(c, "3,", 2) == 0;
            }
            ck_assert_msg(found, "no epoch-3 row:\n%s", text);
        }
        free(text);
    }
}

/* The optimizer state a checkpoint holds, under PyTorch's name for it. */
static void assert_has_tensor(const char *rel, const char *name, int32_t present)
{
    char path[512];
    lh_safetensors_file *f;
    lh_error err;
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    ck_assert_msg(lh_safetensors_read(path, &f, &err) == 0, "%s", err.msg);
    ck_assert_msg((lh_safetensors_index(f, name) >= 0) == present, "%s: tensor %s %s", rel, name,
                  present ? "missing" : "present");
    lh_safetensors_close(f);
}

START_TEST(resume_is_exact)
{
    straight_vs_split(""); /* Adam, the default */
    assert_has_tensor("split/ckpt/last.ckpt", "optimizer.exp_avg_sq.fc.weight", 1);
    synth_remove(dir);
}
END_TEST

START_TEST(sgd_momentum_resume_is_exact)
{
    straight_vs_split("--optimizer.name=sgd --optimizer.lr=0.05 --optimizer.momentum=0.9");
    assert_has_tensor("split/ckpt/last.ckpt", "optimizer.momentum_buffer.fc.weight", 1);
    assert_has_tensor("split/ckpt/last.ckpt", "optimizer.exp_avg.fc.weight", 0);
    synth_remove(dir);
}
END_TEST

/* oneDNN's primitives keep the promise too: same config, seed and threads, same bytes, and
 * resume is exact (the model's conv+relu+maxpool runs as the fused block). */
START_TEST(direct_conv_resume_is_exact)
{
    straight_vs_split("--trainer.conv_algorithm=direct --trainer.threads=2");
    synth_remove(dir);
}
END_TEST

START_TEST(winograd_conv_resume_is_exact)
{
    straight_vs_split("--trainer.conv_algorithm=winograd --trainer.threads=2");
    synth_remove(dir);
}
END_TEST

START_TEST(bf16_mixed_resume_is_exact)
{
    if (!cpu_runs_bf16("test_resume"))
        return;
    straight_vs_split("--trainer.precision=bf16-mixed --trainer.conv_algorithm=direct "
                      "--trainer.threads=2");
    synth_remove(dir);
}
END_TEST

/* A checkpoint taken in the middle of an epoch (every_n_train_steps) resumes at the next batch
 * with the same data order, metric state and logged sums: the end is byte-identical again. */
START_TEST(mid_epoch_resume_is_exact)
{
    static const char mid_cfg[] =
        "seed: 7\n"
        "data: {path: ../data, batch_size: 16}\n"
        "model:\n  layers:\n"
        "    - {type: conv2d, name: conv1.0, out_channels: 4, kernel_size: 3, padding: 1}\n"
        "    - {type: relu}\n    - {type: maxpool2d, kernel_size: 2}\n"
        "    - {type: flatten}\n    - {type: dropout, p: 0.25}\n"
        "    - {type: linear, name: fc, out_features: 10}\n"
        "trainer: {max_epochs: 2, limit_train_batches: 6, limit_val_batches: 2, "
        "log_every_n_steps: 2, enable_progress_bar: false, default_root_dir: .}\n"
        "metrics:\n  acc: {plugin: accuracy, num_classes: 10}\n"
        "callbacks:\n  early_stopping: {monitor: val_acc, mode: max, patience: 50}\n"
        "  model_checkpoint: {dirpath: ckpt, every_n_train_steps: 4, save_top_k: -1, "
        "save_last: true}\n";
    char path[1400];
    ck_assert_int_eq(synth_workdir(dir, sizeof dir, "midresume", 256, 64), 0);
    snprintf(path, sizeof path, "%s/A", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/A/cfg.yaml", dir);
    write_text(path, mid_cfg);
    run_ok("A", "train --config cfg.yaml");
    /* B: A as it stood right after the step-4 save (inside epoch 0 of 6 batches). */
    snprintf(path, sizeof path,
             "cp -r '%s/A' '%s/B' && rm '%s/B/ckpt/last.ckpt' '%s/B/ckpt/'epoch=1-*", dir, dir,
             dir, dir);
    ck_assert_int_eq(system(path), 0);
    run_ok("B", "train --config cfg.yaml --resume ckpt/epoch=0-step=4.ckpt");
    assert_same("A", "B", "ckpt/last.ckpt");
    assert_same("A", "B", "lightning_logs/version_0/metrics.csv");
    synth_remove(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("resume");
    TCase *tc = tcase_create("equivalence");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, resume_is_exact);
    tcase_add_test(tc, sgd_momentum_resume_is_exact);
    tcase_add_test(tc, direct_conv_resume_is_exact);
    tcase_add_test(tc, winograd_conv_resume_is_exact);
    tcase_add_test(tc, bf16_mixed_resume_is_exact);
    tcase_add_test(tc, mid_epoch_resume_is_exact);
    suite_add_tcase(s, tc);
    return check_run(s);
}
