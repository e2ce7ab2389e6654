/* tests/unit/test_ckpt_trust.c — a checkpoint is untrusted input: `train --resume` refuses a
 * crafted bad one with one error line naming the file, the field and what was expected, and
 * never crashes, reads out of bounds or trains on nonsense.
 *
 * main trains one epoch of a small model on synth_data.h's data (64 training, 32 test images)
 * to get a good last.ckpt; each test copies it through safetensors.h's reader and writer with
 * one metadata entry or tensor changed, resumes from the copy through the binary and checks
 * the message. Under the sanitizer build a crash or a UBSan report fails the test too.
 * Run: ctest --test-dir build -R test_ckpt_trust --output-on-failure */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_run.h"
#include "cli_run.h"
#include "safetensors.h"
#include "synth_data.h"

static char dir[256], run[512];

static const char cfg_text[] =
    "seed: 3\n"
    "data: {path: ../data, batch_size: 16}\n"
    "model:\n  layers:\n"
    "    - {type: conv2d, name: conv1.0, out_channels: 4, kernel_size: 3, padding: 1}\n"
    "    - {type: relu}\n    - {type: maxpool2d, kernel_size: 2}\n"
    "    - {type: flatten}\n"
    "    - {type: linear, name: fc, out_features: 10}\n"
    "trainer: {max_epochs: 1, limit_val_batches: 1, enable_progress_bar: false, "
    "default_root_dir: .}\n"
    "callbacks:\n  model_checkpoint: {dirpath: ckpt, save_last: true}\n";

/* One change to the good checkpoint: metadata `key` set to `value` (NULL: dropped), or
 * tensor `tensor` given `dtype`, `shape` (ndim entries) and `data` (NULL: its own bytes);
 * neither: an unchanged copy. */
typedef struct change {
    const char *key, *value;
    const char *tensor, *dtype;
    int32_t ndim;
    int64_t shape[4];
    const void *data;
    uint64_t nbytes;
} change;

/* <run>/bad.ckpt: ckpt/last.ckpt with change c. */
static void craft(const change *c)
{
    char good[700], bad[700];
    lh_safetensors_file *f;
    lh_safetensors_writer *w = lh_safetensors_writer_new();
    lh_error err = {{0}};
    int32_t i, done = 0;
    snprintf(good, sizeof good, "%s/ckpt/last.ckpt", run);
    snprintf(bad, sizeof bad, "%s/bad.ckpt", run);
    ck_assert_ptr_nonnull(w);
    ck_assert_msg(lh_safetensors_read(good, &f, &err) == 0, "%s", err.msg);
    for (i = 0; i < lh_safetensors_meta_count(f); i++) {
        const char *k = lh_safetensors_meta_key(f, i), *v = lh_safetensors_meta_value(f, i);
        if (c->key && strcmp(k, c->key) == 0) {
            done = 1;
            if (!(v = c->value))
                continue;
        }
        ck_assert_msg(lh_safetensors_meta(w, k, v, &err) == 0, "%s", err.msg);
    }
    if (c->key && !done && c->value) {
        ck_assert_msg(lh_safetensors_meta(w, c->key, c->value, &err) == 0, "%s", err.msg);
        done = 1;
    }
    for (i = 0; i < lh_safetensors_count(f); i++) {
        const char *n = lh_safetensors_name(f, i);
        int rc;
        if (c->tensor && strcmp(n, c->tensor) == 0) {
            done = 1;
            rc = lh_safetensors_add(w, n, c->dtype, c->ndim, c->shape,
                                    c->data ? c->data : lh_safetensors_data(f, i),
                                    c->data ? c->nbytes : lh_safetensors_nbytes(f, i), &err);
        } else {
            rc = lh_safetensors_add(w, n, lh_safetensors_dtype(f, i), lh_safetensors_ndim(f, i),
                                    lh_safetensors_shape(f, i), lh_safetensors_data(f, i),
                                    lh_safetensors_nbytes(f, i), &err);
        }
        ck_assert_msg(rc == 0, "%s", err.msg);
    }
    ck_assert_msg(done || (!c->key && !c->tensor), "the good checkpoint has no %s",
                  c->key ? c->key : c->tensor);
    ck_assert_msg(lh_safetensors_write_atomic(w, bad, &err) == 0, "%s", err.msg);
    lh_safetensors_writer_free(w);
    lh_safetensors_close(f);
}

