/* tests/unit/test_plugin_isolation.c — hostile plugins against `lhost train` and `lhost plugins`:
 * files whose entry crashes, hangs, claims 2^32-1 plugins, a 2 GiB parameter stride or an id
 * with a space are refused with one line naming the file and why, and training goes on when the
 * config does not use them; a crash in a used plugin's create or hook names the plugin and the
 * hook and exits 128 + the signal, leaving the last complete checkpoint, and with
 * --plugin-timeout a hook that never returns is named and ends the run (124); two ids under one
 * name are an error until the config picks one by id; files and folders must be owned by root or
 * the user, and no folder above them writable by others. Fixtures: tests/plugins/hostile.c.
 * Run: ctest --test-dir build -R test_plugin_isolation --output-on-failure */
#include <check.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_run.h"
#include "cli_run.h"
#include "fixture_util.h"
#include "synth_data.h"

static char work[256];
static char *plugdir;

#define CFG_HEAD                                                                              \
    "seed: 1\n"                                                                               \
    "data: {path: data, batch_size: 32}\n"                                                    \
    "model:\n  layers:\n    - {type: flatten}\n"                                              \
    "    - {type: linear, name: fc, out_features: 10}\n"

static void setup(void)
{
    unsetenv("LHOST_PLUGIN_PATH");
    setenv("XDG_DATA_HOME", "/nonexistent", 1);
    ck_assert_int_eq(synth_workdir(work, sizeof work, "isolation", 256, 64), 0);
    plugdir = fx_tmpdir();
}

static void teardown(void)
{
    (void)fx_stage; /* fixture_util.h's; these tests stage folders of their own */
    fx_remove(plugdir);
    synth_remove(work);
}

static void write_cfg(int32_t epochs, const char *callbacks)
{
    char path[512], text[2048];
    snprintf(path, sizeof path, "%s/cfg.yaml", work);
    snprintf(text, sizeof text,
             CFG_HEAD "trainer: {max_epochs: %d, enable_progress_bar: false, "
                      "default_root_dir: .}\ncallbacks:\n%s",
             (int)epochs, callbacks);
    write_text(path, text);
}

/* `lhost train -c cfg.yaml --plugin-dir <plugdir>` in the work dir; its status, output in *out. */
static int train(char **out)
{
    char args[1024];
    snprintf(args, sizeof args, "train -c cfg.yaml --plugin-dir '%s'", plugdir);
    return cli_run(work, args, out);
}

static void expect(int rc, int want, const char *out, const char *fragment)
{
    ck_assert_msg(rc == want, "exit status %d, expected %d; output:\n%s", rc, want, out);
    ck_assert_msg(strstr(out, fragment) != NULL, "missing \"%s\" in:\n%s", fragment, out);
}

/* Run `call` (which sets the output pointer `out` or `inspect`), then expect() on it: the call
 * must happen before the pointer is read. */
#define EXPECT_RUN(call, want, text, fragment)                                                \
    do {                                                                                      \
        int rc_ = (call);                                                                     \
        expect(rc_, want, text, fragment);                                                    \
    } while (0)

/* An unused file of each hostile kind: one warning line naming it, training succeeds. */
static void unused_is_refused(const char *fixture, const char *fragment)
{
    char *out;
    fx_add_case(plugdir, fixture);
    write_cfg(1, "  model_checkpoint: {dirpath: checkpoints}\n");
    EXPECT_RUN(train(&out), 0, out, fragment);
    ck_assert_msg(strstr(out, "lhost: warning: plugin") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "`Trainer.fit` stopped") != NULL, "training did not run:\n%s", out);
    free(out);
}

START_TEST(entry_crash_unused)
{
    unused_is_refused("segv", "segv.so refused: entry crashed: SIGSEGV\n");
}
END_TEST

START_TEST(entry_hang_unused)
{
    unused_is_refused("hang", "hang.so refused: entry timed out after 5 s\n");
}
END_TEST

START_TEST(many_plugins_unused)
{
    unused_is_refused("many",
                      "many.so refused: library declares 4294967295 plugins; at most 256\n");
}
END_TEST

START_TEST(huge_stride_unused)
{
    unused_is_refused("huge_stride",
                      "parameter struct_size 2147483647 is too large (at most 4096)\n");
}
END_TEST

START_TEST(space_in_id_unused)
{
    unused_is_refused("space_id", "plugin id \"org.lhost.test.with space\": character 20 (0x20) "
                                  "is not one of [A-Za-z0-9._-]\n");
}
END_TEST

/* Not loaded in-process unless used: a create that crashes costs nothing when not configured. */
START_TEST(crash_create_unused)
{
    char *out;
    fx_add_case(plugdir, "crash_create");
    write_cfg(1, "  model_checkpoint: {dirpath: checkpoints}\n");
    EXPECT_RUN(train(&out), 0, out, "`Trainer.fit` stopped");
    ck_assert_msg(strstr(out, "crash") == NULL, "%s", out);
    free(out);
}
END_TEST

