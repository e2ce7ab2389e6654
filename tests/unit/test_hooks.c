/* tests/unit/test_hooks.c — the callback hooks of ABI 1.1 in Lightning's order, as the fixture
 * tests/plugins/hook_order.c logs them into a file, for `lhost train`, `lhost validate` and
 * `lhost predict`; the services' windows (gradients only between backward and the step, the
 * batch's logits only in batch-end hooks); on_save_checkpoint's metadata read back by
 * on_load_checkpoint on resume; a stop asked with LHOST_STOP_NOW inside an epoch, honoured after
 * that batch (validation and the epoch's end still run) and only once min_epochs are done;
 * trainer.gradient_clip_val; the sanity check's validation hooks before training (no
 * on_validation_end). $LH_TEST_DEVICE (default auto) is passed as trainer.device:
 * test_hooks_emu sets cuda, the CUDA backend's code on the emulation (tests/cuda_emu).
 * Run: ctest --test-dir build -R test_hooks --output-on-failure */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check_run.h"
#include "cli_run.h"
#include "hook_order_run.h"
#include "synth_data.h"

static char dir[256];

/* 32 training samples in batches of 16: 2 batches per epoch; 20 test samples: 2 batches. */
static const char cfg_text[] =
    "seed: 5\n"
    "data: {path: ../data, batch_size: 16}\n"
    "model:\n  layers:\n"
    "    - {type: flatten}\n    - {type: linear, name: fc, out_features: 10}\n"
    "trainer: {max_epochs: 2, enable_progress_bar: false, enable_model_summary: false, "
    "default_root_dir: .}\n"
    "callbacks:\n  hook_order: {out: hooks.txt}\n";

static void setup(void)
{
    hook_order_workdir(dir, sizeof dir, "hooks", 32, 20, cfg_text);
}

static void teardown(void) { synth_remove(dir); }

/* lhost ARGS in w/ with the fixture's folder; the output (to free). */
static char *run(const char *args, int want_rc)
{
    return hook_order_run(dir, args, want_rc);
}

static char *hooks_txt(void)
{
    char path[512];
    char *s;
    snprintf(path, sizeof path, "%s/w/hooks.txt", dir);
    s = read_text(path);
    ck_assert_msg(s != NULL, "no hooks.txt");
    remove(path);
    return s;
}

#define TRAIN_BATCH(b)                                                                         \
    "on_train_batch_start " #b "\non_after_backward\non_before_optimizer_step\n"              \
    "on_train_batch_end " #b "\n"
#define VALIDATION                                                                             \
    "on_validation_start\non_validation_batch_end 0\non_validation_batch_end 1\n"             \
    "on_validation_epoch_end\non_validation_end\n"
/* The sanity check before training (num_sanity_val_steps: 2 batches): validation's hooks but
 * not on_validation_end, the 1.0 hook where EarlyStopping and ModelCheckpoint act. */
#define SANITY                                                                                 \
    "on_validation_start (sanity)\non_validation_batch_end 0\non_validation_batch_end 1\n"    \
    "on_validation_epoch_end\n"
#define EPOCH                                                                                  \
    "on_train_epoch_start\n" TRAIN_BATCH(0) TRAIN_BATCH(1) VALIDATION "on_train_epoch_end\n"

static void expect(const char *got, const char *want)
{
    ck_assert_msg(strcmp(got, want) == 0, "hooks:\n%s\nexpected:\n%s", got, want);
}

/* "grad refused" is the fixture's note that gradients were refused after the step. */
static char *without_notes(char *s)
{
    char *p = strstr(s, "grad refused\n");
    if (p)
        memmove(p, p + 13, strlen(p + 13) + 1);
    return s;
}

START_TEST(fit_validate_predict_order)
{
    char *h;
    free(run("train --config cfg.yaml --callbacks.hook_order.save=true", 0));
    h = hooks_txt();
    ck_assert_msg(strstr(h, "grad refused\n") != NULL, "%s", h);
    without_notes(h);
    expect(h, "on_fit_start\n" SANITY "on_train_start\n"
              "on_train_epoch_start\n" TRAIN_BATCH(0) TRAIN_BATCH(1) VALIDATION
              "on_train_epoch_end\non_save_checkpoint\n"
              "on_train_epoch_start\n" TRAIN_BATCH(0) TRAIN_BATCH(1) VALIDATION
              "on_train_epoch_end\non_save_checkpoint\n"
              "on_train_end\non_fit_end\n");
    free(h);

    free(run("validate --ckpt hooks-e1.ckpt --data ../data "
             "--callbacks.hook_order.out=hooks.txt", 0));
    h = hooks_txt();
    expect(h, VALIDATION);
    free(h);

    free(run("predict --ckpt hooks-e1.ckpt --data ../data --out p.csv "
             "--callbacks.hook_order.out=hooks.txt", 0));
    h = hooks_txt();
    expect(h, "on_predict_start\non_predict_batch_end 0\non_predict_batch_end 1\n"
              "on_predict_end\n");
    free(h);
}
END_TEST

