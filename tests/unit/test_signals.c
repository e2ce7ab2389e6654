/* tests/unit/test_signals.c — SIGINT and SIGTERM during `lhost train`: the run stops after the
 * current batch, on_exception runs (model_checkpoint saves last.ckpt, the jsonl logger closes
 * "interrupted"), metrics.csv keeps every row logged, one line says what was saved, and the exit
 * status is 130 / 143. Also: temporary files of dead processes are removed at the next save into
 * their folder, and no reader accepts a temporary file as a checkpoint.
 * Run: ctest --test-dir build -R test_signals --output-on-failure */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atomic.h"
#include "check_run.h"
#include "clock.h"
#include "cli_run.h"
#include "synth_data.h"

static char dir[256];

static void setup(void)
{
    char path[512];
    ck_assert_int_eq(synth_workdir(dir, sizeof dir, "signals", 2048, 64), 0);
    snprintf(path, sizeof path, "%s/cfg.yaml", dir);
    /* max_epochs far beyond what the test waits for: only the signal ends the run. */
    write_text(path, "seed: 5\n"
                     "data: {path: data, batch_size: 16}\n"
                     "model:\n  layers:\n"
                     "    - {type: conv2d, name: conv, out_channels: 8, kernel_size: 3}\n"
                     "    - {type: relu}\n    - {type: flatten}\n"
                     "    - {type: linear, name: fc, out_features: 10}\n"
                     "trainer: {max_epochs: 100000, log_every_n_steps: 1, "
                     "enable_progress_bar: false, default_root_dir: .}\n"
                     "callbacks:\n  model_checkpoint: {dirpath: checkpoints}\n"
                     "loggers:\n  jsonl_logger: {path: rows.jsonl}\n");
}

static void teardown(void)
{
    synth_remove(dir);
}

static int32_t count_lines(const char *text)
{
    int32_t n = 0;
    for (; text && *text; text++)
        n += *text == '\n';
    return n;
}

/* `lhost train` in the background, stdout+stderr into out.txt, `env` (assignments or "")
 * before it; its pid. */
static pid_t start_train(const char *env)
{
    char cmd[1024];
    pid_t pid;
    snprintf(cmd, sizeof cmd,
             "cd '%s' && %s exec '%s' train -c cfg.yaml > out.txt 2>&1 < /dev/null", dir, env,
             LH_LHOST_EXE);
    pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    ck_assert_int_gt(pid, 0);
    return pid;
}

/* Wait (polling, with a generous deadline for a loaded machine) until the jsonl logger holds
 * `rows` step rows after its hparams line, so training is under way. */
static void wait_rows(pid_t pid, int32_t rows)
{
    char path[512];
    double deadline = lh_clock_now() + 120;
    snprintf(path, sizeof path, "%s/rows.jsonl", dir);
    for (;;) {
        char *text = read_text(path);
        int32_t n = count_lines(text);
        int st;
        free(text);
        if (n >= rows + 1)
            return;
        if (waitpid(pid, &st, WNOHANG) == pid)
            ck_abort_msg("lhost train ended before training started (status %d)", st);
        if (lh_clock_now() > deadline) {
            kill(pid, SIGKILL);
            ck_abort_msg("no training rows after 120 s");
        }
        usleep(20000);
    }
}

static char *file_in(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return read_text(path);
}

static int wait_exit(pid_t pid)
{
    double deadline = lh_clock_now() + 120;
    int st;
    while (waitpid(pid, &st, WNOHANG) != pid) {
        if (lh_clock_now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            ck_abort_msg("lhost train still running 120 s after the signal");
        }
        usleep(20000);
    }
    if (!WIFEXITED(st)) {
        char *out = file_in("out.txt");
        ck_abort_msg("lhost train did not exit normally (status %d); output:\n%s", st,
                     out ? out : "(none)");
    }
    return WEXITSTATUS(st);
}