START_TEST(space_in_id_used)
{
    char *out;
    fx_add_case(plugdir, "space_id");
    write_cfg(1, "  space_id: null\n");
    EXPECT_RUN(train(&out), 1, out, "callbacks.space_id: plugin space_id (");
    expect(1, 1, out, "is broken: plugin id \"org.lhost.test.with space\"");
    free(out);
}
END_TEST

/* A config naming a plugin in a refused file hears why it was refused, not "no plugin named". */
START_TEST(refused_file_used)
{
    char *out;
    fx_add_case(plugdir, "segv");
    write_cfg(1, "  segv: null\n");
    EXPECT_RUN(train(&out), 1, out, "callbacks.segv: callback plugin 'segv' was refused: ");
    expect(1, 1, out, "segv.so: entry crashed: SIGSEGV (usable: ");
    ck_assert_msg(strstr(out, "no callback plugin named") == NULL, "%s", out);
    free(out);
    /* A name no refused file is named after: not found, and the refused files listed. */
    write_cfg(1, "  nope: null\n");
    EXPECT_RUN(train(&out), 1, out, "no callback plugin named 'nope' (available: ");
    expect(1, 1, out, "refused, and maybe holding it: ");
    expect(1, 1, out, "segv.so: entry crashed: SIGSEGV\n");
    free(out);
}
END_TEST

START_TEST(refused_dir_used)
{
    char *out;
    fx_add_case(plugdir, "crash_create");
    ck_assert_int_eq(chmod(plugdir, 0777), 0);
    write_cfg(1, "  crash_create: null\n");
    EXPECT_RUN(train(&out), 1, out, "callback plugin 'crash_create' was refused: ");
    expect(1, 1, out, ": directory is writable by group or others (mode 0777)");
    ck_assert_msg(strstr(out, "no callback plugin named") == NULL, "%s", out);
    free(out);
}
END_TEST

START_TEST(crash_in_create)
{
    char *out;
    fx_add_case(plugdir, "crash_create");
    write_cfg(1, "  crash_create: null\n");
    EXPECT_RUN(train(&out), 139, out,
           "lhost: plugin org.lhost.test.crash_create crashed in create (SIGSEGV)\n");
    free(out);
}
END_TEST

/* A metric's update is called by the trainer, not by dispatch: named all the same. */
START_TEST(crash_in_metric_update)
{
    char *out;
    fx_add_case(plugdir, "crash_update");
    write_cfg(1, "  model_checkpoint: {dirpath: checkpoints}\nmetrics:\n  crash_update: null\n");
    EXPECT_RUN(train(&out), 139, out,
               "lhost: plugin org.lhost.test.crash_update crashed in update (SIGSEGV)\n");
    free(out);
}
END_TEST

/* --plugin-timeout: a hook that never returns ends the run, named. */
START_TEST(hang_in_hook_watchdog)
{
    char args[1024], *out;
    fx_add_case(plugdir, "hang_hook");
    write_cfg(1, "  model_checkpoint: {dirpath: checkpoints}\n  hang_hook: null\n");
    snprintf(args, sizeof args, "train -c cfg.yaml --plugin-dir '%s' --plugin-timeout 1",
             plugdir);
    EXPECT_RUN(cli_run(work, args, &out), 124, out,
               "lhost: plugin org.lhost.test.hang_hook hung in on_train_batch_end: no return "
               "after 1 s (--plugin-timeout)\n");
    free(out);
    snprintf(args, sizeof args, "train -c cfg.yaml --plugin-dir '%s' --plugin-timeout -3",
             plugdir);
    EXPECT_RUN(cli_run(work, args, &out), 1, out,
               "lhost: --plugin-timeout: expected a number of seconds > 0, got \"-3\"\n");
    free(out);
}
END_TEST

/* Only complete checkpoints are left under real names (host/util/atomic.c): count them. */
static int32_t complete_ckpts(const char *sub)
{
    char path[512];
    struct dirent *e;
    int32_t n = 0;
    DIR *d;
    snprintf(path, sizeof path, "%s/%s", work, sub);
    d = opendir(path);
    ck_assert_msg(d != NULL, "no %s", path);
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.')
            continue;
        ck_assert_msg(len > 5 && strcmp(e->d_name + len - 5, ".ckpt") == 0,
                      "not a checkpoint: %s", e->d_name);
        n++;
    }
    closedir(d);
    return n;
}

