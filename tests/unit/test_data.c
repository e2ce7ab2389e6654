/* tests/unit/test_data.c — IDX loading: layouts, gzip and plain, and every bad-input message.
 * Small IDX files are written into a fresh temporary directory by each test.
 * Run: ctest --test-dir build -R test_data --output-on-failure */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "data.h"
#include "check_run.h"

static char tmp[256];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static void setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/lh_test_data_XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void teardown(void)
{
    nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* tmp + "/" + rel, in a static ring so a few can be alive at once. */
static const char *P(const char *rel)
{
    static char ring[8][1024];
    static int k;
    char *s = ring[k++ % 8];
    int n = snprintf(s, sizeof ring[0], "%s/%s", tmp, rel);
    ck_assert_int_lt(n, (int)sizeof ring[0]);
    return s;
}

static void mkdirs(const char *rel)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", tmp, rel);
    for (char *p = buf + strlen(tmp) + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0700);
            *p = '/';
        }
    }
    mkdir(buf, 0700);
}

/* IDX bytes: magic 00 00 type rank, big-endian dims, then payload. Returns the length. */
static size_t idx_bytes(unsigned char *out, int type, int rank, const uint32_t *dims,
                        const unsigned char *payload, size_t n)
{
    size_t k = 0;
    out[k++] = 0;
    out[k++] = 0;
    out[k++] = (unsigned char)type;
    out[k++] = (unsigned char)rank;
    for (int i = 0; i < rank; i++) {
        out[k++] = (unsigned char)(dims[i] >> 24);
        out[k++] = (unsigned char)(dims[i] >> 16);
        out[k++] = (unsigned char)(dims[i] >> 8);
        out[k++] = (unsigned char)dims[i];
    }
    memcpy(out + k, payload, n);
    return k + n;
}

static void write_raw(const char *path, const unsigned char *b, size_t n, int gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(gzwrite(f, b, (unsigned)n), (int)n);
        ck_assert_int_eq(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(b, 1, n, f), n);
        fclose(f);
    }
}

enum { N = 5, H = 3, W = 4 };
static unsigned char pixels[N * H * W], labels[N];

/* Write a valid split (N images of H x W, labels i % 10) into folder `rel` ("" = tmp). */
static void write_split(const char *rel, const char *split, int gz)
{
    unsigned char buf[4096];
    char name[512];
    uint32_t idims[3] = {N, H, W}, ldims[1] = {N};
    for (int i = 0; i < N * H * W; i++)
        pixels[i] = (unsigned char)(i * 7 + 3);
    for (int i = 0; i < N; i++)
        labels[i] = (unsigned char)(i % 10);
    if (*rel)
        mkdirs(rel);
    snprintf(name, sizeof name, "%s%s%s-images-idx3-ubyte%s", rel, *rel ? "/" : "", split,
             gz ? ".gz" : "");
    write_raw(P(name), buf, idx_bytes(buf, 8, 3, idims, pixels, sizeof pixels), gz);
    snprintf(name, sizeof name, "%s%s%s-labels-idx1-ubyte%s", rel, *rel ? "/" : "", split,
             gz ? ".gz" : "");
    write_raw(P(name), buf, idx_bytes(buf, 8, 1, ldims, labels, sizeof labels), gz);
}

static void check_loaded(const lh_dataset *d)
{
    ck_assert_int_eq(d->count, N);
    ck_assert_int_eq(d->channels, 1);
    ck_assert_int_eq(d->height, H);
    ck_assert_int_eq(d->width, W);
    ck_assert_int_eq(d->num_classes, 10);
    ck_assert_mem_eq(d->images, pixels, sizeof pixels);
    ck_assert_mem_eq(d->labels, labels, sizeof labels);
}

/* Expect lh_data_load(tmp, train, 10) to fail with exactly `want`. */
static void expect_error(int train, int32_t classes, const char *want)
{
    lh_dataset d;
    lh_error err = {{0}};
    ck_assert_int_eq(lh_data_load(tmp, train, classes, &d, &err), -1);
    ck_assert_str_eq(err.msg, want);
    ck_assert_ptr_null(d.images);
    ck_assert_ptr_null(d.labels);
}

