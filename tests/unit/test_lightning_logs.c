/* tests/unit/test_lightning_logs.c — what a Lightning user finds in lightning_logs/version_N
 * after a run with the tutorial's config shape (examples/seed.yaml's metrics and callbacks, a
 * small model, synthetic data): metrics.csv by CSVLogger's rules (against
 * tests/golden/csv_rules_expected.csv, made by tests/golden/gen_csv_rules.py from Lightning's
 * rules), the version folder max+1, hparams.yaml and config.yaml, the tensorboard logger's
 * event file read back by a reader written here (TFRecord framing, both CRC32Cs, the Events'
 * protobuf fields) and `lhost plot`'s PNG and SVG. One training run serves every test.
 * Run: ctest --test-dir build -R test_lightning_logs --output-on-failure */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_run.h"
#include "cli_run.h"
#include "logstore.h"
#include "synth_data.h"

static char dir[256], run[512];
static int train_rc = -1;
static char *train_out;

static void run_once(void)
{
    char path[512], text[4096];
    if (synth_workdir(dir, sizeof dir, "llogs", 64, 32))
        return;
    /* version_0 and version_7 exist: Lightning takes max + 1, so the run is version_8 */
    snprintf(path, sizeof path, "%s/lightning_logs/version_0", dir);
    mkdir(dir, 0755);
    snprintf(text, sizeof text, "%s/lightning_logs", dir);
    mkdir(text, 0755);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/lightning_logs/version_7", dir);
    mkdir(path, 0755);
    snprintf(run, sizeof run, "%s/lightning_logs/version_8", dir);
    snprintf(path, sizeof path, "%s/tut.yaml", dir);
    snprintf(text, sizeof text,
             "seed: 0\n"
             "data: {path: %s/data, batch_size: 16, num_classes: 10}\n"
             "model:\n  layers:\n"
             "    - {type: conv2d, name: conv1.0, out_channels: 4, kernel_size: 3, padding: 1}\n"
             "    - {type: relu}\n    - {type: maxpool2d, kernel_size: 2}\n"
             "    - {type: flatten}\n    - {type: linear, name: fc, out_features: 10}\n"
             "optimizer: {name: adam, lr: 1.0e-3}\n"
             "trainer: {max_epochs: 2, limit_train_batches: 4, limit_val_batches: 1, "
             "log_every_n_steps: 2, enable_progress_bar: false, default_root_dir: %s}\n"
             "metrics:\n"
             "  acc: {plugin: accuracy, num_classes: 10, average: micro}\n"
             "  precision: {plugin: precision, num_classes: 10, average: micro}\n"
             "  recall: {plugin: recall, num_classes: 10, average: micro}\n"
             "callbacks:\n"
             "  early_stopping: {monitor: val_acc, patience: 3, mode: max}\n"
             "  model_checkpoint: {dirpath: checkpoints, filename: \"modelo-{val_acc:.5f}\", "
             "save_top_k: 1, monitor: val_acc, mode: max}\n"
             "loggers:\n  tensorboard: {}\n",
             dir, dir);
    write_text(path, text);
    train_rc = cli_run(dir, "train --config tut.yaml", &train_out);
}

static void cleanup(void)
{
    free(train_out);
    if (dir[0])
        synth_remove(dir);
}

static void assert_trained(void)
{
    ck_assert_msg(train_rc == 0, "train exit %d:\n%s", train_rc, train_out ? train_out : "");
}

/* ---- a small CSV reader ------------------------------------------------------------------ */

#define MAXC 32
#define MAXR 64

typedef struct table {
    int32_t nc, nr;
    char head[MAXC][96];
    char cell[MAXR][MAXC][64];
} table;

