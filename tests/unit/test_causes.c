/* tests/unit/test_causes.c — every failure names the thing and its cause, and limits are checked
 * when the config is read: a full disk (injected with LHOST_TEST_FULL_DISK, host/util/atomic.c;
 * also a real 64 KiB tmpfs where the test may mount one) keeps strerror and the path, a too-long filename template fails before training, FIFOs are
 * refused without blocking, YAML reader errors carry their line:column, overrides are bounded
 * and plugin parameters stay strings, metrics.csv keys are quoted as Python's csv does, and a
 * checkpoint's hparams are type-checked. Each case checks the exit status and the message.
 * Run: ctest --test-dir build -R test_causes --output-on-failure */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_run.h"
#include "cli_run.h"
#include "clock.h"
#include "logstore.h"
#include "synth_data.h"

static char dir[256];

static const char *const good_yaml =
    "seed: 1\n"
    "data: {path: data, batch_size: 32}\n"
    "model:\n  layers:\n"
    "    - {type: conv2d, name: conv, out_channels: 4, kernel_size: 3}\n"
    "    - {type: relu}\n    - {type: flatten}\n"
    "    - {type: linear, name: fc, out_features: 10}\n"
    "trainer: {max_epochs: 1, enable_progress_bar: false, default_root_dir: ., device: cpu}\n"
    "callbacks:\n  model_checkpoint: {dirpath: checkpoints}\n";

static void setup(void)
{
    char path[512];
    ck_assert_int_eq(synth_workdir(dir, sizeof dir, "causes", 256, 64), 0);
    snprintf(path, sizeof path, "%s/good.yaml", dir);
    write_text(path, good_yaml);
    setenv("LHOST_DATA_CACHE", "0", 1);
}

static void teardown(void) { synth_remove(dir); }

/* Run lhost with `args` in the work dir; assert the status and that the output holds every
 * NULL-terminated fragment. Returns the output (caller frees). */
static char *expect(int rc, const char *args, ...)
{
    char *out;
    int got = cli_run(dir, args, &out);
    va_list ap;
    ck_assert_msg(got == rc, "lhost %s: status %d, expected %d:\n%s", args, got, rc, out);
    va_start(ap, args);
    for (const char *frag = va_arg(ap, const char *); frag; frag = va_arg(ap, const char *))
        ck_assert_msg(strstr(out, frag), "lhost %s: no \"%s\" in:\n%s", args, frag, out);
    va_end(ap);
    return out;
}

static int exists(const char *rel)
{
    char path[600];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    return stat(path, &st) == 0;
}

/* Train once for a checkpoint to read back. */
static void make_good_ckpt(void)
{
    free(expect(0, "train -c good.yaml", "max_epochs=1", NULL));
    ck_assert(exists("checkpoints/epoch=0-step=8.ckpt"));
}

/* ---- I/O failures keep strerror and the path ------------------------------------------- */

START_TEST(full_disk_keeps_enospc)
{
    char *out;
    setenv("LHOST_TEST_FULL_DISK", ".ckpt", 1);
    out = expect(1, "train -c good.yaml", "checkpoints/epoch=0-step=8.ckpt",
                 "write failed: No space left on device", NULL);
    unsetenv("LHOST_TEST_FULL_DISK");
    ck_assert_msg(!strstr(out, "failed (-5)"), "%s", out);
    free(out);
    ck_assert(!exists("checkpoints/epoch=0-step=8.ckpt")); /* no half file under its name */
    /* metrics.csv goes through the same atomic writer */
    setenv("LHOST_TEST_FULL_DISK", "metrics.csv", 1);
    free(expect(1, "train -c good.yaml",
                "metrics: ./lightning_logs/version_1/metrics.csv: write failed: No space left on "
                "device",
                NULL));
    unsetenv("LHOST_TEST_FULL_DISK");
    ck_assert(!exists("lightning_logs/version_1/metrics.csv"));
}
END_TEST

/* The same on a real full disk: a 64 KiB tmpfs as dirpath, where mounting one is allowed (root
 * with CAP_SYS_ADMIN); elsewhere the injected failure above stands for it. */