/* `lhost args` exits 1 (not a signal) with `want` in its output and no sanitizer report. */
static void refused_by(const char *args, const char *want)
{
    char *out;
    int rc = cli_run(run, args, &out);
    ck_assert_msg(rc == 1, "exit %d (expected 1)\n%s", rc, out);
    ck_assert_msg(strstr(out, want) != NULL, "expected \"%s\" in:\n%s", want, out);
    ck_assert_msg(!strstr(out, "Sanitizer") && !strstr(out, "runtime error"), "%s", out);
    free(out);
}

/* The same for `train --resume bad.ckpt`. */
static void refused(const char *want)
{
    refused_by("train --config cfg.yaml --trainer.max_epochs=3 --resume bad.ckpt", want);
}

/* A copy of the good checkpoint's tensor `name` (malloc'ed). */
static void *good_tensor(const char *name, uint64_t *nbytes)
{
    char good[700];
    lh_safetensors_file *f;
    lh_error err = {{0}};
    int32_t i;
    void *copy;
    snprintf(good, sizeof good, "%s/ckpt/last.ckpt", run);
    ck_assert_msg(lh_safetensors_read(good, &f, &err) == 0, "%s", err.msg);
    ck_assert_int_ge(i = lh_safetensors_index(f, name), 0);
    *nbytes = lh_safetensors_nbytes(f, i);
    copy = malloc(*nbytes);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, lh_safetensors_data(f, i), *nbytes);
    lh_safetensors_close(f);
    return copy;
}

/* ---- 1. the data order -------------------------------------------------------------------- */

static void perm_refused(int32_t at, int32_t value, const char *want)
{
    uint64_t nbytes;
    int32_t *perm = (int32_t *)good_tensor("trainer.perm", &nbytes);
    change c = {.tensor = "trainer.perm", .dtype = "I32", .ndim = 1, .shape = {64}};
    ck_assert_int_eq(nbytes, 64 * 4);
    perm[at] = value;
    c.data = perm, c.nbytes = nbytes;
    craft(&c);
    free(perm);
    refused(want);
}

START_TEST(perm_out_of_range)
{
    perm_refused(5, 1000000, "bad.ckpt: data order: tensor \"trainer.perm\"[5]: 1000000 is not a "
                 "training sample index (expected 0 to 63)");
}
END_TEST

START_TEST(perm_negative)
{
    perm_refused(0, -7, "tensor \"trainer.perm\"[0]: -7 is not a training sample index");
}
END_TEST

START_TEST(perm_repeats)
{
    uint64_t nbytes;
    int32_t *perm = (int32_t *)good_tensor("trainer.perm", &nbytes), twice = perm[3];
    free(perm);
    perm_refused(9, twice, "is not a permutation");
}
END_TEST

/* The right number of elements in the wrong shape: [32, 2] is not a vector of 64. */
START_TEST(perm_not_a_vector)
{
    uint64_t nbytes;
    int32_t *perm = (int32_t *)good_tensor("trainer.perm", &nbytes);
    change c = {.tensor = "trainer.perm", .dtype = "I32", .ndim = 2, .shape = {32, 2}};
    c.data = perm, c.nbytes = nbytes;
    craft(&c);
    free(perm);
    refused("tensor \"trainer.perm\" has 2 dimensions (expected a vector of 64)");
}
END_TEST

/* ---- 2. the container's format -------------------------------------------------------- */

START_TEST(foreign_format)
{
    change c = {.key = "format", .value = "pt"}; /* what every Hugging Face file says */
    craft(&c);
    refused("bad.ckpt: format \"pt\" is not an lhost checkpoint (expected lhost-checkpoint)");
}
END_TEST

START_TEST(format_missing)
{
    change c = {.key = "format"};
    craft(&c);
    refused("bad.ckpt: metadata `format` missing; not an lhost checkpoint");
}
END_TEST

/* ---- 3. weight shapes -------------------------------------------------------------------- */

START_TEST(transposed_weight)
{
    uint64_t nbytes;
    void *data = good_tensor("fc.weight", &nbytes);
    /* The same 10 x 784 floats, claimed to be 784 x 10. */
    change c = {.tensor = "fc.weight", .dtype = "F32", .ndim = 2, .shape = {784, 10}};
    ck_assert_int_eq(nbytes, 10 * 784 * 4);
    c.data = data, c.nbytes = nbytes;
    craft(&c);
    free(data);
    refused("bad.ckpt: model: tensor \"fc.weight\": shape [784, 10] (expected [10, 784], the "
            "model's)");
}
END_TEST