/* 8 batches an epoch: the 11th on_train_batch_end is in epoch 1, after epoch 0's save. */
START_TEST(crash_in_hook_keeps_checkpoint)
{
    char *out, *inspect;
    fx_add_case(plugdir, "crash_hook");
    write_cfg(3, "  model_checkpoint: {dirpath: checkpoints}\n  crash_hook: {at: 11}\n");
    EXPECT_RUN(train(&out), 139, out,
           "lhost: plugin org.lhost.test.crash_hook crashed in on_train_batch_end (SIGSEGV)\n");
    ck_assert_int_eq(complete_ckpts("checkpoints"), 1);
    EXPECT_RUN(cli_run(work, "ckpt inspect checkpoints/epoch=0-step=8.ckpt", &inspect), 0,
               inspect, "epoch");
    free(inspect);
    free(out);
}
END_TEST

START_TEST(duplicate_name)
{
    char *out;
    fx_add_case(plugdir, "dup_name");
    write_cfg(1, "  model_checkpoint: {dirpath: checkpoints}\n");
    EXPECT_RUN(train(&out), 1, out,
           "plugin name 'model_checkpoint' is taken by two plugins: org.other.model_checkpoint (");
    expect(1, 1, out, ") and org.lhost.model_checkpoint (");
    expect(1, 1, out, "pick one by id: callbacks: {model_checkpoint: {plugin: ");
    free(out);
    /* Picked by id: the reference one saves. */
    write_cfg(1,
              "  model_checkpoint: {plugin: org.lhost.model_checkpoint, dirpath: checkpoints}\n");
    EXPECT_RUN(train(&out), 0, out, "`Trainer.fit` stopped");
    ck_assert_int_eq(complete_ckpts("checkpoints"), 1);
    free(out);
}
END_TEST

/* `lhost plugins --plugin-dir DIR`: its status and output. */
static int list(const char *dir, const char *more, char **out)
{
    char args[1024];
    snprintf(args, sizeof args, "plugins --plugin-dir '%s' %s", dir, more);
    return cli_run(work, args, out);
}

/* A folder above the plugin folder writable by others (no sticky bit): refused by name. */
START_TEST(ancestor_writable)
{
    char sub[512], want[700], *out;
    snprintf(sub, sizeof sub, "%s/inner", plugdir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    fx_add_case(sub, "good");
    ck_assert_int_eq(chmod(plugdir, 0777), 0);
    snprintf(want, sizeof want, "broken: directory %s is writable by group or others (mode 0777)",
             plugdir);
    EXPECT_RUN(list(sub, "", &out), 0, out, want);
    free(out);
    EXPECT_RUN(list(sub, "--allow-insecure-plugins", &out), 0, out, "org.lhost.test.good ");
    free(out);
    /* With the sticky bit others cannot replace what is in it, as in /tmp. */
    ck_assert_int_eq(chmod(plugdir, 01777), 0);
    EXPECT_RUN(list(sub, "", &out), 0, out, "org.lhost.test.good ");
    free(out);
    snprintf(want, sizeof want, "%s/good.so", sub);
    unlink(want);
    rmdir(sub);
}
END_TEST

/* Files and folders owned by another user (only root can make one). */
START_TEST(foreign_owner)
{
    char so[512], sub[512], want[700], *out;
    if (geteuid() != 0) {
        fprintf(stderr, "test_plugin_isolation: foreign_owner needs root to chown; skipped\n");
        return;
    }
    fx_add_case(plugdir, "good");
    snprintf(so, sizeof so, "%s/good.so", plugdir);
    ck_assert_int_eq(chown(so, 65534, 0), 0);
    EXPECT_RUN(list(plugdir, "", &out), 0, out,
           "broken: file is owned by uid 65534, not by root or you (uid 0); refused without "
           "--allow-insecure-plugins");
    free(out);
    EXPECT_RUN(list(plugdir, "--allow-insecure-plugins", &out), 0, out, "org.lhost.test.good ");
    free(out);
    ck_assert_int_eq(chown(so, 0, 0), 0);
    /* The plugin folder's parent owned by someone else. */
    snprintf(sub, sizeof sub, "%s/inner", plugdir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    fx_add_case(sub, "good");
    ck_assert_int_eq(chown(plugdir, 65534, 0), 0);
    snprintf(want, sizeof want, "broken: directory %s is owned by uid 65534", plugdir);
    EXPECT_RUN(list(sub, "", &out), 0, out, want);
    free(out);
    ck_assert_int_eq(chown(plugdir, 0, 0), 0);
    snprintf(want, sizeof want, "%s/good.so", sub);
    unlink(want);
    rmdir(sub);
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {
        entry_crash_unused, entry_hang_unused, many_plugins_unused, huge_stride_unused,
        space_in_id_unused, crash_create_unused, space_in_id_used, refused_file_used,
        refused_dir_used, crash_in_create, crash_in_metric_update,
        crash_in_hook_keeps_checkpoint, hang_in_hook_watchdog, duplicate_name, ancestor_writable, foreign_owner, NULL};
    return check_main("plugin_isolation", 90, setup, teardown, tests);
}
