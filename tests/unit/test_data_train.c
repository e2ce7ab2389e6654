/* tests/unit/test_data_train.c — training on real data in the new formats, through the lhost
 * binary: scikit-learn's breast-cancer table as CSV (examples/tabular.yaml, val_split 0.2) and
 * its 8x8 digits as float32 .npy with a small CNN, both to val_acc >= 0.95; the same
 * Fashion-MNIST arrays as IDX and as .npy to byte-identical checkpoints; validate and test
 * seeing the checkpoint's split; `lhost test` on an IDX folder; the data keys' refusals. The
 * sklearn files (Debian's python3-sklearn) are converted here in C: no Python at run time.
 * Run: ctest --test-dir build -R test_data_train --output-on-failure */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* getline */
#endif
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check_run.h"
#include "cli_run.h"
#include "data.h"
#include "npy_write.h"
#include "safetensors.h"
#include "synth_data.h"

#define SKDATA "/usr/lib/python3/dist-packages/sklearn/datasets/data"
#define RUN_FLAGS " --trainer.enable_progress_bar=false --trainer.device=cpu" \
                  " --trainer.enable_model_summary=false"

static char dir[512];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/lhost_data_train_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    synth_remove(dir);
}

static const char *P(const char *rel)
{
    static char ring[8][1024];
    static int k;
    char *s = ring[k++ % 8];
    snprintf(s, sizeof ring[0], "%s/%s", dir, rel);
    return s;
}

/* The number after `key` (a "key   value" line of validate / test, or "key=value"). */
static double value_of(const char *out, const char *key)
{
    const char *p = out;
    size_t n = strlen(key);
    while ((p = strstr(p, key))) {
        if ((p == out || p[-1] == '\n') && (p[n] == ' ' || p[n] == '='))
            return strtod(p + n + 1 + strspn(p + n + 1, " "), NULL);
        p += n;
    }
    ck_abort_msg("no %s in:\n%s", key, out);
    return 0;
}

/* breast_cancer.csv with a header: sklearn's first line ("569,30,malignant,benign") becomes
 * f0..f29,label; the rows are copied as they are. */
static int make_breast_cancer(const char *out_path)
{
    FILE *in = fopen(SKDATA "/breast_cancer.csv", "r"), *out;
    char *line = NULL;
    size_t cap = 0;
    int rows = 0;
    if (!in)
        return -1;
    out = fopen(out_path, "w");
    ck_assert_ptr_nonnull(out);
    for (int i = 0; i < 30; i++)
        fprintf(out, "f%d,", i);
    fprintf(out, "label\n");
    ck_assert_int_gt(getline(&line, &cap, in), 0); /* sklearn's own first line */
    while (getline(&line, &cap, in) > 0)
        fputs(line, out), rows++;
    free(line);
    fclose(in);
    fclose(out);
    ck_assert_int_eq(rows, 569);
    return 0;
}

/* digits.csv.gz (1797 rows of 64 pixels 0..16 and the digit) as dx.npy (1797, 1, 8, 8) float32
 * and dy.npy (1797,) int64. */
static int make_digits(void)
{
    gzFile g = gzopen(SKDATA "/digits.csv.gz", "rb");
    char line[1024];
    float *x;
    int64_t y[1797], n = 0, sx[4] = {1797, 1, 8, 8}, sy[1] = {1797};
    if (!g)
        return -1;
    x = malloc(1797 * 64 * sizeof *x);
    ck_assert_ptr_nonnull(x);
    while (n < 1797 && gzgets(g, line, sizeof line)) {
        char *p = line;
        for (int j = 0; j < 65; j++) {
            double v = strtod(p, &p);
            p += *p == ',';
            if (j < 64)
                x[n * 64 + j] = (float)v;
            else
                y[n] = (int64_t)v;
        }
        n++;
    }
    gzclose(g);
    ck_assert_int_eq(n, 1797);
    ck_assert_int_eq(npy_write(P("dx.npy"), "<f4", sx, 4, x, 1797 * 64 * sizeof *x), 0);
    ck_assert_int_eq(npy_write(P("dy.npy"), "<i8", sy, 1, y, sizeof y), 0);
    free(x);
    return 0;
}