START_TEST(flat_conv_weight)
{
    change c = {.tensor = "conv1.0.weight", .dtype = "F32", .ndim = 1, .shape = {36}};
    craft(&c);
    refused("tensor \"conv1.0.weight\": shape [36] (expected [4, 1, 3, 3], the model's)");
}
END_TEST

START_TEST(flat_optimizer_state)
{
    change c = {.tensor = "optimizer.exp_avg.conv1.0.weight", .dtype = "F32", .ndim = 2,
                .shape = {4, 9}};
    craft(&c);
    refused("optimizer: tensor \"optimizer.exp_avg.conv1.0.weight\": shape [4, 9] (expected "
            "[4, 1, 3, 3]");
}
END_TEST

/* ---- 4. counters and the optimizer's numbers ----------------------------------------------- */

static void meta_refused(const char *key, const char *value, const char *want)
{
    change c = {.key = key, .value = value};
    craft(&c);
    refused(want);
}

START_TEST(negative_epoch)
{
    meta_refused("resume_epoch", "-5", "bad.ckpt: data order: metadata `resume_epoch`: expected "
                 "an integer from 0 to 9007199254740992, got \"-5\"");
}
END_TEST

START_TEST(saturating_step)
{
    meta_refused("global_step", "99999999999999999999",
                 "progress: metadata `global_step`: expected an integer from 0 to "
                 "9007199254740992, got \"99999999999999999999\"");
}
END_TEST

START_TEST(trailing_garbage_batch)
{
    meta_refused("resume_batch", "1x", "metadata `resume_batch`: expected an integer");
}
END_TEST

START_TEST(batch_past_the_epoch)
{
    meta_refused("resume_batch", "5", "metadata `resume_batch`: 5 outside this run's 4 batches");
}
END_TEST

START_TEST(optimizer_step_fraction)
{
    meta_refused("optimizer", "{\"name\":\"adam\",\"lr\":0.001,\"step\":2.5}",
                 "optimizer: metadata `optimizer`: \"step\": expected an integer from 0 to "
                 "9007199254740992, got 2.5");
}
END_TEST

START_TEST(optimizer_lr_negative)
{
    meta_refused("optimizer", "{\"name\":\"adam\",\"lr\":-0.1,\"step\":4}",
                 "\"lr\": expected a finite number >= 0, got -0.1");
}
END_TEST

START_TEST(optimizer_lr_infinite)
{
    meta_refused("optimizer", "{\"name\":\"adam\",\"lr\":1e999,\"step\":4}",
                 "\"lr\": expected a finite number >= 0, got inf");
}
END_TEST

/* ---- 5. layer sizes that overflow ------------------------------------------------------ */

#define IN_28 "\"in_c\":1,\"in_h\":28,\"in_w\":28" /* synth_data.h's images */

/* `validate` builds the model the checkpoint's spec describes. */
static void spec_refused(const char *layers, const char *in, const char *want)
{
    char spec[1024];
    change c = {.key = "model_spec", .value = spec};
    snprintf(spec, sizeof spec, "{%s,\"layers\":[%s]}", in, layers);
    craft(&c);
    refused_by("validate --ckpt bad.ckpt", want);
}

START_TEST(flatten_past_int32)
{
    /* 2^20 channels of 156 x 156 (28 padded by 64 each side): 2.6e10 features in an int32. */
    spec_refused("{\"type\":\"conv2d\",\"name\":\"big\",\"in_channels\":1,"
                 "\"out_channels\":1048576,\"kernel_size\":1,\"stride\":1,\"padding\":64},"
                 "{\"type\":\"flatten\",\"name\":\"1\"},"
                 "{\"type\":\"linear\",\"name\":\"fc\",\"in_features\":0,"
                 "\"out_features\":10}",
                 IN_28,
                 "model.layers.1 (flatten 1): input (1048576, 156, 156) has 25518145536 features "
                 "(expected at most 2147483647)");
}
END_TEST

START_TEST(linear_weight_past_limit)
{
    /* 784 features times 2^31 - 1 outputs: 1.7e12 weights. */
    spec_refused("{\"type\":\"flatten\",\"name\":\"0\"},"
                 "{\"type\":\"linear\",\"name\":\"wide\",\"in_features\":784,"
                 "\"out_features\":2147483647},"
                 "{\"type\":\"linear\",\"name\":\"fc\",\"in_features\":2147483647,"
                 "\"out_features\":10}",
                 IN_28, "model.layers.1 (linear wide): wide.weight has more than 1099511627776 "
                 "elements");
}
END_TEST