START_TEST(test_plain_in_dir)
{
    lh_dataset d;
    lh_error err = {{0}};
    write_split("", "train", 0);
    ck_assert_msg(lh_data_load(tmp, 1, 10, &d, &err) == 0, "%s", err.msg);
    check_loaded(&d);
    ck_assert_str_eq(d.image_path, P("train-images-idx3-ubyte"));
    ck_assert_str_eq(d.label_path, P("train-labels-idx1-ubyte"));
    lh_data_free(&d);
    ck_assert_ptr_null(d.images);
    lh_data_free(&d); /* twice is harmless */
}
END_TEST

START_TEST(test_gz_in_mnist_raw)
{
    lh_dataset d;
    lh_error err = {{0}};
    char dir[300];
    write_split("MNIST/raw", "t10k", 1);
    snprintf(dir, sizeof dir, "%s/", tmp); /* a trailing slash is fine */
    ck_assert_msg(lh_data_load(dir, 0, 10, &d, &err) == 0, "%s", err.msg);
    check_loaded(&d);
    ck_assert_str_eq(d.image_path, P("MNIST/raw/t10k-images-idx3-ubyte.gz"));
    ck_assert_ptr_null(d.map_base); /* gzip is inflated into memory */
    lh_data_free(&d);
}
END_TEST

/* A .gz split is inflated once and mapped from the cache afterwards; a changed source (new
 * mtime or size) is not served from the old copy. */
START_TEST(test_gz_cache)
{
    lh_dataset d;
    lh_error err = {{0}};
    char cache[300], cmd[700];
    struct stat st;
    snprintf(cache, sizeof cache, "%s/cache", tmp);
    setenv("LHOST_DATA_CACHE", "1", 1);
    setenv("LHOST_CACHE_DIR", cache, 1);
    write_split("", "t10k", 1);
    ck_assert_msg(lh_data_load(tmp, 0, 10, &d, &err) == 0, "%s", err.msg);
    ck_assert_ptr_null(d.map_base); /* first time: inflated */
    check_loaded(&d);
    lh_data_free(&d);
    ck_assert_int_eq(stat(cache, &st), 0);
    ck_assert_msg(lh_data_load(tmp, 0, 10, &d, &err) == 0, "%s", err.msg);
    ck_assert_ptr_nonnull(d.map_base); /* second time: mapped from the cache */
    check_loaded(&d);
    lh_data_free(&d);
    /* Corrupt the cached copy's header: it is ignored, the source is read again. */
    snprintf(cmd, sizeof cmd, "for f in '%s'/*; do printf 'JUNK' | dd of=\"$f\" conv=notrunc "
             "status=none; done", cache);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_msg(lh_data_load(tmp, 0, 10, &d, &err) == 0, "%s", err.msg);
    check_loaded(&d);
    lh_data_free(&d);
    unsetenv("LHOST_CACHE_DIR");
    setenv("LHOST_DATA_CACHE", "0", 1);
}
END_TEST

START_TEST(test_fashion_raw_layouts)
{
    lh_dataset d;
    lh_error err = {{0}};
    write_split("FashionMNIST/raw", "train", 0);
    write_split("FashionMNIST/raw", "t10k", 1);
    ck_assert_msg(lh_data_load(tmp, 1, 10, &d, &err) == 0, "%s", err.msg);
    check_loaded(&d);
    ck_assert_str_eq(d.label_path, P("FashionMNIST/raw/train-labels-idx1-ubyte"));
    lh_data_free(&d);
    ck_assert_msg(lh_data_load(tmp, 0, 10, &d, &err) == 0, "%s", err.msg);
    check_loaded(&d);
    ck_assert_str_eq(d.image_path, P("FashionMNIST/raw/t10k-images-idx3-ubyte.gz"));
    lh_data_free(&d);
}
END_TEST

