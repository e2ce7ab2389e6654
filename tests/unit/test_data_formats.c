/* tests/unit/test_data_formats.c — the .npy, .npz and CSV readers, format sniffing, the
 * stratified validation split and every bad-input message of those readers. Files are written
 * into a fresh temporary folder by each test (tests/unit/npy_write.h).
 * Run: ctest --test-dir build -R test_data_formats --output-on-failure */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_run.h"
#include "data.h"
#include "npy_write.h"

static char tmp[256];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static void setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/lh_test_formats_XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void teardown(void)
{
    nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *P(const char *rel)
{
    static char ring[8][1024];
    static int k;
    char *s = ring[k++ % 8];
    snprintf(s, sizeof ring[0], "%s/%s", tmp, rel);
    return s;
}

static void put_text(const char *rel, const char *text)
{
    ck_assert_int_eq(write_bytes(P(rel), text, strlen(text)), 0);
}

/* 6 float32 images (6, 2, 3, 3) with value 100 * i + j, labels i % 3 as int64. */
static void write_float_pair(const char *x, const char *y)
{
    float v[6 * 18];
    int64_t lab[6], sx[4] = {6, 2, 3, 3}, sy[1] = {6};
    for (int i = 0; i < 6; i++) {
        lab[i] = i % 3;
        for (int j = 0; j < 18; j++)
            v[i * 18 + j] = (float)(100 * i + j);
    }
    ck_assert_int_eq(npy_write(P(x), "<f4", sx, 4, v, sizeof v), 0);
    ck_assert_int_eq(npy_write(P(y), "<i8", sy, 1, lab, sizeof lab), 0);
}

static int open_file(const char *rel, const char *labels, int32_t classes, lh_dataset *d,
                     lh_error *err)
{
    lh_data_source s = {.path = P(rel), .labels = labels ? P(labels) : NULL,
                        .num_classes = classes, .train = 1, .label_column = "label"};
    return lh_data_open(&s, d, err);
}

START_TEST(npy_float_images_are_mapped)
{
    lh_dataset d;
    lh_error err = {{0}};
    write_float_pair("x.npy", "y.npy");
    ck_assert_int_eq(lh_data_sniff(P("x.npy"), &err), LH_DATA_FMT_NPY);
    ck_assert_msg(open_file("x.npy", "y.npy", 3, &d, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(d.count, 6);
    ck_assert_int_eq(d.channels, 2);
    ck_assert_int_eq(d.height, 3);
    ck_assert_int_eq(d.width, 3);
    ck_assert_int_eq(d.dtype, LH_DATA_F32);
    /* No copy: the samples are the file's bytes. */
    ck_assert_ptr_nonnull(d.map_base);
    ck_assert(d.images > (uint8_t *)d.map_base &&
              d.images < (uint8_t *)d.map_base + d.map_len);
    ck_assert_float_eq(((float *)d.images)[5 * 18 + 17], 517.0f);
    ck_assert_int_eq(d.labels[4], 1);
    lh_data_free(&d);
}
END_TEST

START_TEST(npy_uint8_hw_images)
{
    uint8_t px[4 * 5 * 7];
    uint8_t lab[4] = {0, 1, 0, 1};
    int64_t sx[3] = {4, 5, 7}, sy[1] = {4};
    lh_dataset d;
    lh_error err = {{0}};
    for (int i = 0; i < (int)sizeof px; i++)
        px[i] = (uint8_t)i;
    ck_assert_int_eq(npy_write(P("x.npy"), "|u1", sx, 3, px, sizeof px), 0);
    ck_assert_int_eq(npy_write(P("y.npy"), "|u1", sy, 1, lab, sizeof lab), 0);
    ck_assert_msg(open_file("x.npy", "y.npy", 2, &d, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(d.dtype, LH_DATA_U8);
    ck_assert_int_eq(d.channels, 1);
    ck_assert_int_eq(d.height, 5);
    ck_assert_int_eq(d.width, 7);
    ck_assert_int_eq(d.images[139], 139);
    lh_data_free(&d);
}
END_TEST

static void expect_error(const char *rel, const char *labels, int32_t classes, const char *frag)
{
    lh_dataset d;
    lh_error err = {{0}};
    ck_assert_int_ne(open_file(rel, labels, classes, &d, &err), 0);
    ck_assert_msg(strstr(err.msg, frag) != NULL, "\"%s\" lacks \"%s\"", err.msg, frag);
    ck_assert_ptr_null(d.images);
    ck_assert_ptr_null(d.labels);
}

START_TEST(npy_bad_inputs)
{
    double f8[4] = {0};
    uint8_t px[4] = {0};
    int64_t s4[1] = {4}, s22[2] = {2, 2}, big[1] = {9};
    size_t n;
    uint8_t *b;
    write_float_pair("x.npy", "y.npy");
    ck_assert_int_eq(npy_write(P("f8.npy"), "<f8", s22, 2, f8, sizeof f8), 0);
    expect_error("f8.npy", "y.npy", 3, "dtype '<f8' is not supported for images: expected "
                                       "uint8 ('|u1') or float32 ('<f4')");
    b = npy_bytes("|u1", s22, 2, 1, px, sizeof px, &n);
    ck_assert_int_eq(write_bytes(P("fortran.npy"), b, n), 0);
    free(b);
    expect_error("fortran.npy", "y.npy", 3, "Fortran-order array: expected C order");
    b = npy_bytes("<f4", s22, 2, 0, f8, 16, &n);
    ck_assert_int_eq(write_bytes(P("cut.npy"), b, n - 3), 0);
    free(b);
    expect_error("cut.npy", "y.npy", 3, "truncated at byte");
    ck_assert_int_eq(npy_write(P("y9.npy"), "<i8", big, 1, (int64_t[9]){0}, 72), 0);
    expect_error("x.npy", "y9.npy", 3, "9 labels for 6 samples");
    expect_error("x.npy", "y.npy", 2, "label 2 at item 2 is outside 0..1 (data.num_classes is 2)");
    expect_error("x.npy", NULL, 3, "needs its labels file");
    ck_assert_int_eq(npy_write(P("yf.npy"), "<f4", s4, 1, (float[4]){0}, 16), 0);
    expect_error("x.npy", "yf.npy", 3, "labels of dtype '<f4': expected an integer type");
}
END_TEST

/* x and y of the float pair as members of an .npz, stored or deflated. */
static void write_npz(const char *rel, int deflate, int keras)
{
    size_t nx, ny;
    float v[6 * 18];
    int64_t lab[6], sx[4] = {6, 2, 3, 3}, sy[1] = {6};
    for (int i = 0; i < 6; i++) {
        lab[i] = i % 3;
        for (int j = 0; j < 18; j++)
            v[i * 18 + j] = (float)(100 * i + j);
    }
    uint8_t *bx = npy_bytes("<f4", sx, 4, 0, v, sizeof v, &nx);
    uint8_t *by = npy_bytes("<i8", sy, 1, 0, lab, sizeof lab, &ny);
    const char *names[] = {"x.npy", "y.npy"};
    const char *knames[] = {"x_train.npy", "y_train.npy", "x_test.npy", "y_test.npy"};
    uint8_t *blobs[] = {bx, by, bx, by};
    size_t sizes[] = {nx, ny, nx, ny};
    ck_assert_int_eq(npz_write(P(rel), keras ? 4 : 2, keras ? knames : names, blobs, sizes,
                               deflate), 0);
    free(bx);
    free(by);
}

START_TEST(npz_stored_deflated_and_keras)
{
    lh_dataset d;
    lh_error err = {{0}};
    for (int deflate = 0; deflate < 2; deflate++) {
        write_npz("a.npz", deflate, 0);
        ck_assert_int_eq(lh_data_sniff(P("a.npz"), &err), LH_DATA_FMT_NPZ);
        ck_assert_msg(open_file("a.npz", NULL, 3, &d, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(d.count, 6);
        ck_assert_int_eq(d.channels, 2);
        ck_assert_float_eq(((float *)d.images)[5 * 18 + 17], 517.0f);
        ck_assert_int_eq(d.labels[5], 2);
        lh_data_free(&d);
    }
    /* A stored uint8 member is used in place in the mapped archive (float32 ones too when
     * the zip happens to align them; np.savez does not, so those are copied). */
    {
        uint8_t px[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, lab[3] = {0, 1, 2};
        int64_t sx[3] = {3, 2, 2}, sy[1] = {3};
        size_t nx, ny;
        uint8_t *bx = npy_bytes("|u1", sx, 3, 0, px, sizeof px, &nx);
        uint8_t *by = npy_bytes("|u1", sy, 1, 0, lab, sizeof lab, &ny);
        const char *names[] = {"x.npy", "y.npy"};
        uint8_t *blobs[] = {bx, by};
        size_t sizes[] = {nx, ny};
        ck_assert_int_eq(npz_write(P("u.npz"), 2, names, blobs, sizes, 0), 0);
        free(bx), free(by);
        ck_assert_msg(open_file("u.npz", NULL, 3, &d, &err) == 0, "%s", err.msg);
        ck_assert_ptr_nonnull(d.map_base);
        ck_assert_int_eq(d.images[11], 12);
        lh_data_free(&d);
    }
    write_npz("k.npz", 1, 1);
    lh_data_source s = {.path = P("k.npz"), .num_classes = 3, .train = 0};
    ck_assert_msg(lh_data_open(&s, &d, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(strrchr(d.image_path, ':') + 1, "x_test.npy");
    lh_data_free(&d);
    s.path = P("a.npz");
    ck_assert_int_ne(lh_data_open(&s, &d, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "holds x and y only"));
}
END_TEST

START_TEST(npz_truncated_member)
{
    struct stat st;
    write_npz("a.npz", 1, 0);
    ck_assert_int_eq(stat(P("a.npz"), &st), 0);
    /* Cut the archive inside the first member and keep a valid end record, so the reader
     * reaches the member: the directory points past the new end. */
    ck_assert_int_eq(truncate(P("a.npz"), 100), 0);
    expect_error("a.npz", NULL, 3, "not a zip archive");
    write_npz("c.npz", 0, 0);
    size_t n;
    FILE *f = fopen(P("c.npz"), "rb");
    uint8_t *buf = malloc((size_t)st.st_size * 4 + 4096);
    n = fread(buf, 1, (size_t)st.st_size * 4 + 4096, f);
    fclose(f);
    /* The central directory's csize field of the first entry (after the local records). */
    uint32_t cd = (uint32_t)buf[n - 6] | (uint32_t)buf[n - 5] << 8 | (uint32_t)buf[n - 4] << 16 |
                  (uint32_t)buf[n - 3] << 24;
    buf[cd + 20] = 0xff, buf[cd + 21] = 0xff, buf[cd + 22] = 0x0f;
    buf[cd + 24] = 0xff, buf[cd + 25] = 0xff, buf[cd + 26] = 0x0f;
    ck_assert_int_eq(write_bytes(P("c.npz"), buf, n), 0);
    free(buf);
    expect_error("c.npz", NULL, 3, "member 'x.npy' is truncated");
    write_npz("d.npz", 1, 0);
    f = fopen(P("d.npz"), "r+b");
    fseek(f, 30 + 5 + 10, SEEK_SET); /* inside x.npy's deflate stream */
    fputc(0xff, f), fputc(0xff, f), fputc(0xff, f), fputc(0xff, f);
    fclose(f);
    expect_error("d.npz", NULL, 3, "member 'x.npy' is truncated or corrupt");
}
END_TEST

START_TEST(csv_reads_columns)
{
    lh_dataset d;
    lh_error err = {{0}};
    const char *cols[] = {"b", "a"};
    put_text("t.csv", "a, b ,\"label\",c\r\n1,2,0,3\r\n\r\n4.5,-5e1,1,6\n");
    ck_assert_int_eq(lh_data_sniff(P("t.csv"), &err), LH_DATA_FMT_CSV);
    ck_assert_msg(open_file("t.csv", NULL, 2, &d, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(d.count, 2);
    ck_assert_int_eq(d.channels, 3);
    ck_assert_int_eq(d.height, 1);
    ck_assert_int_eq(d.dtype, LH_DATA_F32);
    ck_assert_float_eq(((float *)d.images)[3], 4.5f);
    ck_assert_float_eq(((float *)d.images)[5], 6.0f);
    ck_assert_int_eq(d.labels[1], 1);
    lh_data_free(&d);
    lh_data_source s = {.path = P("t.csv"), .num_classes = 2, .label_column = "c",
                        .feature_columns = cols, .n_feature_columns = 2};
    ck_assert_int_ne(lh_data_open(&s, &d, &err), 0); /* c = 3 is no class of 2 */
    ck_assert_ptr_nonnull(strstr(err.msg, "t.csv:2: label 3 in column 'c' is outside 0..1"));
    s.label_column = "label";
    ck_assert_msg(lh_data_open(&s, &d, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(d.channels, 2);
    ck_assert_float_eq(((float *)d.images)[2], -50.0f);
    ck_assert_float_eq(((float *)d.images)[3], 4.5f);
    lh_data_free(&d);
}
END_TEST

START_TEST(csv_bad_inputs)
{
    put_text("r.csv", "x,y,label\n1,2,0\n1,2\n");
    expect_error("r.csv", NULL, 2, "r.csv:3: 2 fields but the header has 3 (a ragged row)");
    put_text("n.csv", "x,y,label\n1,2,0\n1,abc,1\n");
    expect_error("n.csv", NULL, 2, "n.csv:3: column 'y' (2): \"abc\" is not a number");
    put_text("e.csv", "x,y,label\n1,,0\n");
    expect_error("e.csv", NULL, 2, "e.csv:2: column 'y' (2): \"\" is not a number");
    put_text("l.csv", "x,y,label\n1,2,0.5\n");
    expect_error("l.csv", NULL, 2, "l.csv:2: label 0.5 in column 'label' is outside 0..1");
    put_text("h.csv", "x,y,target\n1,2,0\n");
    expect_error("h.csv", NULL, 2, "h.csv:1: no column 'label' in the header");
    put_text("z.csv", "x,y,label\n");
    expect_error("z.csv", NULL, 2, "no rows after the header");
    put_text("inf.csv", "x,y,label\n1,inf,0\n");
    expect_error("inf.csv", NULL, 2, "\"inf\" is not a number");
}
END_TEST

START_TEST(split_is_stratified_and_seeded)
{
    lh_dataset d = {0};
    uint8_t lab[100];
    int32_t *v, *t, *v2, *t2;
    int64_t nv, nv2, per[2] = {0};
    lh_error err = {{0}};
    for (int i = 0; i < 100; i++)
        lab[i] = i < 80 ? 0 : 1; /* 80 / 20 */
    d.count = 100, d.labels = lab, d.num_classes = 2;
    ck_assert_int_eq(lh_data_split(&d, 0.25, 7, &v, &nv, &t, &err), 0);
    ck_assert_int_eq(nv, 25);
    for (int64_t i = 0; i < nv; i++) {
        per[lab[v[i]]]++;
        ck_assert(i == 0 || v[i] > v[i - 1]);
    }
    ck_assert_int_eq(per[0], 20);
    ck_assert_int_eq(per[1], 5);
    for (int64_t i = 0, j = 0; i < 100; i++) /* train is the complement */
        ck_assert(j < nv && v[j] == i ? (j++, 1) : t[i - j] == i);
    ck_assert_int_eq(lh_data_split(&d, 0.25, 7, &v2, &nv2, &t2, &err), 0);
    ck_assert_int_eq(memcmp(v, v2, (size_t)nv * 4), 0);
    free(v2), free(t2);
    ck_assert_int_eq(lh_data_split(&d, 0.25, 8, &v2, &nv2, &t2, &err), 0);
    ck_assert_int_ne(memcmp(v, v2, (size_t)nv * 4), 0);
    free(v), free(t), free(v2), free(t2);
}
END_TEST

START_TEST(subset_and_feature_stats)
{
    lh_dataset d, s;
    lh_error err = {{0}};
    float m[18], sd[18];
    int32_t rows[2] = {5, 0};
    write_float_pair("x.npy", "y.npy");
    ck_assert_int_eq(open_file("x.npy", "y.npy", 3, &d, &err), 0);
    ck_assert_int_eq(lh_data_subset(&d, rows, 2, &s, &err), 0);
    ck_assert_int_eq(s.count, 2);
    ck_assert_ptr_null(s.map_base);
    ck_assert_float_eq(((float *)s.images)[0], 500.0f);
    ck_assert_int_eq(s.labels[0], 2);
    ck_assert_int_eq(lh_data_feature_stats(&s, m, sd, &err), 0);
    ck_assert_float_eq_tol(m[1], 251.0f, 1e-4);
    ck_assert_float_eq_tol(sd[1], 250.0f, 1e-4);
    lh_data_free(&s);
    lh_data_free(&d);
}
END_TEST

START_TEST(sniff_idx_and_text)
{
    lh_error err = {{0}};
    ck_assert_int_eq(lh_data_sniff(tmp, &err), LH_DATA_FMT_IDX);
    ck_assert_int_eq(write_bytes(P("i"), "\x00\x00\x08\x03", 4), 0);
    ck_assert_int_eq(lh_data_sniff(P("i"), &err), LH_DATA_FMT_IDX);
    put_text("table.txt", "a,label\n1,0\n");
    ck_assert_int_eq(lh_data_sniff(P("table.txt"), &err), LH_DATA_FMT_CSV);
    ck_assert_int_lt(lh_data_sniff(P("absent.csv"), &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "absent.csv: cannot open"));
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {
        npy_float_images_are_mapped, npy_uint8_hw_images, npy_bad_inputs,
        npz_stored_deflated_and_keras, npz_truncated_member, csv_reads_columns, csv_bad_inputs,
        split_is_stratified_and_seeded, subset_and_feature_stats, sniff_idx_and_text, NULL};
    return check_main("data_formats", 30, setup, teardown, tests);
}