START_TEST(total_params_past_limit)
{
    /* Each tensor fits, the sum does not: 2^32 + 2^20 elements, then a weight of 2^40 (the
     * first kernel covers the 28 x 28 input padded by 18). */
    spec_refused("{\"type\":\"conv2d\",\"name\":\"c\",\"in_channels\":1,"
                 "\"out_channels\":1048576,\"kernel_size\":64,\"stride\":1,"
                 "\"padding\":18},"
                 "{\"type\":\"conv2d\",\"name\":\"d\",\"in_channels\":0,"
                 "\"out_channels\":1048576,\"kernel_size\":1,\"stride\":1,"
                 "\"padding\":0},{\"type\":\"flatten\",\"name\":\"f\"},"
                 "{\"type\":\"linear\",\"name\":\"fc\",\"in_features\":0,"
                 "\"out_features\":10}",
                 IN_28,
                 "model.layers.1 (conv2d d): d.weight brings the model's parameters to more than "
                 "1099511627776 elements");
}
END_TEST

/* ---- 6. where the logs go on ------------------------------------------------------------ */

START_TEST(run_dir_elsewhere)
{
    char other[600];
    change c = {.key = "run_dir", .value = other};
    snprintf(other, sizeof other, "%s/elsewhere", dir);
    ck_assert_int_eq(mkdir(other, 0755), 0);
    craft(&c);
    refused("bad.ckpt: run: metadata `run_dir`: \"");
    refused("elsewhere\" is not inside this run's ./lightning_logs "
            "(trainer.default_root_dir/lightning_logs); expected a version folder there");
}
END_TEST

START_TEST(run_dir_dot_dot)
{
    change c = {.key = "run_dir", .value = "./lightning_logs/version_0/../.."};
    craft(&c);
    refused("metadata `run_dir`: \"./lightning_logs/version_0/../..\" is not inside");
}
END_TEST

START_TEST(run_dir_symlink_out)
{
    char link[600];
    change c = {.key = "run_dir", .value = "./lightning_logs/out"};
    snprintf(link, sizeof link, "%s/lightning_logs/out", run);
    ck_assert_int_eq(symlink(dir, link), 0);
    craft(&c);
    refused("metadata `run_dir`: \"./lightning_logs/out\" is not inside");
}
END_TEST

/* ---- the control --------------------------------------------------------------------------- */

/* The control: the unchanged copy resumes, so the refusals above come from the change. Last,
 * as it trains on and rewrites ckpt/. */
START_TEST(unchanged_copy_resumes)
{
    change c = {0};
    char *out;
    int rc;
    craft(&c);
    rc = cli_run(run, "train --config cfg.yaml --trainer.max_epochs=2 --resume bad.ckpt", &out);
    ck_assert_msg(rc == 0, "exit %d\n%s", rc, out);
    ck_assert_msg(strstr(out, "Resumed from bad.ckpt at epoch 1, batch 0 (global step 4)") &&
                      strstr(out, "lightning_logs/version_0/metrics.csv"), "%s", out);
    free(out);
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {
        perm_out_of_range,
        perm_negative,
        perm_repeats,
        perm_not_a_vector,
        foreign_format,
        format_missing,
        transposed_weight,
        flat_conv_weight,
        flat_optimizer_state,
        negative_epoch,
        saturating_step,
        trailing_garbage_batch,
        batch_past_the_epoch,
        optimizer_step_fraction,
        optimizer_lr_negative,
        optimizer_lr_infinite,
        flatten_past_int32,
        linear_weight_past_limit,
        total_params_past_limit,
        run_dir_elsewhere,
        run_dir_dot_dot,
        run_dir_symlink_out,
        unchanged_copy_resumes,
        NULL,
    };
    char cfg[600], *out;
    int rc, status;
    if (synth_workdir(dir, sizeof dir, "ckpt_trust", 64, 32))
        return EXIT_FAILURE;
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(cfg, sizeof cfg, "%s/cfg.yaml", run);
    if (mkdir(run, 0755))
        return EXIT_FAILURE;
    write_text(cfg, cfg_text);
    rc = cli_run(run, "train --config cfg.yaml", &out);
    if (rc != 0) {
        fprintf(stderr, "lhost train (for the good checkpoint): exit %d\n%s", rc, out);
        free(out);
        synth_remove(dir);
        return EXIT_FAILURE;
    }
    free(out);
    status = check_main("ckpt_trust", 120, NULL, NULL, tests);
    synth_remove(dir);
    return status;
}