START_TEST(full_tmpfs_keeps_enospc)
{
    char mnt[600], cmd[800];
    char *out;
    snprintf(mnt, sizeof mnt, "%s/small", dir);
    ck_assert_int_eq(mkdir(mnt, 0755), 0);
    snprintf(cmd, sizeof cmd, "mount -t tmpfs -o size=64k tmpfs '%s' 2>/dev/null", mnt);
    if (geteuid() != 0 || system(cmd) != 0)
        return; /* no tmpfs here */
    out = expect(1, "train -c good.yaml --callbacks.model_checkpoint.dirpath=small",
                 "small/epoch=0-step=8.ckpt: write failed: No space left on device", NULL);
    free(out);
    snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", mnt);
    FILE *p = popen(cmd, "r");
    int left = -1;
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(fscanf(p, "%d", &left), 1);
    pclose(p);
    snprintf(cmd, sizeof cmd, "umount '%s'", mnt);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(left, 0); /* the temporary file is gone too */
}
END_TEST

START_TEST(predict_out_names_errno)
{
    make_good_ckpt();
    free(expect(1, "predict --ckpt checkpoints/epoch=0-step=8.ckpt --data data "
                   "--out missing/p.csv",
                "cannot write missing/p.csv: No such file or directory", NULL));
    free(expect(1, "predict --ckpt checkpoints/epoch=0-step=8.ckpt --data data --out /dev/full",
                "writing /dev/full failed: No space left on device", NULL));
}
END_TEST

/* ---- limits at setup --------------------------------------------------------------------- */

START_TEST(long_template_refused_at_setup)
{
    char args[600], name[252];
    char *out;
    memset(name, 'a', 251);
    name[251] = '\0';
    snprintf(args, sizeof args, "train -c good.yaml --callbacks.model_checkpoint.filename=%s",
             name);
    out = expect(1, args, "is 256 bytes, more than the 255 a file name can have", NULL);
    ck_assert_msg(!strstr(out, "Epoch 0"), "trained before refusing:\n%s", out);
    free(out);
}
END_TEST

START_TEST(format_precision_and_width_bounded)
{
    free(expect(1, "train -c good.yaml '--callbacks.model_checkpoint.filename={val_loss:"
                   ".4294967296f}'",
                "format \".4294967296f\" of {val_loss}", "precision <= 30", NULL));
    free(expect(1, "train -c good.yaml '--callbacks.model_checkpoint.filename={val_loss:"
                   "99999999999}'",
                "format \"99999999999\" of {val_loss}", "width <= 64", NULL));
}
END_TEST

/* ---- files that are not files -------------------------------------------------------------- */

START_TEST(fifo_config_refused)
{
    char path[600];
    snprintf(path, sizeof path, "%s/pipe.yaml", dir);
    ck_assert_int_eq(mkfifo(path, 0644), 0);
    free(expect(1, "train -c pipe.yaml", "config pipe.yaml: not a regular file (a FIFO)", NULL));
}
END_TEST

START_TEST(fifo_ckpt_refused)
{
    char path[600];
    snprintf(path, sizeof path, "%s/pipe.ckpt", dir);
    ck_assert_int_eq(mkfifo(path, 0644), 0);
    free(expect(1, "validate --ckpt pipe.ckpt",
                "checkpoint pipe.ckpt: not a regular file (a FIFO)", NULL));
    free(expect(1, "train -c good.yaml --resume pipe.ckpt",
                "checkpoint pipe.ckpt: not a regular file (a FIFO)", NULL));
    free(expect(1, "validate --ckpt data", "checkpoint data: not a regular file (a directory)",
                NULL));
}
END_TEST

START_TEST(fifo_data_file_refused)
{
    char path[600];
    snprintf(path, sizeof path, "%s/data/t10k-images-idx3-ubyte", dir);
    ck_assert_int_eq(mkfifo(path, 0644), 0); /* found before the .gz of the same name */
    free(expect(1, "train -c good.yaml",
                "data data/t10k-images-idx3-ubyte: not a regular file (a FIFO), expected an IDX "
                "file",
                NULL));
}
END_TEST

/* ---- YAML reader errors at their place ----------------------------------------------------- */

static void write_bytes(const char *name, const char *bytes, size_t n)
{
    char path[600];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
    fclose(f);
}