START_TEST(test_rank4_images)
{
    unsigned char buf[512], px[2 * 3 * 2 * 2], lb[2] = {1, 0};
    uint32_t idims[4] = {2, 3, 2, 2}, ldims[1] = {2};
    lh_dataset d;
    lh_error err = {{0}};
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (unsigned char)i;
    write_raw(P("train-images-idx3-ubyte.gz"), buf, idx_bytes(buf, 8, 4, idims, px, sizeof px), 1);
    write_raw(P("train-labels-idx1-ubyte.gz"), buf, idx_bytes(buf, 8, 1, ldims, lb, 2), 1);
    ck_assert_msg(lh_data_load(tmp, 1, 2, &d, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(d.count, 2);
    ck_assert_int_eq(d.channels, 3);
    ck_assert_int_eq(d.height, 2);
    ck_assert_int_eq(d.width, 2);
    ck_assert_mem_eq(d.images, px, sizeof px);
    lh_data_free(&d);
}
END_TEST

START_TEST(test_missing_dir)
{
    lh_dataset d;
    lh_error err = {{0}};
    char want[1024];
    ck_assert_int_eq(lh_data_load(P("nope"), 1, 10, &d, &err), -1);
    snprintf(want, sizeof want, "data %s: cannot open directory: No such file or directory",
             P("nope"));
    ck_assert_str_eq(err.msg, want);
    write_split("", "train", 0);
    ck_assert_int_eq(lh_data_load(P("train-images-idx3-ubyte"), 1, 10, &d, &err), -1);
    snprintf(want, sizeof want, "data %s: not a directory", P("train-images-idx3-ubyte"));
    ck_assert_str_eq(err.msg, want);
}
END_TEST

START_TEST(test_missing_file)
{
    char want[2048];
    write_split("", "train", 0);
    snprintf(want, sizeof want, "data %s: t10k-images-idx3-ubyte[.gz] not found (looked in %s, "
             "%s/MNIST/raw, %s/FashionMNIST/raw)", tmp, tmp, tmp, tmp);
    expect_error(0, 10, want);
    remove(P("train-labels-idx1-ubyte"));
    snprintf(want, sizeof want, "data %s: train-labels-idx1-ubyte[.gz] not found (looked in %s, "
             "%s/MNIST/raw, %s/FashionMNIST/raw)", tmp, tmp, tmp, tmp);
    expect_error(1, 10, want);
}
END_TEST

/* A gzip file cut just after a second member's header: the content ends at an exact offset. */
START_TEST(test_truncated_gz_exact_offset)
{
    unsigned char buf[4096];
    struct stat st;
    char want[1024];
    write_split("", "train", 1);
    uint32_t idims[3] = {N, H, W};
    size_t n = idx_bytes(buf, 8, 3, idims, pixels, sizeof pixels);
    const char *img = P("train-images-idx3-ubyte.gz");
    write_raw(img, buf, 16 + 20, 1); /* member 1: header + 20 pixels */
    ck_assert_int_eq(stat(img, &st), 0);
    gzFile f = gzopen(img, "ab");     /* member 2: the rest */
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(gzwrite(f, buf + 36, (unsigned)(n - 36)), (int)(n - 36));
    gzclose(f);
    ck_assert_int_eq(truncate(img, st.st_size + 10), 0); /* keep member 2's 10-byte header */
    snprintf(want, sizeof want, "data %s: truncated at byte 36: expected %d bytes of pixels", img,
             16 + N * H * W);
    expect_error(1, 10, want);
}
END_TEST

/* A gzip file cut in half: same message, at whatever offset inflate got to. */
START_TEST(test_truncated_gz_half)
{
    unsigned char big[16 + 200 * 28 * 28], lb[200] = {0};
    uint32_t idims[3] = {200, 28, 28}, ldims[1] = {200};
    unsigned char *px = malloc(200 * 28 * 28);
    struct stat st;
    char prefix[1024], suffix[128];
    for (int i = 0; i < 200 * 28 * 28; i++)
        px[i] = (unsigned char)((i * 2654435761u) >> 24); /* poorly compressible */
    const char *img = P("train-images-idx3-ubyte.gz");
    write_raw(img, big, idx_bytes(big, 8, 3, idims, px, 200 * 28 * 28), 1);
    write_raw(P("train-labels-idx1-ubyte"), big, idx_bytes(big, 8, 1, ldims, lb, 200), 0);
    free(px);
    ck_assert_int_eq(stat(img, &st), 0);
    ck_assert_int_eq(truncate(img, st.st_size / 2), 0);

    lh_dataset d;
    lh_error err = {{0}};
    ck_assert_int_eq(lh_data_load(tmp, 1, 10, &d, &err), -1);
    snprintf(prefix, sizeof prefix, "data %s: truncated at byte ", img);
    snprintf(suffix, sizeof suffix, ": expected %d bytes of pixels", 16 + 200 * 28 * 28);
    ck_assert_msg(strncmp(err.msg, prefix, strlen(prefix)) == 0, "got: %s", err.msg);
    char *end;
    long at = strtol(err.msg + strlen(prefix), &end, 10);
    ck_assert_msg(at > 16 && at < 16 + 200 * 28 * 28, "offset %ld in: %s", at, err.msg);
    ck_assert_str_eq(end, suffix);
}
END_TEST

START_TEST(test_corrupt_gz)
{
    unsigned char buf[4096];
    char prefix[1024];
    struct stat st;
    write_split("", "train", 0);
    uint32_t idims[3] = {N, H, W};
    const char *img = P("train-images-idx3-ubyte.gz");
    write_raw(img, buf, idx_bytes(buf, 8, 3, idims, pixels, sizeof pixels), 1);
    remove(P("train-images-idx3-ubyte"));
    /* Damage the CRC-32 in the trailer: all content inflates, then the check fails. */
    ck_assert_int_eq(stat(img, &st), 0);
    FILE *f = fopen(img, "r+b");
    fseek(f, st.st_size - 8, SEEK_SET);
    fputc(0x5a ^ 0xff, f);
    fseek(f, st.st_size - 7, SEEK_SET);
    fputc(0x11, f);
    fclose(f);
    lh_dataset d;
    lh_error err = {{0}};
    ck_assert_int_eq(lh_data_load(tmp, 1, 10, &d, &err), -1);
    snprintf(prefix, sizeof prefix, "data %s: corrupt gzip data after byte ", img);
    ck_assert_msg(strncmp(err.msg, prefix, strlen(prefix)) == 0, "got: %s", err.msg);
    ck_assert_ptr_nonnull(strstr(err.msg, "incorrect data check"));
}
END_TEST

START_TEST(test_truncated_plain)
{
    char want[1024];
    write_split("", "train", 0);
    ck_assert_int_eq(truncate(P("train-images-idx3-ubyte"), 16 + 50), 0);
    snprintf(want, sizeof want, "data %s: truncated at byte 66: expected %d bytes of pixels",
             P("train-images-idx3-ubyte"), 16 + N * H * W);
    expect_error(1, 10, want);
    ck_assert_int_eq(truncate(P("train-images-idx3-ubyte"), 10), 0);
    snprintf(want, sizeof want, "data %s: truncated at byte 10: expected a 16-byte IDX header",
             P("train-images-idx3-ubyte"));
    expect_error(1, 10, want);
    ck_assert_int_eq(truncate(P("train-labels-idx1-ubyte"), 0), 0);
    ck_assert_int_eq(truncate(P("train-images-idx3-ubyte"), 0), 0);
    snprintf(want, sizeof want, "data %s: truncated at byte 0: expected a 4-byte IDX magic number",
             P("train-images-idx3-ubyte"));
    expect_error(1, 10, want);
}
END_TEST

START_TEST(test_trailing_data)
{
    char want[1024];
    write_split("", "train", 0);
    FILE *f = fopen(P("train-labels-idx1-ubyte"), "ab");
    fputc(7, f);
    fclose(f);
    snprintf(want, sizeof want, "data %s: unexpected data after byte %d: the header describes %d "
             "bytes", P("train-labels-idx1-ubyte"), 8 + N, 8 + N);
    expect_error(1, 10, want);
    write_split("", "train", 0); /* the same for a (mapped) plain image file */
    f = fopen(P("train-images-idx3-ubyte"), "ab");
    fputc(7, f);
    fclose(f);
    snprintf(want, sizeof want, "data %s: unexpected data after byte %d: the header describes %d "
             "bytes", P("train-images-idx3-ubyte"), 16 + N * H * W, 16 + N * H * W);
    expect_error(1, 10, want);
}
END_TEST

START_TEST(test_wrong_magic)
{
    char want[1024];
    write_split("", "train", 1);
    write_raw(P("train-images-idx3-ubyte.gz"), (const unsigned char *)"PK\003\004zipzipzip", 12, 1);
    snprintf(want, sizeof want, "data %s: not an IDX file: magic at byte 0 is 0x504b0304, "
             "expected 0x00000803", P("train-images-idx3-ubyte.gz"));
    expect_error(1, 10, want);
}
END_TEST

START_TEST(test_wrong_dtype)
{
    unsigned char buf[512];
    char want[1024];
    uint32_t idims[3] = {N, H, W};
    write_split("", "train", 0);
    write_raw(P("train-images-idx3-ubyte"), buf, idx_bytes(buf, 0x0D, 3, idims, pixels, 60), 0);
    snprintf(want, sizeof want, "data %s: IDX data type 0x0d at byte 2 is not supported: expected "
             "0x08 (unsigned byte)", P("train-images-idx3-ubyte"));
    expect_error(1, 10, want);
}
END_TEST

START_TEST(test_wrong_dims)
{
    unsigned char buf[512];
    char want[1024];
    uint32_t d2[2] = {N, H * W}, d3[3] = {N, 0, W}, l2[2] = {N, 1};
    write_split("", "train", 0);
    write_raw(P("train-images-idx3-ubyte"), buf, idx_bytes(buf, 8, 2, d2, pixels, 60), 0);
    snprintf(want, sizeof want, "data %s: IDX rank 2 at byte 3: expected 3 (count, height, width) "
             "or 4 (count, channels, height, width) for images", P("train-images-idx3-ubyte"));
    expect_error(1, 10, want);
    write_raw(P("train-images-idx3-ubyte"), buf, idx_bytes(buf, 8, 3, d3, pixels, 0), 0);
    snprintf(want, sizeof want, "data %s: dimension 1 at byte 8 is 0: expected 1..2147483647",
             P("train-images-idx3-ubyte"));
    expect_error(1, 10, want);
    write_split("", "train", 0);
    write_raw(P("train-labels-idx1-ubyte"), buf, idx_bytes(buf, 8, 2, l2, labels, N), 0);
    snprintf(want, sizeof want, "data %s: IDX rank 2 at byte 3: expected 1 (count) for labels",
             P("train-labels-idx1-ubyte"));
    expect_error(1, 10, want);
}
END_TEST

START_TEST(test_count_mismatch)
{
    unsigned char buf[512];
    char want[1024];
    uint32_t ldims[1] = {N - 1};
    write_split("", "train", 1);
    write_raw(P("train-labels-idx1-ubyte.gz"), buf, idx_bytes(buf, 8, 1, ldims, labels, N - 1), 1);
    snprintf(want, sizeof want, "data %s: %d labels but %s has %d images",
             P("train-labels-idx1-ubyte.gz"), N - 1, P("train-images-idx3-ubyte.gz"), N);
    expect_error(1, 10, want);
}
END_TEST

START_TEST(test_label_out_of_range)
{
    char want[1024];
    write_split("", "train", 0); /* labels 0..4 */
    snprintf(want, sizeof want, "data %s: label 4 at byte 12 (item 4) is out of range: expected "
             "0..3 for 4 classes", P("train-labels-idx1-ubyte"));
    expect_error(1, 4, want);
    snprintf(want, sizeof want, "data %s: num_classes 0: expected 1..256 (labels are bytes)", tmp);
    expect_error(1, 0, want);
}
END_TEST

START_TEST(test_default_norm)
{
    float m, s;
    lh_dataset d = {0};
    lh_data_default_norm("/data/Fashion-MNIST", NULL, &m, &s);
    ck_assert_float_eq(m, 0.2860f);
    ck_assert_float_eq(s, 0.3530f);
    lh_data_default_norm("/data/mnist", NULL, &m, &s);
    ck_assert_float_eq(m, 0.1307f);
    ck_assert_float_eq(s, 0.3081f);
    snprintf(d.image_path, sizeof d.image_path, "/d/MNIST/raw/train-images-idx3-ubyte");
    lh_data_default_norm("/d", &d, &m, &s);
    ck_assert_float_eq(m, 0.1307f);
    /* Anything else: computed. Half 0, half 255 -> mean 0.5, std 0.5. */
    unsigned char px[8] = {0, 255, 0, 255, 0, 255, 0, 255};
    lh_dataset o = {.count = 2, .channels = 1, .height = 2, .width = 2, .images = px};
    snprintf(o.image_path, sizeof o.image_path, "/data/kmnist-like/train-images-idx3-ubyte");
    lh_data_default_norm("/data/kmnist-like", &o, &m, &s);
    ck_assert_float_eq_tol(m, 0.5f, 1e-6f);
    ck_assert_float_eq_tol(s, 0.5f, 1e-6f);
}
END_TEST

/* The Debian dataset-fashion-mnist package, when installed. */
START_TEST(test_fashion_mnist_package)
{
    struct stat st;
    if (stat(LH_DATA_DEFAULT_DIR, &st) != 0) {
        printf("test_data: %s not installed (Debian dataset-fashion-mnist): skipping\n",
               LH_DATA_DEFAULT_DIR);
        return;
    }
    lh_dataset tr, te;
    lh_error err = {{0}};
    float m, s;
    ck_assert_msg(lh_data_load(NULL, 1, 10, &tr, &err) == 0, "%s", err.msg);
    ck_assert_msg(lh_data_load(LH_DATA_DEFAULT_DIR, 0, 10, &te, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(tr.count, 60000);
    ck_assert_int_eq(te.count, 10000);
    ck_assert_int_eq(tr.channels, 1);
    ck_assert_int_eq(tr.height, 28);
    ck_assert_int_eq(tr.width, 28);
    ck_assert_int_eq(te.height, 28);
    ck_assert_int_eq(te.width, 28);
    int per_class[10] = {0};
    for (int i = 0; i < 60000; i++)
        per_class[tr.labels[i]]++;
    for (int c = 0; c < 10; c++)
        ck_assert_int_eq(per_class[c], 6000); /* Fashion-MNIST is balanced */
    lh_data_default_norm(NULL, &tr, &m, &s);
    ck_assert_float_eq(m, 0.2860f);
    lh_data_free(&tr);
    lh_data_free(&te);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("data");
    TCase *tc = tcase_create("idx");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_plain_in_dir);
    tcase_add_test(tc, test_gz_in_mnist_raw);
    tcase_add_test(tc, test_fashion_raw_layouts);
    tcase_add_test(tc, test_rank4_images);
    tcase_add_test(tc, test_missing_dir);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_truncated_gz_exact_offset);
    tcase_add_test(tc, test_truncated_gz_half);
    tcase_add_test(tc, test_corrupt_gz);
    tcase_add_test(tc, test_truncated_plain);
    tcase_add_test(tc, test_gz_cache);
    tcase_add_test(tc, test_trailing_data);
    tcase_add_test(tc, test_wrong_magic);
    tcase_add_test(tc, test_wrong_dtype);
    tcase_add_test(tc, test_wrong_dims);
    tcase_add_test(tc, test_count_mismatch);
    tcase_add_test(tc, test_label_out_of_range);
    tcase_add_test(tc, test_default_norm);
    tcase_add_test(tc, test_fashion_mnist_package);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return check_run(s);
}
