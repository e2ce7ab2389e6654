/* tests/unit/test_progress.c — host/train/progress.c: the bar's layout at any width (values left
 * out rather than wrapped, the bar narrowing first), v_num, messages on their own lines, and a
 * real 3-epoch run in tmux at 80 and 160 columns: one bar line per epoch plus the messages, no
 * line wrapped, no validation bar left behind (needs tmux; without it those two tests say so and
 * pass). Run: ctest --test-dir build -R test_progress --output-on-failure */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "cli_run.h"
#include "lhost/host.h"
#include "progress.h"
#include "signals.h"
#include "synth_data.h"

static void fill_log(lh_logstore *log)
{
    static const char *const keys[] = {"loss",           "acc",          "precision",
                                       "recall",         "val_loss",     "val_acc",
                                       "val_precision",  "val_recall",   "a_rather_long_key"};
    lh_logstore_init(log);
    for (int i = 0; i < 9; i++)
        lh_logstore_put(log, keys[i], 0.123456789 * (i + 1), 1.0,
                        i == 0 ? LHOST_LOGF_ON_STEP : LHOST_LOGF_PROG_BAR);
    lh_logstore_put(log, "hidden", 1.0, 1.0, 0); /* not a prog_bar value: never shown */
}

START_TEST(test_format_fits_every_width)
{
    lh_logstore log;
    char line[2048];
    fill_log(&log);
    for (int w = 1; w <= 300; w++) {
        lh_progress_format(line, sizeof line, w, "Epoch 12", 7, 20, 65.0, 3.5, "4", &log);
        ck_assert_msg(strlen(line) <= (size_t)(w > 1 ? w - 1 : 1), "width %d: %zu columns: %s",
                      w, strlen(line), line);
        ck_assert_ptr_null(strstr(line, "hidden"));
        if (w >= 60) {
            ck_assert_msg(strstr(line, "Epoch 12:  35%|") == line, "%s", line);
            ck_assert_msg(line[strlen(line) - 1] == ']', "width %d: %s", w, line);
            ck_assert_msg(strstr(line, "| 7/20 [01:05<00:03, 3.50it/s"), "%s", line);
        }
    }
    /* wide: every value, tqdm's 3 digits, v_num first, the full bar */
    lh_progress_format(line, sizeof line, 300, "Epoch 0", 10, 20, 1.0, 10.0, "4", &log);
    ck_assert_msg(strstr(line, "|##########          |"), "%s", line);
    ck_assert_msg(strstr(line, ", v_num=4, loss=0.123, acc=0.247, precision=0.37, "
                               "recall=0.494, val_loss=0.617, val_acc=0.741, "
                               "val_precision=0.864, val_recall=0.988, a_rather_long_key=1.11]"),
                  "%s", line);
    /* 80 columns: values that do not fit are left out whole, never cut */
    lh_progress_format(line, sizeof line, 80, "Epoch 0", 10, 20, 1.0, 10.0, "4", &log);
    ck_assert_msg(strstr(line, "v_num=4, loss=0.123"), "%s", line);
    ck_assert_ptr_null(strstr(line, "a_rather_long_key"));
    ck_assert_msg(strstr(line, "| 10/20") - strchr(line, '|') - 1 >= 10,
                  "the bar keeps 10 cells: %s", line);
    lh_logstore_free(&log);
}
END_TEST

START_TEST(test_v_num_from_run_dir)
{
    lh_progress p;
    lh_progress_init(&p, stdout, 0);
    lh_progress_set_run(&p, "./lightning_logs/version_12");
    ck_assert_str_eq(p.v_num, "12");
    lh_progress_set_run(&p, "somewhere/else");
    ck_assert_str_eq(p.v_num, "");
    lh_progress_done(&p);
    ck_assert_ptr_null(lh_progress_active());
}
END_TEST

/* A message while a bar is drawn: the bar line is cleared, the message has its own line and the
 * bar comes back after it. */