static void read_table(const char *path, table *t)
{
    char *text = read_text(path), *line, *save = NULL;
    memset(t, 0, sizeof *t);
    ck_assert_msg(text != NULL, "cannot read %s", path);
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *c = line;
        int32_t col = 0;
        for (;;) {
            char *end = strchr(c, ',');
            size_t n = end ? (size_t)(end - c) : strlen(c);
            if (t->nr == 0 && t->nc == 0 && col < MAXC)
                snprintf(t->head[col], sizeof t->head[0], "%.*s", (int)n, c);
            else if (t->nr > 0 && col < MAXC)
                snprintf(t->cell[t->nr - 1][col], sizeof t->cell[0][0], "%.*s", (int)n, c);
            col++;
            if (!end)
                break;
            c = end + 1;
        }
        if (t->nr == 0)
            t->nc = col;
        else
            ck_assert_msg(col == t->nc, "%s row %d: %d cells, header has %d", path, t->nr, col,
                          t->nc);
        ck_assert(t->nr < MAXR);
        t->nr++;
    }
    t->nr--; /* the header */
    free(text);
}

static int32_t col_of(const table *t, const char *key)
{
    for (int32_t c = 0; c < t->nc; c++)
        if (strcmp(t->head[c], key) == 0)
            return c;
    return -1;
}

/* ---- metrics.csv, hparams.yaml, versions ------------------------------------------------- */

START_TEST(csv_matches_lightning_rules)
{
    char path[600];
    table got, want;
    int32_t r, c;
    assert_trained();
    snprintf(path, sizeof path, "%s/metrics.csv", run);
    read_table(path, &got);
    read_table(LH_SOURCE_DIR "/tests/golden/csv_rules_expected.csv", &want);
    ck_assert_int_eq(got.nc, want.nc);
    for (c = 0; c < want.nc; c++)
        ck_assert_msg(strcmp(got.head[c], want.head[c]) == 0, "column %d: %s, expected %s", c,
                      got.head[c], want.head[c]);
    ck_assert_int_eq(got.nr, want.nr);
    for (r = 0; r < want.nr; r++)
        for (c = 0; c < want.nc; c++) {
            if (strcmp(want.head[c], "epoch") == 0 || strcmp(want.head[c], "step") == 0)
                ck_assert_msg(strcmp(got.cell[r][c], want.cell[r][c]) == 0,
                              "row %d %s: %s, expected %s", r, want.head[c], got.cell[r][c],
                              want.cell[r][c]);
            else
                ck_assert_msg(!got.cell[r][c][0] == !want.cell[r][c][0],
                              "row %d %s: '%s', expected %s", r, want.head[c], got.cell[r][c],
                              want.cell[r][c][0] ? "a value" : "empty");
        }
}
END_TEST

/* Values are written as Python's repr writes floats: they read back to the double they were. */
START_TEST(csv_values_round_trip)
{
    char path[600], back[64];
    table t;
    assert_trained();
    snprintf(path, sizeof path, "%s/metrics.csv", run);
    read_table(path, &t);
    for (int32_t r = 0; r < t.nr; r++)
        for (int32_t c = 0; c < t.nc; c++) {
            const char *s = t.cell[r][c];
            if (!s[0] || !strcmp(t.head[c], "epoch") || !strcmp(t.head[c], "step"))
                continue;
            ck_assert_msg(strchr(s, '.') || strchr(s, 'e'), "%s: no point in %s", t.head[c], s);
            snprintf(back, sizeof back, "%.17g", strtod(s, NULL));
            ck_assert_msg(strtod(back, NULL) == strtod(s, NULL), "%s", s);
        }
}
END_TEST

/* What Python's repr gives for each (checked with /usr/bin/python3). */
START_TEST(values_as_python_repr)
{
    static const struct {
        double v;
        const char *repr;
    } cases[] = {{20, "20.0"}, {0.1, "0.1"}, {0.30000000000000004, "0.30000000000000004"},
                 {1234567, "1234567.0"}, {1e15, "1000000000000000.0"}, {1e16, "1e+16"},
                 {1e-5, "1e-05"}, {0.0001, "0.0001"}, {2.3025851249694824, "2.3025851249694824"},
                 {-0.5, "-0.5"}, {1.5e300, "1.5e+300"}, {0, "0.0"}, {NAN, "nan"},
                 {-INFINITY, "-inf"}};
    char buf[40];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lh_logstore_format_value(cases[i].v, buf, sizeof buf);
        ck_assert_str_eq(buf, cases[i].repr);
    }
}
END_TEST