static void interrupt_with(int sig, const char *name, int code)
{
    char *out, *rows, *csv, *vout, line[512];
    const char *last;
    int32_t n_rows, n_csv;
    struct stat st;
    pid_t pid = start_train("");
    wait_rows(pid, 3);
    ck_assert_int_eq(kill(pid, sig), 0);
    ck_assert_int_eq(wait_exit(pid), code);

    out = file_in("out.txt");
    ck_assert_ptr_nonnull(out);
    snprintf(line, sizeof line, "lhost: interrupted by %s ", name);
    ck_assert_msg(strstr(out, line), "no \"%s\" line in:\n%s", line, out);
    ck_assert_msg(strstr(out, "; saved checkpoints/last.ckpt\n"), "no saved line in:\n%s", out);
    snprintf(line, sizeof line, "%s/checkpoints/last.ckpt", dir);
    ck_assert_msg(stat(line, &st) == 0 && st.st_size > 0, "no %s", line);

    /* on_exception reached the logger: its last line is the "interrupted" status. */
    rows = file_in("rows.jsonl");
    ck_assert_ptr_nonnull(rows);
    last = strstr(rows, "{\"status\": ");
    ck_assert_msg(last && strstr(last, "\"interrupted\""), "no interrupted status in:\n%s", rows);
    n_rows = count_lines(rows) - 2; /* less the hparams and status lines */

    /* metrics.csv has every row the logger saw, the ones of an unfinished epoch included. */
    csv = file_in("lightning_logs/version_0/metrics.csv");
    ck_assert_msg(csv != NULL, "no metrics.csv after the signal; output:\n%s", out);
    n_csv = count_lines(csv) - 1;
    ck_assert_int_ge(n_rows, 3);
    ck_assert_int_eq(n_csv, n_rows);

    /* last.ckpt is a whole checkpoint: validate loads it. */
    ck_assert_int_eq(cli_run(dir, "validate --ckpt checkpoints/last.ckpt", &vout), 0);
    ck_assert_msg(strstr(vout, "val_loss"), "validate output:\n%s", vout);
    free(vout);
    free(out);
    free(rows);
    free(csv);
}

START_TEST(sigint_saves_and_exits_130)
{
    interrupt_with(SIGINT, "SIGINT", 130);
}
END_TEST

START_TEST(sigterm_saves_and_exits_143)
{
    interrupt_with(SIGTERM, "SIGTERM", 143);
}
END_TEST

/* The interrupted run resumes from its last.ckpt and finishes the epoch it stopped in. */
START_TEST(resume_from_interrupt)
{
    char *out, *msg, args[256];
    long long epoch = -1;
    int rc;
    pid_t pid = start_train("");
    wait_rows(pid, 3);
    ck_assert_int_eq(kill(pid, SIGINT), 0);
    ck_assert_int_eq(wait_exit(pid), 130);
    out = file_in("out.txt");
    ck_assert_ptr_nonnull(out);
    /* "after epoch E, batch B" resumes in epoch E; "at the end of epoch E" in epoch E + 1. */
    if ((msg = strstr(out, "SIGINT after epoch ")) != NULL)
        epoch = strtoll(msg + strlen("SIGINT after epoch "), NULL, 10) + 1;
    else if ((msg = strstr(out, "SIGINT at the end of epoch ")) != NULL)
        epoch = strtoll(msg + strlen("SIGINT at the end of epoch "), NULL, 10) + 2;
    ck_assert_msg(epoch > 0, "no epoch in:\n%s", out);
    free(out);
    snprintf(args, sizeof args,
             "train -c cfg.yaml --resume checkpoints/last.ckpt --trainer.max_epochs=%lld", epoch);
    rc = cli_run(dir, args, &out);
    ck_assert_msg(rc == 0, "resume exited %d:\n%s", rc, out);
    ck_assert_msg(strstr(out, "max_epochs="), "resume output:\n%s", out);
    free(out);
}
END_TEST

/* A second signal while the run winds down ends it at once, with the same status; whatever
 * checkpoint exists is whole (a save cut short leaves only a temporary file). */