START_TEST(test_message_above_bar)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    lh_logstore log;
    lh_progress p;
    fill_log(&log);
    setenv("COLUMNS", "100", 1);
    lh_progress_init(&p, f, 1);
    ck_assert_int_eq(p.width, 100);
    lh_progress_epoch_start(&p, 0, 10, 0);
    lh_progress_step(&p, &log, 10);
    lh_progress_message(f, "lhost: org.x: info: hello");
    lh_progress_epoch_end(&p, &log, 1.0, 0.5);
    lh_progress_done(&p);
    fclose(f);
    ck_assert_msg(strstr(text, "]\033[K\r\033[Klhost: org.x: info: hello\n\rEpoch 0: 100%|"),
                  "%s", text);
    ck_assert_msg(strstr(text, "\033[K\n") && text[strlen(text) - 1] == '\n', "%s", text);
    free(text);
    lh_logstore_free(&log);
}
END_TEST

/* A SIGWINCH makes the next draw ask the width again (here COLUMNS: the output is no terminal),
 * and the lines drawn after it fit the new width. */
START_TEST(test_sigwinch_rewidths)
{
    char *text = NULL, *last;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    lh_logstore log;
    lh_progress p;
    fill_log(&log);
    setenv("COLUMNS", "150", 1);
    lh_progress_init(&p, f, 1);
    lh_progress_epoch_start(&p, 0, 10, 0);
    lh_progress_step(&p, &log, 10);
    ck_assert_int_eq(p.width, 150);
    setenv("COLUMNS", "60", 1);
    ck_assert_int_eq(raise(SIGWINCH), 0);
    lh_progress_step(&p, &log, 10);
    ck_assert_int_eq(p.width, 60);
    lh_progress_done(&p);
    fclose(f);
    /* the last bar drawn: after the last "\r", up to its erase-to-end-of-line */
    last = strrchr(text, '\r');
    ck_assert_ptr_nonnull(last);
    ck_assert_msg(strstr(last, "\033[K") - last - 1 <= 59, "%s", last + 1);
    ck_assert_int_eq(lh_signals_winch_take(), 0); /* the watch is gone with the bar */
    free(text);
    lh_logstore_free(&log);
}
END_TEST

/* ---- a real run in tmux ------------------------------------------------------------------ */

static const char config[] =
    "seed: 0\n"
    "data: {path: data, batch_size: 16, num_classes: 10}\n"
    "model:\n"
    "  input_shape: [1, 28, 28]\n"
    "  layers:\n"
    "    - {type: flatten}\n"
    "    - {type: linear, name: fc, in_features: 784, out_features: 10}\n"
    "optimizer: {name: sgd, lr: 0.01}\n"
    "trainer: {max_epochs: 3, device: cpu, log_every_n_steps: 5, default_root_dir: .}\n"
    "metrics:\n"
    "  acc: {plugin: accuracy, num_classes: 10}\n"
    "  precision: {plugin: precision, num_classes: 10}\n"
    "  recall: {plugin: recall, num_classes: 10}\n"
    "callbacks:\n"
    "  early_stopping: {monitor: val_acc, mode: max, patience: 5, verbose: true}\n"
    "  model_checkpoint: {monitor: val_acc, mode: max}\n";

static int have_tmux(void)
{
    if (system("command -v tmux > /dev/null 2>&1") == 0)
        return 1;
    fprintf(stderr, "tmux not found (Debian package: tmux): the terminal test is skipped\n");
    return 0;
}

/* Capture the pane's whole history, joined (-J: wrapped lines as one) or as the screen shows. */
static char *capture(const char *sock, int joined)
{
    char cmd[512], *out;
    FILE *p;
    size_t n = 0, cap = 1 << 16;
    snprintf(cmd, sizeof cmd, "tmux -L %s capture-pane -p %s -S - -t lh 2>/dev/null", sock,
             joined ? "-J" : "");
    out = calloc(1, cap);
    if (!(p = popen(cmd, "r")))
        return out;
    n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    pclose(p);
    return out;
}