START_TEST(version_is_max_plus_one)
{
    char path[600];
    assert_trained();
    snprintf(path, sizeof path, "%s/metrics.csv", run);
    ck_assert_msg(access(path, F_OK) == 0, "no %s; output:\n%s", path, train_out);
    snprintf(path, sizeof path, "%s/lightning_logs/version_1", dir);
    ck_assert_msg(access(path, F_OK) != 0, "version_1 was taken");
}
END_TEST

START_TEST(hparams_yaml_is_the_merged_config)
{
    const char *names[] = {"hparams.yaml", "config.yaml"};
    assert_trained();
    for (int i = 0; i < 2; i++) {
        char path[600], *text;
        snprintf(path, sizeof path, "%s/%s", run, names[i]);
        text = read_text(path);
        ck_assert_msg(text != NULL, "no %s", path);
        ck_assert_msg(strstr(text, "monitor: val_acc") && strstr(text, "max_epochs: 2") &&
                          strstr(text, "tensorboard"),
                      "%s:\n%s", names[i], text);
        free(text);
    }
}
END_TEST

/* ---- TensorBoard event file, read back independently ------------------------------------- */

/* CRC32C bit by bit (the plugin uses a table). */
static uint32_t crc32c_bitwise(const uint8_t *p, size_t n)
{
    uint32_t c = ~0u;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
    }
    return ~c;
}

static uint32_t unmask(uint32_t m)
{
    uint32_t r = m - 0xA282EAD8u;
    return (r >> 17) | (r << 15);
}

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t varint(const uint8_t **p, const uint8_t *end)
{
    uint64_t v = 0;
    for (int s = 0; *p < end && s < 64; s += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7F) << s;
        if (!(b & 0x80))
            break;
    }
    return v;
}

typedef struct tb_scalar {
    int64_t step;
    char tag[96];
    float value;
    int has_value, has_plugin;
} tb_scalar;

/* One protobuf field: its number, wire type, and the payload (varint value or bytes). */
static int field(const uint8_t **p, const uint8_t *end, uint32_t *num, const uint8_t **data,
                 size_t *len, uint64_t *v)
{
    uint64_t key;
    if (*p >= end)
        return 0;
    key = varint(p, end);
    *num = (uint32_t)(key >> 3);
    switch (key & 7) {
    case 0: *v = varint(p, end); *len = 0; break;
    case 1: *data = *p; *len = 8; *p += 8; break;
    case 2: *len = (size_t)varint(p, end); *data = *p; *p += *len; break;
    case 5: *data = *p; *len = 4; *p += 4; break;
    default: ck_abort_msg("wire type %d", (int)(key & 7));
    }
    ck_assert(*p <= end);
    return 1;
}

/* Parse one Summary.Value. */
static void parse_value(const uint8_t *p, const uint8_t *end, tb_scalar *s)
{
    uint32_t num;
    const uint8_t *d = NULL;
    size_t len;
    uint64_t v;
    while (field(&p, end, &num, &d, &len, &v)) {
        if (num == 1)
            snprintf(s->tag, sizeof s->tag, "%.*s", (int)len, (const char *)d);
        else if (num == 2) {
            uint32_t bits = (uint32_t)le(d, 4);
            memcpy(&s->value, &bits, 4);
            s->has_value = 1;
        } else if (num == 9)
            s->has_plugin = 1;
    }
}

