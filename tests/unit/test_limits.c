/* tests/unit/test_limits.c — no silent caps between the config, the trainer and the loggers:
 * a data.path longer than any fixed buffer reaches the loggers whole, a logged row with more
 * than 512 keys reaches them with all its keys, and a plugin section with more parameters than
 * any fixed table is judged by the plugin's schema (an unknown key is named), not cut off.
 * Run: ctest --test-dir build -R test_limits --output-on-failure */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check_run.h"
#include "cli_run.h"
#include "synth_data.h"

/* A folder name past 63 characters (the old cut), so a truncated copy cannot match. */
#define LONG_DATA "data_with_a_name_well_past_sixty_four_characters_so_no_fixed_buffer_holds_it"
#define N_CONFMAT 6 /* 6 confusion matrices of 10 x 10 = 600 keys in one epoch row */

static char dir[256];

static void setup(void)
{
    char from[512], to[512];
    ck_assert_int_eq(synth_workdir(dir, sizeof dir, "limits", 128, 64), 0);
    snprintf(from, sizeof from, "%s/data", dir);
    snprintf(to, sizeof to, "%s/" LONG_DATA, dir);
    ck_assert_int_eq(rename(from, to), 0);
}

static void teardown(void)
{
    synth_remove(dir);
}

static char *slurp(const char *path)
{
    char *s = read_text(path);
    ck_assert_msg(s != NULL, "cannot read %s", path);
    return s;
}

static void write_cfg(const char *extra)
{
    char path[512], text[8192], metrics[2048] = "";
    int i;
    for (i = 0; i < N_CONFMAT; i++) {
        char m[128];
        snprintf(m, sizeof m, "  cm%d: {plugin: confusion_matrix, num_classes: 10}\n", i);
        strcat(metrics, m);
    }
    snprintf(path, sizeof path, "%s/cfg.yaml", dir);
    snprintf(text, sizeof text,
             "seed: 1\n"
             "data: {path: " LONG_DATA ", batch_size: 32}\n"
             "model:\n  layers:\n"
             "    - {type: flatten}\n    - {type: linear, name: fc, out_features: 10}\n"
             "trainer: {max_epochs: 1, log_every_n_steps: 1000, enable_progress_bar: false, "
             "default_root_dir: .}\n"
             "metrics:\n%s"
             "loggers:\n  jsonl_logger: {}\n"
             "%s",
             metrics, extra);
    write_text(path, text);
}

START_TEST(loggers_see_whole_values)
{
    char *out, path[512], *jsonl, *line, *save = NULL, want[512];
    int rc, most = 0;
    write_cfg("");
    rc = cli_run(dir, "train --config cfg.yaml", &out);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    free(out);
    snprintf(path, sizeof path, "%s/lightning_logs/version_0/metrics.jsonl", dir);
    jsonl = slurp(path);
    /* hparams: the data path whole (it is the config's value, made absolute or not). */
    snprintf(want, sizeof want, "%s\"", LONG_DATA);
    ck_assert_msg(strstr(jsonl, want) != NULL, "data.path cut short in the hparams:\n%.400s",
                  jsonl);
    /* The widest row: every confusion-matrix cell of every instance, nothing dropped. */
    for (line = strtok_r(jsonl, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int keys = 0;
        const char *p;
        for (p = line; (p = strstr(p, "\": ")); p += 3)
            keys++;
        if (keys > most)
            most = keys;
    }
    ck_assert_msg(most >= N_CONFMAT * 100, "the widest logged row had %d keys, expected at "
                  "least %d", most, N_CONFMAT * 100);
    free(jsonl);
}
END_TEST

START_TEST(many_parameters_judged_by_the_schema)
{
    char extra[8192] = "callbacks:\n  early_stopping: {monitor: val_loss";
    char *out;
    int i, rc;
    for (i = 0; i < 140; i++) {
        char kv[32];
        snprintf(kv, sizeof kv, ", extra_%d: 1", i);
        strcat(extra, kv);
    }
    strcat(extra, "}\n");
    write_cfg(extra);
    rc = cli_run(dir, "train --config cfg.yaml", &out);
    ck_assert_msg(rc != 0, "140 unknown parameters were accepted:\n%s", out);
    ck_assert_msg(strstr(out, "extra_0") && !strstr(out, "too many"),
                  "expected the first unknown parameter named, got:\n%s", out);
    free(out);
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {
        loggers_see_whole_values,
        many_parameters_judged_by_the_schema,
        NULL,
    };
    return check_main("limits", 120, setup, teardown, tests);
}