static int count_lines(const char *s, const char *prefix)
{
    int n = 0;
    for (const char *l = s; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l))
        if (*l != '\n' && (!prefix || strncmp(l, prefix, strlen(prefix)) == 0))
            n++;
    return n;
}

static void run_in_tmux(int width)
{
    char dir[256], path[512], sock[64], cmd[2048], *screen = NULL, *joined;
    int i;
    if (!have_tmux())
        return;
    ck_assert_int_eq(synth_workdir(dir, sizeof dir, "progress", 512, 128), 0);
    snprintf(path, sizeof path, "%s/c.yaml", dir);
    write_text(path, config);
    snprintf(sock, sizeof sock, "lh_progress_%d", (int)getpid());
    snprintf(cmd, sizeof cmd,
             "tmux -L %s -f /dev/null new-session -d -s lh -x %d -y 50 "
             "\"cd '%s' && '%s' train -c c.yaml; echo lh_exit=\\$?; sleep 120\"",
             sock, width, dir, LH_LHOST_EXE);
    ck_assert_int_eq(system(cmd), 0);
    for (i = 0; i < 600; i++) { /* up to 60 s */
        free(screen);
        screen = capture(sock, 1);
        if (strstr(screen, "lh_exit="))
            break;
        usleep(100000);
    }
    joined = screen;
    screen = capture(sock, 0);
    snprintf(cmd, sizeof cmd, "tmux -L %s kill-server 2>/dev/null", sock);
    (void)!system(cmd);
    ck_assert_msg(strstr(joined, "lh_exit=0"), "the run did not end well:\n%s", joined);
    /* no wrapped line: the joined history has as many lines as the screen, none too wide */
    ck_assert_msg(count_lines(joined, NULL) == count_lines(screen, NULL),
                  "%d lines joined, %d on screen: some line wrapped:\n%s",
                  count_lines(joined, NULL), count_lines(screen, NULL), screen);
    for (const char *l = screen; *l; l = strchr(l, '\n') + 1) {
        ck_assert_msg(strchr(l, '\n') - l <= width, "a line wider than %d:\n%s", width, screen);
        ck_assert_msg(strncmp(l, "Epoch ", 6) != 0 || !strstr(l, "lhost:") ||
                          strstr(l, "lhost:") > strchr(l, '\n'),
                      "a message glued to a bar:\n%s", screen);
    }
    /* one bar line per epoch, each at 100%, with v_num; no validation bar left */
    ck_assert_msg(count_lines(screen, "Epoch ") == 3, "bar lines:\n%s", screen);
    ck_assert_msg(count_lines(screen, "Epoch 0: 100%|") == 1 &&
                      count_lines(screen, "Epoch 1: 100%|") == 1 &&
                      count_lines(screen, "Epoch 2: 100%|") == 1,
                  "%s", screen);
    ck_assert_msg(strstr(screen, "v_num=0"), "%s", screen);
    ck_assert_msg(!strstr(screen, "Validation DataLoader"), "%s", screen);
    /* the messages, each on lines of their own */
    ck_assert_msg(count_lines(screen, "lhost: org.lhost.early_stopping: info:") >= 2, "%s",
                  screen);
    ck_assert_msg(count_lines(screen, "lhost: org.lhost.model_checkpoint: info:") == 1, "%s",
                  screen);
    if (width >= 160) /* wide enough for the validation values too */
        ck_assert_msg(strstr(screen, "val_acc="), "%s", screen);
    free(screen);
    free(joined);
    synth_remove(dir);
}

START_TEST(test_tmux_80_columns)
{
    run_in_tmux(80);
}
END_TEST

START_TEST(test_tmux_160_columns)
{
    run_in_tmux(160);
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {test_format_fits_every_width, test_v_num_from_run_dir,
                                         test_message_above_bar, test_sigwinch_rewidths,
                                         test_tmux_80_columns,
                                         test_tmux_160_columns, NULL};
    return check_main("progress", 90, NULL, NULL, tests);
}