START_TEST(tabular_example_on_breast_cancer)
{
    char *out, args[2048];
    if (make_breast_cancer(P("breast_cancer.csv"))) {
        fprintf(stderr, "skipped: %s/breast_cancer.csv not installed (python3-sklearn)\n",
                SKDATA);
        return;
    }
    snprintf(args, sizeof args, "train -c '%s/examples/tabular.yaml'" RUN_FLAGS, LH_SOURCE_DIR);
    ck_assert_msg(cli_run(dir, args, &out) == 0, "%s", out);
    const char *best = strstr(out, "best_model_score=");
    ck_assert_ptr_nonnull(best);
    double score = strtod(best + strlen("best_model_score="), NULL);
    ck_assert_msg(score >= 0.95, "val_acc %g < 0.95:\n%s", score, out);
    free(out);
    /* Another seed would draw other rows: validate uses the checkpoint's. */
    ck_assert_int_eq(cli_run(dir, "validate --ckpt checkpoints/tabular.ckpt --seed=5", &out), 0);
    ck_assert_double_eq_tol(value_of(out, "val_acc"), score, 1e-6);
    free(out);
    ck_assert_int_eq(cli_run(dir, "test --ckpt checkpoints/tabular.ckpt", &out), 1);
    ck_assert_msg(strstr(out, "breast_cancer.csv: no test split: set data.test"), "%s", out);
    free(out);
    ck_assert_int_eq(cli_run(dir, "test --ckpt checkpoints/tabular.ckpt "
                                  "--data.test=breast_cancer.csv", &out), 0);
    ck_assert_msg(strstr(out, "Test metric") && value_of(out, "test_acc") > 0.9, "%s", out);
    ck_assert_ptr_null(strstr(out, "val_"));
    free(out);
}
END_TEST

static const char digits_yaml[] =
    "seed: 0\n"
    "data: {train: dx.npy, train_labels: dy.npy, val_split: 0.2, batch_size: 32,\n"
    "       num_classes: 10}\n"
    "model:\n"
    "  input_shape: [1, 8, 8]\n"
    "  layers:\n"
    "    - {type: conv2d, name: conv1, out_channels: 16, kernel_size: 3, padding: 1}\n"
    "    - {type: relu}\n"
    "    - {type: maxpool2d, kernel_size: 2}\n"
    "    - {type: flatten}\n"
    "    - {type: linear, name: fc, out_features: 10}\n"
    "optimizer: {name: adam, lr: 3.0e-3}\n"
    "trainer: {max_epochs: 10, default_root_dir: .}\n"
    "metrics:\n"
    "  acc: {plugin: accuracy, num_classes: 10, average: micro}\n"
    "callbacks:\n"
    "  model_checkpoint: {dirpath: ck, filename: best, save_top_k: 1, monitor: val_acc,\n"
    "                     mode: max}\n";

START_TEST(digits_cnn_on_npy)
{
    char *out;
    if (make_digits()) {
        fprintf(stderr, "skipped: %s/digits.csv.gz not installed (python3-sklearn)\n", SKDATA);
        return;
    }
    write_text(P("digits.yaml"), digits_yaml);
    ck_assert_msg(cli_run(dir, "train -c digits.yaml" RUN_FLAGS, &out) == 0, "%s", out);
    free(out);
    ck_assert_int_eq(cli_run(dir, "validate --ckpt ck/best.ckpt", &out), 0);
    ck_assert_msg(value_of(out, "val_acc") >= 0.95, "%s", out);
    free(out);
    /* Resuming keeps the checkpoint's split even when asked for another fraction. */
    ck_assert_msg(cli_run(dir, "train -c digits.yaml --resume ck/best.ckpt --data.val_split=0.5 "
                               "--trainer.max_epochs=11" RUN_FLAGS, &out) == 0, "%s", out);
    free(out);
}
END_TEST

/* Write n images (rows of `d`, from `first`) and their labels as IDX files and as .npy files
 * under the same names in two folders. */
static void write_both(const lh_dataset *d, int64_t first, int64_t n, const char *x,
                       const char *y)
{
    char a[1024], b[1024];
    int64_t px = (int64_t)d->height * d->width, sx[3] = {n, d->height, d->width}, sy[1] = {n};
    uint8_t *img = malloc((size_t)(16 + n * px)), lab[8 + 4096];
    int64_t lab64[4096];
    ck_assert_int_le(n, 4096);
    synth_be32(img, 0x00000803), synth_be32(img + 4, (uint32_t)n);
    synth_be32(img + 8, (uint32_t)d->height), synth_be32(img + 12, (uint32_t)d->width);
    memcpy(img + 16, d->images + first * px, (size_t)(n * px));
    synth_be32(lab, 0x00000801), synth_be32(lab + 4, (uint32_t)n);
    for (int64_t i = 0; i < n; i++)
        lab[8 + i] = d->labels[first + i], lab64[i] = d->labels[first + i];
    snprintf(a, sizeof a, "%s/idx/%s", dir, x);
    ck_assert_int_eq(write_bytes(a, img, (size_t)(16 + n * px)), 0);
    snprintf(a, sizeof a, "%s/idx/%s", dir, y);
    ck_assert_int_eq(write_bytes(a, lab, (size_t)(8 + n)), 0);
    snprintf(b, sizeof b, "%s/npy/%s", dir, x);
    ck_assert_int_eq(npy_write(b, "|u1", sx, 3, img + 16, (size_t)(n * px)), 0);
    snprintf(b, sizeof b, "%s/npy/%s", dir, y);
    ck_assert_int_eq(npy_write(b, "<i8", sy, 1, lab64, (size_t)n * 8), 0);
    free(img);
}