START_TEST(yaml_nul_at_line_and_column)
{
    static const char text[] = "seed: 1\ntrainer:\n  max_epochs: 1\n  na\0me: 3\n";
    write_bytes("nul.yaml", text, sizeof text - 1);
    free(expect(1, "train -c nul.yaml",
                "config nul.yaml:4:5: control characters are not allowed (0x00 at byte 37)",
                NULL));
}
END_TEST

START_TEST(yaml_bad_utf8_at_line_and_column)
{
    static const char text[] = "seed: 1\n# caf\xe9\ntrainer: {}\n";
    static const char lead[] = "seed: 1\nx: \xff\n";
    write_bytes("latin1.yaml", text, sizeof text - 1);
    free(expect(1, "train -c latin1.yaml", "config latin1.yaml:2:", "UTF-8", NULL));
    write_bytes("lead.yaml", lead, sizeof lead - 1);
    free(expect(1, "train -c lead.yaml",
                "config lead.yaml:2:4: invalid leading UTF-8 octet (0xff at byte 11)", NULL));
}
END_TEST

/* ---- overrides ------------------------------------------------------------------------------ */

START_TEST(override_depth_bounded)
{
    /* 64,000 parts in a 128 KB argument: refused at once, not 4 GB and 11 s later. The
     * argument is too long for a command line string here: the shell reads it from a file. */
    size_t n = 64000;
    char *key = malloc(2 * n + 8), *p = key, path[600];
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, i ? ".a" : "--a");
    sprintf(p, "=1");
    snprintf(path, sizeof path, "%s/arg.txt", dir);
    write_text(path, key);
    free(key);
    double t0 = lh_clock_now();
    free(expect(1, "train -c good.yaml \"$(cat arg.txt)\"",
                "the key has 64000 dotted parts, at most 64", NULL));
    ck_assert_msg(lh_clock_now() - t0 < 5.0, "took %.1f s", lh_clock_now() - t0);
    /* without a value: the message still says what is wrong */
    write_text(path, "--a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a."
                     "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a."
                     "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a."
                     "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a."
                     "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a");
    free(expect(2, "train -c good.yaml \"$(cat arg.txt)\"", "... needs a value", NULL));
    /* 65 parts: one more than a file may nest; 64 are accepted by the override itself */
    char args[300];
    p = args + sprintf(args, "train -c good.yaml --");
    for (int i = 0; i < 65; i++)
        p += sprintf(p, i ? ".a" : "a");
    sprintf(p, "=1");
    free(expect(1, args, "the key has 65 dotted parts, at most 64", NULL));
    args[strlen(args) - 4] = '\0'; /* drop ".a=1" */
    strcat(args, "=1");
    /* 64 parts pass the bound and reach the key check */
    free(expect(1, args, "unknown key; expected one of seed, data", NULL));
}
END_TEST

START_TEST(override_plugin_param_stays_string)
{
    free(expect(0, "train -c good.yaml '--callbacks.model_checkpoint.filename={epoch}-{step}'",
                "max_epochs=1", NULL));
    ck_assert(exists("checkpoints/epoch=0-step=8.ckpt"));
    /* "{epoch}" alone is valid YAML (a map): still the text for a plugin parameter */
    free(expect(0, "train -c good.yaml '--callbacks.model_checkpoint.filename={epoch}'",
                "max_epochs=1", NULL));
    ck_assert(exists("checkpoints/epoch=0.ckpt"));
    /* quotes are still YAML's: removed */
    free(expect(0, "train -c good.yaml '--callbacks.model_checkpoint.filename=\"q-{epoch}\"'",
                "max_epochs=1", NULL));
    ck_assert(exists("checkpoints/q-epoch=0.ckpt"));
    /* a key that takes a list still parses one */
    free(expect(0, "train -c good.yaml '--model.input_shape=[1, 28, 28]'", "max_epochs=1",
                NULL));
}
END_TEST

/* ---- metrics.csv ---------------------------------------------------------------------------- */