/* Read every record of the event file: check framing and CRCs, collect the scalars. */
static int32_t read_events(const char *path, tb_scalar *out, int32_t cap, char *version)
{
    char *text;
    FILE *f = fopen(path, "rb");
    long n;
    int32_t count = 0, events = 0;
    const uint8_t *p, *end;
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    text = malloc((size_t)n + 1);
    ck_assert(fread(text, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    p = (const uint8_t *)text, end = p + n;
    version[0] = '\0';
    while (p < end) {
        uint64_t len;
        const uint8_t *ev, *ev_end, *d = NULL;
        uint32_t num;
        size_t flen;
        uint64_t v;
        int64_t step = 0;
        ck_assert_msg(end - p >= 12, "record %d: cut header", events);
        len = le(p, 8);
        ck_assert_msg(unmask((uint32_t)le(p + 8, 4)) == crc32c_bitwise(p, 8),
                      "record %d: length CRC", events);
        ck_assert_msg((uint64_t)(end - p - 12) >= len + 4, "record %d: cut data", events);
        ev = p + 12, ev_end = ev + len;
        ck_assert_msg(unmask((uint32_t)le(ev_end, 4)) == crc32c_bitwise(ev, len),
                      "record %d: data CRC", events);
        p = ev_end + 4;
        /* Event: wall_time 1 (double), step 2, file_version 3, summary 5 */
        const uint8_t *q = ev, *summary = NULL;
        size_t summary_len = 0;
        double wall = 0;
        while (field(&q, ev_end, &num, &d, &flen, &v)) {
            if (num == 1) {
                uint64_t bits = le(d, 8);
                memcpy(&wall, &bits, 8);
            } else if (num == 2)
                step = (int64_t)v;
            else if (num == 3) {
                ck_assert_msg(events == 0, "file_version in record %d", events);
                snprintf(version, 64, "%.*s", (int)flen, (const char *)d);
            } else if (num == 5)
                summary = d, summary_len = flen;
        }
        ck_assert_msg(wall > 1.6e9, "record %d: wall_time %f", events, wall);
        if (summary) {
            const uint8_t *s = summary, *s_end = summary + summary_len;
            while (field(&s, s_end, &num, &d, &flen, &v))
                if (num == 1 && count < cap) {
                    memset(&out[count], 0, sizeof out[0]);
                    out[count].step = step;
                    parse_value(d, d + flen, &out[count]);
                    count++;
                }
        }
        events++;
    }
    free(text);
    return count;
}

static void event_file(char *path, size_t cap)
{
    DIR *d = opendir(run);
    struct dirent *e;
    int found = 0;
    ck_assert(d != NULL);
    while ((e = readdir(d)))
        if (strncmp(e->d_name, "events.out.tfevents.", 20) == 0) {
            char host[256] = "";
            int n = 0;
            ck_assert_msg(!found, "two event files");
            gethostname(host, sizeof host - 1);
            /* events.out.tfevents.<time>.<host>.<pid>.0 */
            ck_assert_msg(strstr(e->d_name, host) && sscanf(e->d_name + 20, "%*d.%n", &n) >= 0 &&
                              n > 0 && strcmp(e->d_name + strlen(e->d_name) - 2, ".0") == 0,
                          "%s", e->d_name);
            snprintf(path, cap, "%s/%s", run, e->d_name);
            found = 1;
        }
    closedir(d);
    ck_assert_msg(found, "no events.out.tfevents.* in %s", run);
}

START_TEST(tensorboard_events_hold_every_csv_value)
{
    char path[900], version[64], csv[600];
    static tb_scalar sc[4096];
    table t;
    int32_t n, r, c, k, checked = 0, hp = 0, exp = 0;
    assert_trained();
    event_file(path, sizeof path);
    n = read_events(path, sc, 4096, version);
    ck_assert_str_eq(version, "brain.Event:2");
    snprintf(csv, sizeof csv, "%s/metrics.csv", run);
    read_table(csv, &t);
    int32_t step_col = col_of(&t, "step");
    ck_assert_int_ge(step_col, 0);
    for (r = 0; r < t.nr; r++)
        for (c = 0; c < t.nc; c++) {
            double want;
            int found = 0;
            if (c == step_col || !t.cell[r][c][0])
                continue;
            want = strtod(t.cell[r][c], NULL);
            for (k = 0; k < n && !found; k++)
                found = sc[k].has_value && sc[k].step == atoll(t.cell[r][step_col]) &&
                        strcmp(sc[k].tag, t.head[c]) == 0 &&
                        fabs((double)sc[k].value - want) <= 1e-6 * fmax(1.0, fabs(want));
            ck_assert_msg(found, "no scalar %s = %s at step %s in %s", t.head[c], t.cell[r][c],
                          t.cell[r][step_col], path);
            checked++;
        }
    ck_assert_int_eq(checked, 40); /* 8 rows: 5 values in each (epoch included) */
    for (k = 0; k < n; k++) {
        hp += strcmp(sc[k].tag, "hp_metric") == 0 && sc[k].step == 0 && sc[k].value == -1.0f;
        exp += sc[k].has_plugin && (strcmp(sc[k].tag, "_hparams_/experiment") == 0 ||
                                    strcmp(sc[k].tag, "_hparams_/session_start_info") == 0 ||
                                    strcmp(sc[k].tag, "_hparams_/session_end_info") == 0);
    }
    ck_assert_int_eq(hp, 1);
    ck_assert_int_eq(exp, 3);
}
END_TEST

/* ---- lhost plot --------------------------------------------------------------------------- */

START_TEST(plot_png_has_the_requested_size)
{
    char *out, args[900], path[600];
    unsigned char *png;
    int rc;
    assert_trained();
    snprintf(args, sizeof args, "plot '%s' -o curves.png --width 900 --height 600", run);
    rc = cli_run(dir, args, &out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    free(out);
    snprintf(path, sizeof path, "%s/curves.png", dir);
    png = (unsigned char *)read_text(path);
    ck_assert_msg(png != NULL, "no %s", path);
    ck_assert(memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0);
    ck_assert(memcmp(png + 12, "IHDR", 4) == 0);
    ck_assert_int_eq(le((const uint8_t[]){png[19], png[18], png[17], png[16]}, 4), 900);
    ck_assert_int_eq(le((const uint8_t[]){png[23], png[22], png[21], png[20]}, 4), 600);
    free(png);
}
END_TEST

/* One stroked curve (stroke width 2.5, which nothing else uses) per per-epoch key. */
START_TEST(plot_svg_has_one_curve_per_key)
{
    char *out, args[900], path[600], *svg, *p;
    double w = 0, h = 0;
    int rc, curves = 0;
    assert_trained();
    snprintf(args, sizeof args, "plot '%s/metrics.csv' -o curves.svg", run);
    rc = cli_run(dir, args, &out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    free(out);
    snprintf(path, sizeof path, "%s/curves.svg", dir);
    svg = read_text(path);
    ck_assert_msg(svg != NULL, "no %s", path);
    p = strstr(svg, "<svg");
    ck_assert(p != NULL);
    ck_assert(sscanf(strstr(p, "width=\"") + 7, "%lf", &w) == 1);
    ck_assert(sscanf(strstr(p, "height=\"") + 8, "%lf", &h) == 1);
    ck_assert(w == 1200 && h == 800);
    for (p = svg; (p = strstr(p, "<path")); p++) {
        char *e = strchr(p, '>');
        if (e && memmem(p, (size_t)(e - p), "stroke-width:2.5", 16))
            curves++;
    }
    /* train_loss val_loss acc_epoch val_acc precision_epoch val_precision recall_epoch
     * val_recall */
    ck_assert_msg(curves == 8, "%d curves", curves);
    free(svg);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("lightning_logs");
    TCase *tc = tcase_create("run");
    tcase_add_unchecked_fixture(tc, run_once, cleanup);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, csv_matches_lightning_rules);
    tcase_add_test(tc, csv_values_round_trip);
    tcase_add_test(tc, values_as_python_repr);
    tcase_add_test(tc, version_is_max_plus_one);
    tcase_add_test(tc, hparams_yaml_is_the_merged_config);
    tcase_add_test(tc, tensorboard_events_hold_every_csv_value);
    tcase_add_test(tc, plot_png_has_the_requested_size);
    tcase_add_test(tc, plot_svg_has_one_curve_per_key);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(suite());
}