static char *slurp(const char *path, long *n)
{
    FILE *f = fopen(path, "rb");
    char *s;
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    fseek(f, 0, SEEK_SET);
    s = malloc((size_t)*n + 1);
    ck_assert_int_eq(fread(s, 1, (size_t)*n, f), (size_t)*n);
    fclose(f);
    return s;
}

START_TEST(idx_and_npy_train_identically)
{
    static const char cfg[] =
        "seed: 3\n"
        "data: {train: tr_x, train_labels: tr_y, val: te_x, val_labels: te_y, batch_size: 64}\n"
        "model:\n"
        "  layers:\n"
        "    - {type: conv2d, name: c1, out_channels: 8, kernel_size: 3, padding: 1}\n"
        "    - {type: relu}\n"
        "    - {type: maxpool2d, kernel_size: 2}\n"
        "    - {type: flatten}\n"
        "    - {type: linear, name: fc, out_features: 10}\n"
        "optimizer: {name: adam, lr: 1.0e-3}\n"
        "trainer: {max_epochs: 2, default_root_dir: .}\n"
        "callbacks:\n"
        "  model_checkpoint: {dirpath: ck, filename: m, save_top_k: 1, monitor: val_loss}\n";
    lh_dataset tr, te;
    lh_error err = {{0}};
    char *out, *a, *b, path[1024];
    long na, nb;
    const char *src = LH_DATA_DEFAULT_DIR;
    if (access(LH_DATA_DEFAULT_DIR "/train-images-idx3-ubyte.gz", R_OK) != 0) {
        /* Without Fashion-MNIST installed, a synthetic set of the same shape stands in. */
        ck_assert_int_eq(mkdir(P("synth"), 0755), 0);
        ck_assert_int_eq(synth_dataset(P("synth"), 1024, 256, 10), 0);
        src = P("synth");
    }
    ck_assert_msg(lh_data_load(src, 1, 10, &tr, &err) == 0, "%s", err.msg);
    ck_assert_msg(lh_data_load(src, 0, 10, &te, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(mkdir(P("idx"), 0755), 0);
    ck_assert_int_eq(mkdir(P("npy"), 0755), 0);
    write_both(&tr, 0, 1024, "tr_x", "tr_y");
    write_both(&te, 0, 256, "te_x", "te_y");
    lh_data_free(&tr);
    lh_data_free(&te);
    write_text(P("idx/c.yaml"), cfg);
    write_text(P("npy/c.yaml"), cfg);
    ck_assert_msg(cli_run(P("idx"), "train -c c.yaml" RUN_FLAGS, &out) == 0, "%s", out);
    free(out);
    ck_assert_msg(cli_run(P("npy"), "train -c c.yaml" RUN_FLAGS, &out) == 0, "%s", out);
    free(out);
    snprintf(path, sizeof path, "%s/idx/ck/m.ckpt", dir);
    a = slurp(path, &na);
    snprintf(path, sizeof path, "%s/npy/ck/m.ckpt", dir);
    b = slurp(path, &nb);
    ck_assert_int_eq(na, nb);
    ck_assert_msg(memcmp(a, b, (size_t)na) == 0, "the checkpoints differ");
    free(a);
    free(b);
}
END_TEST

START_TEST(test_stage_on_idx_folder)
{
    static const char cfg[] =
        "seed: 0\n"
        "data: {path: data, batch_size: 32}\n"
        "model:\n"
        "  layers:\n"
        "    - {type: flatten}\n"
        "    - {type: linear, name: fc, out_features: 10}\n"
        "trainer: {max_epochs: 1, default_root_dir: .}\n"
        "metrics:\n"
        "  acc: {plugin: accuracy, num_classes: 10, average: micro}\n"
        "callbacks:\n"
        "  model_checkpoint: {dirpath: ck, filename: m}\n";
    char *out;
    ck_assert_int_eq(mkdir(P("data"), 0755), 0);
    ck_assert_int_eq(synth_dataset(P("data"), 256, 64, 10), 0);
    write_text(P("c.yaml"), cfg);
    ck_assert_msg(cli_run(dir, "train -c c.yaml" RUN_FLAGS, &out) == 0, "%s", out);
    free(out);
    ck_assert_int_eq(cli_run(dir, "validate --ckpt ck/m.ckpt", &out), 0);
    double val = value_of(out, "val_acc");
    free(out);
    ck_assert_int_eq(cli_run(dir, "test --ckpt ck/m.ckpt", &out), 0);
    /* Both evaluate the folder's t10k-* files: the same numbers under test_* names. */
    ck_assert_msg(strstr(out, "Test metric"), "%s", out);
    ck_assert_double_eq_tol(value_of(out, "test_acc"), val, 1e-9);
    ck_assert(value_of(out, "test_loss") > 0);
    free(out);
}
END_TEST

/* The data keys' refusals through the binary: exit status 1 and one line naming the key, file,
 * row or column (the same cases as tests/bad_inputs/formats.cases, checked here on their own). */
START_TEST(bad_data_inputs_one_line)
{
    static const char cfg[] =
        "data: {path: data, batch_size: 32}\n"
        "model:\n"
        "  layers:\n"
        "    - {type: flatten}\n"
        "    - {type: linear, name: fc, out_features: 10}\n"
        "trainer: {max_epochs: 1, default_root_dir: .}\n"
        "callbacks:\n"
        "  model_checkpoint: {dirpath: ck, filename: m}\n";
    static const char *const cases[][2] = {
        {"train -c c.yaml --data.val_split=1.5",
         "data.val_split: expected a fraction between 0 and 1 (exclusive), got 1.5"},
        {"train -c c.yaml --data.val_split=0",
         "data.val_split: expected a fraction between 0 and 1 (exclusive), got 0"},
        {"train -c c.yaml --data.val=data --data.val_split=0.1",
         "data.val (data) is the validation split already; expected one of the two"},
        {"train -c c.yaml --data.normalize=imagenet",
         "data.normalize: expected auto, train, fashion_mnist, mnist or {mean: M, std: S}"},
        {"train -c c.yaml --data.normalize='{mean: [0.1, 0.2], std: 0.3}'",
         "uint8 images take one number (per-feature lists are for float data)"},
        {"train -c c.yaml --data.train=r.csv --data.val_split=0.5",
         "data r.csv:3: 2 fields but the header has 3 (a ragged row)"},
        {"train -c c.yaml --data.train=n.csv --data.val_split=0.5",
         "data n.csv:2: column 'y' (2): \"1.5.3\" is not a number"},
        {"train -c c.yaml --data.train=f.npy --data.train_labels=y.npy",
         "data f.npy: dtype '<f8' is not supported for images"},
        {"validate --ckpt ck/m.ckpt --data s.npz",
         "model expects (1, 28, 28) inputs but s.npz:x.npy has (1, 2, 2)"},
    };
    char *out;
    float x[8] = {0};
    double f8[4] = {0};
    int64_t y[2] = {0, 1}, sx[4] = {2, 1, 2, 2}, sy[1] = {2}, s22[2] = {2, 2};
    size_t nx, ny;
    ck_assert_int_eq(mkdir(P("data"), 0755), 0);
    ck_assert_int_eq(synth_dataset(P("data"), 64, 32, 10), 0);
    write_text(P("c.yaml"), cfg);
    write_text(P("r.csv"), "x,y,label\n1,2,0\n1,2\n");
    write_text(P("n.csv"), "x,y,label\n1,1.5.3,0\n");
    ck_assert_int_eq(npy_write(P("f.npy"), "<f8", s22, 2, f8, sizeof f8), 0);
    ck_assert_int_eq(npy_write(P("y.npy"), "<i8", sy, 1, y, sizeof y), 0);
    uint8_t *bx = npy_bytes("<f4", sx, 4, 0, x, sizeof x, &nx);
    uint8_t *by = npy_bytes("<i8", sy, 1, 0, y, sizeof y, &ny);
    const char *names[] = {"x.npy", "y.npy"};
    uint8_t *blobs[] = {bx, by};
    size_t sizes[] = {nx, ny};
    ck_assert_int_eq(npz_write(P("s.npz"), 2, names, blobs, sizes, 1), 0);
    free(bx), free(by);
    ck_assert_msg(cli_run(dir, "train -c c.yaml" RUN_FLAGS, &out) == 0, "%s", out);
    free(out);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = cli_run(dir, cases[i][0], &out);
        ck_assert_msg(rc == 1 && strstr(out, cases[i][1]) && strchr(out, '\n') &&
                          !strchr(out, '\n')[1],
                      "lhost %s: rc %d, expected 1 and one line with \"%s\":\n%s", cases[i][0],
                      rc, cases[i][1], out);
        free(out);
    }
}
END_TEST

/* Copy checkpoint `in` to `out` with element `at` of the I32 tensor `name` set to `v`. */
static void edit_i32(const char *in, const char *out, const char *name, int64_t at, int32_t v)
{
    lh_safetensors_file *f;
    lh_safetensors_writer *w = lh_safetensors_writer_new();
    lh_error err = {{0}};
    ck_assert_msg(lh_safetensors_read(in, &f, &err) == 0, "%s", err.msg);
    for (int32_t i = 0; i < lh_safetensors_meta_count(f); i++)
        ck_assert_int_eq(lh_safetensors_meta(w, lh_safetensors_meta_key(f, i),
                                             lh_safetensors_meta_value(f, i), &err), 0);
    for (int32_t i = 0; i < lh_safetensors_count(f); i++) {
        uint64_t n = lh_safetensors_nbytes(f, i);
        uint8_t *copy = malloc(n + 1);
        memcpy(copy, lh_safetensors_data(f, i), n);
        if (strcmp(lh_safetensors_name(f, i), name) == 0)
            ((int32_t *)copy)[at] = v;
        ck_assert_int_eq(lh_safetensors_add(w, lh_safetensors_name(f, i),
                                            lh_safetensors_dtype(f, i), lh_safetensors_ndim(f, i),
                                            lh_safetensors_shape(f, i), copy, n, &err), 0);
        free(copy);
    }
    ck_assert_msg(lh_safetensors_write_atomic(w, out, &err) == 0, "%s", err.msg);
    lh_safetensors_writer_free(w);
    lh_safetensors_close(f);
}

/* The split lives in the checkpoint: a run that evaluates it reads those rows, and refuses
 * rows that are not rows of the file. */
START_TEST(split_is_read_from_the_checkpoint)
{
    static const char cfg[] =
        "data: {train: t.csv, val_split: 0.5, num_classes: 2, batch_size: 2}\n"
        "model:\n"
        "  layers:\n"
        "    - {type: flatten}\n"
        "    - {type: linear, name: fc, out_features: 2}\n"
        "trainer: {max_epochs: 1, default_root_dir: .}\n"
        "callbacks:\n"
        "  model_checkpoint: {dirpath: ck, filename: m}\n";
    char *out, a[1024], b[1024];
    write_text(P("t.csv"), "x,y,label\n1,2,0\n2,3,1\n3,4,0\n4,5,1\n5,6,0\n6,7,1\n");
    write_text(P("c.yaml"), cfg);
    ck_assert_msg(cli_run(dir, "train -c c.yaml" RUN_FLAGS, &out) == 0, "%s", out);
    free(out);
    snprintf(a, sizeof a, "%s/ck/m.ckpt", dir);
    snprintf(b, sizeof b, "%s/bad.ckpt", dir);
    edit_i32(a, b, "data.val_index", 0, 99);
    ck_assert_int_eq(cli_run(dir, "validate --ckpt bad.ckpt", &out), 1);
    ck_assert_msg(strstr(out, "checkpoint bad.ckpt: tensor \"data.val_index\"[0] = 99: expected "
                              "ascending rows below 6"), "%s", out);
    free(out);
    /* Rows 0 and 1 (one per class) held out instead: validate follows the checkpoint. */
    edit_i32(a, b, "data.val_index", 0, 0);
    snprintf(a, sizeof a, "%s/bad.ckpt", dir);
    snprintf(b, sizeof b, "%s/ok.ckpt", dir);
    edit_i32(a, b, "data.val_index", 1, 1);
    edit_i32(b, a, "data.val_index", 2, 2);
    ck_assert_msg(cli_run(dir, "validate --ckpt bad.ckpt", &out) == 0, "%s", out);
    free(out);
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {tabular_example_on_breast_cancer, digits_cnn_on_npy,
                                  idx_and_npy_train_identically, test_stage_on_idx_folder,
                                  bad_data_inputs_one_line, split_is_read_from_the_checkpoint,
                                  NULL};
    (void)synth_workdir;
    return check_main("data_train", 240, setup, teardown, tests);
}