START_TEST(csv_keys_quoted_as_python_csv)
{
    lh_logstore s, back;
    lh_error err = {{0}};
    char path[600];
    char *text;
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    lh_logstore_init(&s);
    lh_logstore_row_add(&s, "plain", 1);
    lh_logstore_row_add(&s, "a,b", 2);
    lh_logstore_row_add(&s, "say \"hi\"", 3);
    lh_logstore_row_add(&s, "two\nlines", 4);
    ck_assert_int_eq(lh_logstore_commit_row(&s, 0, 7), 0);
    ck_assert_msg(lh_logstore_write_csv(&s, path, &err) == 0, "%s", err.msg);
    text = read_text(path);
    /* what csv.writer(f).writerow(...) writes, but with \n line ends: the keys and epoch, step
     * sorted as CSVLogger sorts them, floats as Python's repr writes them */
    ck_assert_str_eq(text, "\"a,b\",epoch,plain,\"say \"\"hi\"\"\",step,\"two\nlines\"\n"
                           "2.0,0,1.0,3.0,7,4.0\n");
    free(text);
    lh_logstore_init(&back);
    ck_assert_msg(lh_logstore_read_csv(&back, path, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(back.n_rows, 1);
    ck_assert_int_eq(back.rows[0].count, 4);
    ck_assert_str_eq(back.rows[0].keys[0], "a,b");
    ck_assert_str_eq(back.rows[0].keys[2], "say \"hi\"");
    ck_assert_str_eq(back.rows[0].keys[3], "two\nlines");
    ck_assert_double_eq(back.rows[0].values[3], 4);
    ck_assert_int_eq(back.rows[0].step, 7);
    lh_logstore_free(&s);
    lh_logstore_free(&back);
}
END_TEST

/* ---- checkpoint hparams ---------------------------------------------------------------------- */

/* Replace the first `from` in the file by `to` (same length, so the header stays valid). */
static void patch(const char *rel, const char *out_rel, const char *from, const char *to)
{
    char path[600];
    FILE *f;
    long n;
    char *buf, *hit;
    ck_assert_uint_eq(strlen(from), strlen(to));
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n);
    ck_assert_int_eq((long)fread(buf, 1, (size_t)n, f), n);
    fclose(f);
    hit = memmem(buf, (size_t)n, from, strlen(from));
    ck_assert_msg(hit != NULL, "no %s in %s", from, rel);
    memcpy(hit, to, strlen(to));
    snprintf(path, sizeof path, "%s/%s", dir, out_rel);
    f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq((long)fwrite(buf, 1, (size_t)n, f), n);
    fclose(f);
    free(buf);
}

START_TEST(hparams_wrong_type_refused)
{
    make_good_ckpt();
    /* in the header the hparams are JSON inside a JSON string: quotes are escaped */
    patch("checkpoints/epoch=0-step=8.ckpt", "dp.ckpt", "\\\"data_path\\\":\\\"data\\\"",
          "\\\"data_path\\\":12345678");
    free(expect(1, "validate --ckpt dp.ckpt",
                "checkpoint dp.ckpt: metadata hparams.data_path: expected a string, got 12345678",
                NULL));
    free(expect(1, "train -c good.yaml --resume dp.ckpt",
                "metadata hparams.data_path: expected a string", NULL));
    patch("checkpoints/epoch=0-step=8.ckpt", "bs.ckpt", "\\\"batch_size\\\":32",
          "\\\"batch_size\\\":[]");
    free(expect(1, "validate --ckpt bs.ckpt",
                "checkpoint bs.ckpt: metadata hparams.batch_size: expected a number, got []",
                NULL));
    /* range, as the config checks it */
    patch("checkpoints/epoch=0-step=8.ckpt", "b0.ckpt", "\\\"batch_size\\\":32",
          "\\\"batch_size\\\":-0");
    free(expect(1, "validate --ckpt b0.ckpt",
                "b0.ckpt (metadata):1: data.batch_size: expected an integer from 1 to", NULL));
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {
        full_disk_keeps_enospc, full_tmpfs_keeps_enospc, predict_out_names_errno, long_template_refused_at_setup,
        format_precision_and_width_bounded, fifo_config_refused, fifo_ckpt_refused,
        fifo_data_file_refused,
        yaml_nul_at_line_and_column, yaml_bad_utf8_at_line_and_column, override_depth_bounded,
        override_plugin_param_stays_string, csv_keys_quoted_as_python_csv,
        hparams_wrong_type_refused, NULL,
    };
    return check_main("causes", 120, setup, teardown, tests);
}