START_TEST(second_signal_exits_at_once)
{
    char path[512], *out = NULL, *vout;
    struct stat st;
    int rc;
    double deadline = lh_clock_now() + 120;
    /* LeakSanitizer's scan at exit stops every thread with ptrace; a signal landing in it can end
     * the process with the sanitizer's status 1, so a sanitizer build skips that scan here
     * (the one-signal cases above keep it). */
    pid_t pid = start_train("ASAN_OPTIONS=\"${ASAN_OPTIONS:-}:detect_leaks=0\"");
    wait_rows(pid, 3);
    ck_assert_int_eq(kill(pid, SIGINT), 0);
    /* The handler's note on stderr says the first signal was seen. */
    while (!(out = file_in("out.txt")) || !strstr(out, "lhost: stopping after the current batch")) {
        free(out);
        out = NULL;
        ck_assert_msg(lh_clock_now() < deadline, "no note after the first SIGINT");
        usleep(5000);
    }
    free(out);
    kill(pid, SIGINT); /* a zombie by now is fine: the status is 130 either way */
    rc = wait_exit(pid);
    out = file_in("out.txt");
    ck_assert_msg(rc == 130, "exit %d, output:\n%s", rc, out ? out : "(none)");
    free(out);
    snprintf(path, sizeof path, "%s/checkpoints/last.ckpt", dir);
    if (stat(path, &st) == 0) {
        ck_assert_int_eq(cli_run(dir, "validate --ckpt checkpoints/last.ckpt", &vout), 0);
        free(vout);
    }
}
END_TEST

static void touch(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    write_text(path, "half a save");
}

static int exists(const char *name)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

START_TEST(temp_names)
{
    long pid = 0;
    ck_assert_int_eq(lh_atomic_is_temp_name("ck/.last.ckpt.tmp.123.4", &pid), 1);
    ck_assert_int_eq(pid, 123);
    ck_assert_int_eq(lh_atomic_is_temp_name(".a.tmp.b.tmp.9.0", NULL), 1);
    ck_assert_int_eq(lh_atomic_is_temp_name("ck/last.ckpt", NULL), 0);
    ck_assert_int_eq(lh_atomic_is_temp_name(".last.ckpt.tmp.12", NULL), 0);
    ck_assert_int_eq(lh_atomic_is_temp_name(".last.ckpt.tmp.12.x", NULL), 0);
    ck_assert_int_eq(lh_atomic_is_temp_name(".tmp.1.2", NULL), 0);
    ck_assert_int_eq(lh_atomic_is_temp_name("last.ckpt.tmp.1.2", NULL), 0);
}
END_TEST

/* A dead process's temporary file goes at the next save into its folder; a live one's stays. */
START_TEST(stale_temp_removed)
{
    char dead[128], live[128], path[512];
    lh_error err;
    int st;
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    ck_assert_int_eq(waitpid(child, &st, 0), child);
    ck_assert_int_eq(kill(child, 0) == -1 && errno == ESRCH, 1);
    snprintf(dead, sizeof dead, ".last.ckpt.tmp.%ld.0", (long)child);
    snprintf(live, sizeof live, ".last.ckpt.tmp.%ld.3", (long)getppid());
    touch(dead);
    touch(live);
    touch("keep.ckpt");
    snprintf(path, sizeof path, "%s/epoch=0.ckpt", dir);
    ck_assert_int_eq(lh_atomic_write(path, "x", 1, &err), 0);
    ck_assert_msg(!exists(dead), "%s was not removed", dead);
    ck_assert_msg(exists(live), "%s of a live process was removed", live);
    ck_assert(exists("keep.ckpt"));
    ck_assert(exists("epoch=0.ckpt"));
}
END_TEST

/* inspect, validate --ckpt and train --resume refuse a temporary file with one clear line. */
START_TEST(temp_file_refused)
{
    static const char *const cmds[] = {
        "ckpt inspect .last.ckpt.tmp.999999.0",
        "validate --ckpt .last.ckpt.tmp.999999.0",
        "train -c cfg.yaml --resume .last.ckpt.tmp.999999.0",
    };
    touch(".last.ckpt.tmp.999999.0");
    for (int i = 0; i < 3; i++) {
        char *out;
        ck_assert_int_eq(cli_run(dir, cmds[i], &out), 1);
        ck_assert_msg(strstr(out, "lhost: checkpoint .last.ckpt.tmp.999999.0: a temporary file "
                                  "left by an unfinished save"),
                      "%s:\n%s", cmds[i], out);
        free(out);
    }
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {
        sigint_saves_and_exits_130, sigterm_saves_and_exits_143, resume_from_interrupt,
        second_signal_exits_at_once,
        temp_names, stale_temp_removed, temp_file_refused, NULL,
    };
    return check_main("signals", 280, setup, teardown, tests);
}