/* Resuming from epoch 0's checkpoint: on_load_checkpoint reads what on_save_checkpoint put. */
START_TEST(checkpoint_metadata_round_trip)
{
    char *h;
    free(run("train --config cfg.yaml --callbacks.hook_order.save=true --trainer.max_epochs=1",
             0));
    free(hooks_txt());
    free(run("train --config cfg.yaml --callbacks.hook_order.save=true --resume hooks-e0.ckpt",
             0));
    h = without_notes(hooks_txt());
    expect(h, "on_load_checkpoint\nloaded m2\non_fit_start\non_train_start\n" EPOCH
              "on_save_checkpoint\non_train_end\non_fit_end\n");
    free(h);
}
END_TEST

/* A stop now at step 1 (epoch 0, batch 0): epoch 0 ends after that batch, with validation. */
START_TEST(stop_now_after_the_batch)
{
    char *h, *out;
    out = run("train --config cfg.yaml --callbacks.hook_order.stop_at_step=1", 0);
    ck_assert_msg(strstr(out, "Stopped after epoch 0: org.lhost.test.hook_order: stop now"),
                  "%s", out);
    free(out);
    h = without_notes(hooks_txt());
    expect(h, "on_fit_start\n" SANITY "on_train_start\non_train_epoch_start\n" TRAIN_BATCH(0)
              VALIDATION "on_train_epoch_end\non_train_end\non_fit_end\n");
    free(h);
}
END_TEST

/* With min_epochs 2 the stop asked at step 1 waits: epoch 0 runs whole, and epoch 1 — which
 * satisfies min_epochs — stops after its first batch. */
START_TEST(stop_now_waits_for_min_epochs)
{
    char *h;
    free(run("train --config cfg.yaml --callbacks.hook_order.stop_at_step=1 "
             "--trainer.min_epochs=2 --trainer.max_epochs=5", 0));
    h = without_notes(hooks_txt());
    expect(h, "on_fit_start\n" SANITY "on_train_start\n" EPOCH "on_train_epoch_start\n"
              TRAIN_BATCH(0) TRAIN_BATCH(1) VALIDATION
              "on_train_epoch_end\non_train_end\non_fit_end\n");
    free(h);
}
END_TEST

/* The optimizer states by torch's names: SGD's momentum_buffer only with momentum (the fixture
 * checks each read in on_after_backward; Adam's are checked by every other test). */
START_TEST(optimizer_states_by_optimizer)
{
    free(run("train --config cfg.yaml --trainer.max_epochs=1 --optimizer.name=sgd "
             "--optimizer.momentum=0.9 --callbacks.hook_order.optim=1", 0));
    free(run("train --config cfg.yaml --trainer.max_epochs=1 --optimizer.name=sgd "
             "--callbacks.hook_order.optim=2", 0));
    free(run("train --config cfg.yaml --trainer.max_epochs=1 --optimizer.name=sgd "
             "--callbacks.hook_order.optim=1", 1)); /* no momentum: the fixture's read fails */
}
END_TEST

/* trainer.gradient_clip_val changes training (a tiny norm), value as well as norm. */
START_TEST(gradient_clip_val_key)
{
    char *a, *b, *c, path[512];
    free(run("train --config cfg.yaml --trainer.max_epochs=1", 0));
    snprintf(path, sizeof path, "%s/w/lightning_logs/version_0/metrics.csv", dir);
    a = read_text(path);
    free(run("train --config cfg.yaml --trainer.max_epochs=1 --trainer.gradient_clip_val=1e-4",
             0));
    snprintf(path, sizeof path, "%s/w/lightning_logs/version_1/metrics.csv", dir);
    b = read_text(path);
    free(run("train --config cfg.yaml --trainer.max_epochs=1 --trainer.gradient_clip_val=1e-4 "
             "--trainer.gradient_clip_algorithm=value", 0));
    snprintf(path, sizeof path, "%s/w/lightning_logs/version_2/metrics.csv", dir);
    c = read_text(path);
    ck_assert(a && b && c);
    ck_assert_msg(strcmp(a, b) != 0 && strcmp(b, c) != 0, "clipping changed nothing:\n%s", a);
    free(a);
    free(b);
    free(c);
    free(run("train --config cfg.yaml --trainer.gradient_clip_algorithm=max", 1));
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {fit_validate_predict_order, checkpoint_metadata_round_trip,
                                  stop_now_after_the_batch, stop_now_waits_for_min_epochs,
                                  optimizer_states_by_optimizer, gradient_clip_val_key, NULL};
    return check_main("hooks", 240, setup, teardown, tests);
}
