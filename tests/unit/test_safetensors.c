/* tests/unit/test_safetensors.c — safetensors reader/writer, atomic writes, `lhost ckpt inspect`.
 * Run: ctest --test-dir build -R test_safetensors --output-on-failure
 * The fixture tests/golden/tiny.safetensors comes from tests/golden/gen_safetensors.py; the
 * values in fixture_writer() below repeat that script's TENSORS and METADATA. */
#include <check.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "cmd_ckpt.h"
#include "safetensors.h"

#define FIXTURE LH_SOURCE_DIR "/tests/golden/tiny.safetensors"

static char tmpdir[256];

static void make_tmpdir(void)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/lh_safetensors_XXXXXX", base);
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

static uint8_t *slurp(const char *path, uint64_t *len)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "cannot open %s", path);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    ck_assert_int_eq(fread(b, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (uint64_t)n;
    return b;
}

static void spit(const char *path, const void *b, uint64_t n)
{
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_int_eq(fwrite(b, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
}

/* Files in tmpdir whose name contains ".tmp." (leftover temporaries). */
static int count_temps(void)
{
    int n = 0;
    DIR *d = opendir(tmpdir);
    ck_assert_ptr_nonnull(d);
    for (struct dirent *e; (e = readdir(d));)
        n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

/* ---- the fixture's content, as the generator script writes it ---------------------------- */

static const float conv_w[8] = {-0.875f, -0.625f, -0.375f, -0.125f, 0.125f, 0.375f, 0.625f, 0.875f};
static const double fc_b[3] = {0.1, -2.5, 1e-300};
static const int64_t step = 123456789012;
static const int32_t counts[4] = {-1, 0, 7, 2147483647};
static const uint8_t mask[5] = {0, 1, 2, 254, 255};
static const uint64_t seed[2] = {UINT64_MAX, 42};
static const char *note = "tiny \"fixture\"\nline 2 \xe2\x80\x94 \xc3\xbc";

static lh_safetensors_writer *fixture_writer(void)
{
    lh_error err = {{0}};
    lh_safetensors_writer *w = lh_safetensors_writer_new();
    ck_assert_ptr_nonnull(w);
    int64_t s_conv[] = {2, 1, 2, 2}, s3[] = {3}, s4[] = {4}, s5[] = {5}, s2[] = {2}, s_empty[] = {0, 3};
    ck_assert_int_eq(lh_safetensors_meta(w, "epoch", "3", &err), 0);
    ck_assert_int_eq(lh_safetensors_meta(w, "note", note, &err), 0);
    ck_assert_int_eq(lh_safetensors_add(w, "conv.weight", "F32", 4, s_conv, conv_w, sizeof conv_w, &err), 0);
    ck_assert_int_eq(lh_safetensors_add(w, "fc.bias", "F64", 1, s3, fc_b, sizeof fc_b, &err), 0);
    ck_assert_int_eq(lh_safetensors_add(w, "step", "I64", 0, NULL, &step, sizeof step, &err), 0);
    ck_assert_int_eq(lh_safetensors_add(w, "counts", "I32", 1, s4, counts, sizeof counts, &err), 0);
    ck_assert_int_eq(lh_safetensors_add(w, "mask", "U8", 1, s5, mask, sizeof mask, &err), 0);
    ck_assert_int_eq(lh_safetensors_add(w, "seed", "U64", 1, s2, seed, sizeof seed, &err), 0);
    ck_assert_msg(lh_safetensors_add(w, "empty", "F32", 2, s_empty, NULL, 0, &err) == 0, "%s", err.msg);
    return w;
}

static void check_fixture_content(const lh_safetensors_file *f)
{
    lh_error err = {{0}};
    ck_assert_int_eq(lh_safetensors_count(f), 7);
    ck_assert_str_eq(lh_safetensors_name(f, 0), "conv.weight"); /* header order = insertion order */
    ck_assert_str_eq(lh_safetensors_name(f, 6), "empty");
    ck_assert_int_eq(lh_safetensors_header_size(f) % 8, 0);
    const float *cw = lh_safetensors_find(f, "conv.weight", "F32", 8, &err);
    ck_assert_msg(cw != NULL, "%s", err.msg);
    ck_assert_mem_eq(cw, conv_w, sizeof conv_w);
    int32_t i = lh_safetensors_index(f, "conv.weight");
    ck_assert_int_eq(lh_safetensors_ndim(f, i), 4);
    ck_assert_int_eq(lh_safetensors_shape(f, i)[0], 2);
    ck_assert_int_eq(lh_safetensors_shape(f, i)[3], 2);
    ck_assert_mem_eq(lh_safetensors_find(f, "fc.bias", "F64", 3, &err), fc_b, sizeof fc_b);
    i = lh_safetensors_index(f, "step");
    ck_assert_int_eq(lh_safetensors_ndim(f, i), 0);
    ck_assert_int_eq(lh_safetensors_elems(f, i), 1);
    ck_assert_int_eq(*(const int64_t *)lh_safetensors_find(f, "step", "I64", 1, &err), step);
    ck_assert_mem_eq(lh_safetensors_find(f, "counts", "I32", 4, &err), counts, sizeof counts);
    ck_assert_mem_eq(lh_safetensors_find(f, "mask", "U8", 5, &err), mask, sizeof mask);
    ck_assert_mem_eq(lh_safetensors_find(f, "seed", "U64", 2, &err), seed, sizeof seed);
    i = lh_safetensors_index(f, "empty");
    ck_assert_int_eq(lh_safetensors_nbytes(f, i), 0);
    ck_assert_int_eq(lh_safetensors_elems(f, i), 0);
    ck_assert_ptr_nonnull(lh_safetensors_find(f, "empty", "F32", 0, &err));
    ck_assert_int_eq(lh_safetensors_meta_count(f), 2);
    ck_assert_str_eq(lh_safetensors_meta_key(f, 0), "epoch");
    ck_assert_str_eq(lh_safetensors_meta_get(f, "epoch"), "3");
    ck_assert_str_eq(lh_safetensors_meta_get(f, "note"), note);
    ck_assert_ptr_null(lh_safetensors_meta_get(f, "absent"));
    /* every tensor starts at a file offset that is a multiple of its element size */
    for (i = 0; i < lh_safetensors_count(f); i++) {
        uint64_t at = 8 + lh_safetensors_header_size(f) + lh_safetensors_offset(f, i);
        ck_assert_msg(at % (uint64_t)lh_safetensors_dtype_size(lh_safetensors_dtype(f, i)) == 0, "%s misaligned at %llu",
                      lh_safetensors_name(f, i), (unsigned long long)at);
    }
}

START_TEST(test_read_fixture)
{
    lh_error err = {{0}};
    lh_safetensors_file *f;
    ck_assert_msg(lh_safetensors_read(FIXTURE, &f, &err) == 0, "%s", err.msg);
    check_fixture_content(f);
    lh_safetensors_close(f);
}
END_TEST

START_TEST(test_writer_matches_fixture_bytes)
{
    lh_error err = {{0}};
    lh_safetensors_writer *w = fixture_writer();
    uint8_t *mine;
    uint64_t mine_len, ref_len;
    ck_assert_int_eq(lh_safetensors_serialize(w, &mine, &mine_len, &err), 0);
    uint8_t *ref = slurp(FIXTURE, &ref_len);
    ck_assert_uint_eq(mine_len, ref_len);
    for (uint64_t k = 0; k < ref_len; k++)
        ck_assert_msg(mine[k] == ref[k], "byte %llu differs: ours 0x%02x, fixture 0x%02x",
                      (unsigned long long)k, mine[k], ref[k]);
    free(mine);
    free(ref);
    lh_safetensors_writer_free(w);
}
END_TEST

START_TEST(test_round_trip_file)
{
    lh_error err = {{0}};
    make_tmpdir();
    lh_safetensors_writer *w = fixture_writer();
    const char *p = tmp_path("rt.safetensors");
    ck_assert_msg(lh_safetensors_write_atomic(w, p, &err) == 0, "%s", err.msg);
    lh_safetensors_writer_free(w);
    lh_safetensors_file *f;
    ck_assert_msg(lh_safetensors_read(p, &f, &err) == 0, "%s", err.msg);
    check_fixture_content(f);
    lh_safetensors_close(f);
    ck_assert_int_eq(count_temps(), 0);
    remove_tmpdir();
}
END_TEST

START_TEST(test_round_trip_all_dtypes)
{
    static const char *dts[] = {"F64", "I64", "U64", "F32", "I32", "U32", "F16", "BF16", "I16",
                                "U16", "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2"};
    lh_error err = {{0}};
    lh_safetensors_writer *w = lh_safetensors_writer_new();
    uint8_t pattern[64];
    for (int k = 0; k < 64; k++)
        pattern[k] = (uint8_t)(k * 37 + 11);
    /* insert small types first so the writer has to reorder for alignment */
    for (int d = (int)(sizeof dts / sizeof dts[0]) - 1; d >= 0; d--) {
        char name[32];
        int64_t shape[] = {3};
        snprintf(name, sizeof name, "t_%s", dts[d]);
        ck_assert_msg(lh_safetensors_add(w, name, dts[d], 1, shape, pattern, 3u * (uint64_t)lh_safetensors_dtype_size(dts[d]),
                                &err) == 0, "%s", err.msg);
    }
    ck_assert_int_eq(lh_safetensors_meta(w, "empty_value", "", &err), 0);
    uint8_t *buf;
    uint64_t len;
    ck_assert_int_eq(lh_safetensors_serialize(w, &buf, &len, &err), 0);
    lh_safetensors_file *f;
    ck_assert_msg(lh_safetensors_parse("mem", buf, len, &f, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(lh_safetensors_count(f), 15);
    ck_assert_str_eq(lh_safetensors_name(f, 0), "t_F8_E5M2");
    for (int32_t i = 0; i < lh_safetensors_count(f); i++) {
        ck_assert_mem_eq(lh_safetensors_data(f, i), pattern, lh_safetensors_nbytes(f, i));
        ck_assert_int_eq((8 + lh_safetensors_header_size(f) + lh_safetensors_offset(f, i)) % (uint64_t)lh_safetensors_dtype_size(lh_safetensors_dtype(f, i)), 0);
    }
    ck_assert_str_eq(lh_safetensors_meta_get(f, "empty_value"), "");
    lh_safetensors_close(f);
    free(buf);
    lh_safetensors_writer_free(w);

    /* no tensors, no metadata: "{}" padded */
    w = lh_safetensors_writer_new();
    ck_assert_int_eq(lh_safetensors_serialize(w, &buf, &len, &err), 0);
    ck_assert_uint_eq(len, 16);
    ck_assert_int_eq(memcmp(buf + 8, "{}      ", 8), 0);
    ck_assert_int_eq(lh_safetensors_parse("mem", buf, len, &f, &err), 0);
    ck_assert_int_eq(lh_safetensors_count(f), 0);
    lh_safetensors_close(f);
    free(buf);
    lh_safetensors_writer_free(w);
}
END_TEST

START_TEST(test_writer_rejects)
{
    lh_error err = {{0}};
    lh_safetensors_writer *w = lh_safetensors_writer_new();
    float x[4] = {0};
    int64_t s4[] = {4}, neg[] = {-1};
    ck_assert_int_eq(lh_safetensors_add(w, "a", "F32", 1, s4, x, sizeof x, &err), 0);
    ck_assert_int_eq(lh_safetensors_add(w, "a", "F32", 1, s4, x, sizeof x, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "tensor \"a\" added twice"));
    ck_assert_int_eq(lh_safetensors_add(w, "b", "F33", 1, s4, x, sizeof x, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "unknown dtype \"F33\""));
    ck_assert_int_eq(lh_safetensors_add(w, "b", "F32", 1, s4, x, 12, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "12 bytes given for 4 elements of F32 (expected 16)"));
    ck_assert_int_eq(lh_safetensors_add(w, "b", "F32", 1, neg, x, 0, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "dimension 0 is -1"));
    ck_assert_int_eq(lh_safetensors_add(w, "__metadata__", "F32", 1, s4, x, sizeof x, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "reserved or empty"));
    ck_assert_int_eq(lh_safetensors_add(w, "", "F32", 1, s4, x, sizeof x, &err), -1);
    ck_assert_int_eq(lh_safetensors_add(w, "b", "F32", 1, s4, NULL, sizeof x, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "data is NULL"));
    ck_assert_int_eq(lh_safetensors_meta(w, "k", "v", &err), 0);
    ck_assert_int_eq(lh_safetensors_meta(w, "k", "w", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "metadata key \"k\" set twice"));
    /* the failed calls added nothing */
    uint8_t *buf;
    uint64_t len;
    lh_safetensors_file *f;
    ck_assert_int_eq(lh_safetensors_serialize(w, &buf, &len, &err), 0);
    ck_assert_int_eq(lh_safetensors_parse("mem", buf, len, &f, &err), 0);
    ck_assert_int_eq(lh_safetensors_count(f), 1);
    ck_assert_int_eq(lh_safetensors_meta_count(f), 1);
    ck_assert_str_eq(lh_safetensors_meta_get(f, "k"), "v");
    lh_safetensors_close(f);
    free(buf);
    lh_safetensors_writer_free(w);
}
END_TEST

START_TEST(test_find_errors)
{
    lh_error err = {{0}};
    lh_safetensors_file *f;
    ck_assert_int_eq(lh_safetensors_read(FIXTURE, &f, &err), 0);
    ck_assert_ptr_null(lh_safetensors_find(f, "fc.weight", "F32", 10, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "tiny.safetensors: tensor \"fc.weight\" not found (expected a F32 tensor)"));
    ck_assert_ptr_null(lh_safetensors_find(f, "fc.bias", "F32", 3, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "tensor \"fc.bias\" has dtype F64 (expected F32)"));
    ck_assert_ptr_null(lh_safetensors_find(f, "conv.weight", "F32", 9, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "tensor \"conv.weight\" has shape [2, 1, 2, 2] = 8 elements (expected 9)"));
    ck_assert_ptr_nonnull(lh_safetensors_find(f, "conv.weight", "F32", -1, &err));
    ck_assert_int_eq(lh_safetensors_index(f, "nope"), -1);
    lh_safetensors_close(f);
}
END_TEST

/* ---- corrupt and foreign files ------------------------------------------------------------ */

/* Parse `b` both from memory and from a file; both must fail with `want` in the message, and the
 * file's message must start with "checkpoint PATH: ". */
static void expect_bad(const void *b, uint64_t n, const char *want)
{
    lh_error err = {{0}};
    lh_safetensors_file *f = NULL;
    ck_assert_msg(lh_safetensors_parse("mem", b, n, &f, &err) == -1, "parse accepted a file that should fail with: %s", want);
    ck_assert_ptr_null(f);
    ck_assert_msg(strstr(err.msg, want) != NULL, "got \"%s\", expected it to contain \"%s\"", err.msg, want);
    const char *p = tmp_path("bad.safetensors");
    spit(p, b, n);
    ck_assert_int_eq(lh_safetensors_read(p, &f, &err), -1);
    char prefix[600];
    snprintf(prefix, sizeof prefix, "checkpoint %s: ", p);
    ck_assert_msg(strncmp(err.msg, prefix, strlen(prefix)) == 0, "got \"%s\"", err.msg);
    ck_assert_msg(strstr(err.msg, want) != NULL, "read: got \"%s\", expected \"%s\"", err.msg, want);
}

/* A file with this header text (not padded) and `data_len` zero bytes of data. */
static void expect_bad_header(const char *json, uint64_t data_len, const char *want)
{
    uint64_t hl = strlen(json), n = 8 + hl + data_len;
    uint8_t *b = calloc(1, n);
    for (int k = 0; k < 8; k++)
        b[k] = (uint8_t)(hl >> (8 * k));
    memcpy(b + 8, json, hl);
    expect_bad(b, n, want);
    free(b);
}

START_TEST(test_truncated)
{
    make_tmpdir();
    uint64_t n;
    uint8_t *b = slurp(FIXTURE, &n);
    uint64_t hl = 0;
    for (int k = 7; k >= 0; k--)
        hl = hl << 8 | b[k];
    expect_bad(b, 0, "file is 0 bytes, too short for the 8-byte header length");
    expect_bad(b, 5, "file is 5 bytes, too short");
    expect_bad(b, 8, "header length 496 runs past the end of the 8-byte file (expected at most 0; truncated file?)");
    expect_bad(b, 100, "runs past the end of the 100-byte file");
    expect_bad(b, 8 + hl - 1, "runs past the end");
    expect_bad(b, 8 + hl, "run past the end of the 0-byte data area");
    expect_bad(b, n - 1, "truncated file?");
    expect_bad(b, n - 40, "truncated file?");
    /* one byte too many: the data area must end with the last tensor */
    uint8_t *longer = calloc(1, n + 1);
    memcpy(longer, b, n);
    expect_bad(longer, n + 1, "1 unused bytes after the last tensor");
    free(longer);
    free(b);
    remove_tmpdir();
}
END_TEST

START_TEST(test_bad_header_length)
{
    make_tmpdir();
    uint64_t n;
    uint8_t *b = slurp(FIXTURE, &n);
    uint8_t save[8];
    memcpy(save, b, 8);
    memset(b, 0, 8);
    b[5] = 1; /* 2^40 */
    expect_bad(b, n, "header length 1099511627776 is absurd (expected at most 100000000 bytes");
    memcpy(b, save, 8);
    b[0] = (uint8_t)(n - 8 + 1);
    b[1] = (uint8_t)((n - 8 + 1) >> 8);
    expect_bad(b, n, "runs past the end");
    memcpy(b, save, 8);
    b[0] = 40; /* cuts the JSON short */
    b[1] = 0;
    expect_bad(b, n, "header is not valid JSON");
    expect_bad_header("", 0, "header length is 0");
    free(b);
    remove_tmpdir();
}
END_TEST

START_TEST(test_bad_headers)
{
    make_tmpdir();
    expect_bad_header("{\"a\":", 0, "header is not valid JSON (error near header byte");
    expect_bad_header("{} x", 0, "header has bytes after the JSON object at header byte 3");
    expect_bad_header("[1]     ", 0, "not a safetensors file (expected the JSON header to start with '{' at byte 8, found 0x5b)");
    expect_bad_header("{\"a\":3}", 0, "tensor \"a\" is a number (expected an object with dtype, shape, data_offsets)");
    expect_bad_header("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor \"a\": dtype is missing");
    expect_bad_header("{\"a\":{\"dtype\":\"F99\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                      "tensor \"a\": unknown dtype \"F99\" (expected F64, F32");
    expect_bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":3,\"data_offsets\":[0,4]}}", 4,
                      "tensor \"a\": shape is a number (expected an array of sizes)");
    expect_bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
                      "tensor \"a\": shape[0] is not a size");
    expect_bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
                      "tensor \"a\": shape[0] is not a size");
    expect_bad_header("{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}",
                      4, "tensor \"a\": shape has too many elements");
    expect_bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.5]}}", 4,
                      "tensor \"a\": data_offsets is not [begin, end]");
    expect_bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
                      "tensor \"a\": data_offsets is not [begin, end]");
    expect_bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4,
                      "data_offsets [4, 0] end before they begin");
    expect_bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
                      "tensor \"a\": shape holds 3 F32 elements = 12 bytes but data_offsets [0, 8] span 8 bytes (expected equal)");
    expect_bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
                      "tensor \"b\" data_offsets [4, 12] overlap tensor \"a\" [0, 8]");
    expect_bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
                      "4 unused bytes at data offset 0 before tensor \"a\"");
    expect_bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8,
                      "4 unused bytes after the last tensor");
    expect_bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                      "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
                      "tensor \"a\" appears twice in the header");
    expect_bad_header("{\"__metadata__\":{\"k\":1}}", 0, "__metadata__ \"k\" is a number (expected a string)");
    expect_bad_header("{\"__metadata__\":[\"k\"]}", 0, "__metadata__ is an array (expected an object of strings)");
    expect_bad_header("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "__metadata__ appears twice");
    expect_bad_header("{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", 0, "__metadata__ \"k\" appears twice");
    remove_tmpdir();
}
END_TEST

START_TEST(test_foreign_files)
{
    make_tmpdir();
    static const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    expect_bad(png, sizeof png, "not a safetensors file (it looks like a PNG image)");
    static const uint8_t zip[] = {'P', 'K', 3, 4, 20, 0, 0, 0, 8, 0, 'a', 'r', 'c', 'h', 'i', 'v', 'e'};
    expect_bad(zip, sizeof zip, "not a safetensors file (it looks like a ZIP archive");
    static const uint8_t pickle[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8};
    expect_bad(pickle, sizeof pickle, "not a safetensors file (it looks like a Python pickle");
    static const uint8_t gz[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    expect_bad(gz, sizeof gz, "not a safetensors file (it looks like a gzip");
    const char *text = "epoch,step,val_acc\n0,100,0.91\n";
    expect_bad(text, strlen(text), "is absurd");
    /* a valid length followed by something that is not JSON */
    static const uint8_t notjson[] = {8, 0, 0, 0, 0, 0, 0, 0, 'h', 'e', 'l', 'l', 'o', '!', '!', '!'};
    expect_bad(notjson, sizeof notjson, "not a safetensors file (expected the JSON header to start with '{' at byte 8, found 0x68)");

    lh_error err = {{0}};
    lh_safetensors_file *f;
    ck_assert_int_eq(lh_safetensors_read(tmpdir, &f, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "not a regular file"));
    ck_assert_int_eq(lh_safetensors_read(tmp_path("missing.safetensors"), &f, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "missing.safetensors: cannot open: No such file or directory"));
    remove_tmpdir();
}
END_TEST

START_TEST(test_misaligned_foreign_layout)
{
    /* U8[1] then F32[1] at data offset 1: valid safetensors, but the float is misaligned */
    const char *json = "{\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                       "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[1,5]}}";
    uint64_t hl = strlen(json), n = 8 + hl + 5;
    uint8_t *b = calloc(1, n);
    b[0] = (uint8_t)hl;
    memcpy(b + 8, json, hl);
    float v = 3.25f;
    b[8 + hl] = 7;
    memcpy(b + 8 + hl + 1, &v, 4);
    lh_error err = {{0}};
    lh_safetensors_file *f;
    ck_assert_msg(lh_safetensors_parse("mem", b, n, &f, &err) == 0, "%s", err.msg);
    const float *x = lh_safetensors_find(f, "x", "F32", 1, &err);
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq((uintptr_t)x % 4, 0);
    ck_assert_float_eq(*x, 3.25f);
    ck_assert_int_eq(*(const uint8_t *)lh_safetensors_find(f, "b", "U8", 1, &err), 7);
    lh_safetensors_close(f);
    free(b);
}
END_TEST

/* ---- atomic writes ------------------------------------------------------------------------ */

static lh_safetensors_writer *small_writer(float fill, int64_t elems)
{
    lh_error err = {{0}};
    lh_safetensors_writer *w = lh_safetensors_writer_new();
    float *x = malloc((size_t)elems * sizeof(float));
    for (int64_t k = 0; k < elems; k++)
        x[k] = fill;
    ck_assert_int_eq(lh_safetensors_add(w, "x", "F32", 1, &elems, x, (uint64_t)elems * sizeof(float), &err), 0);
    free(x);
    return w;
}

START_TEST(test_atomic_missing_dir)
{
    lh_error err = {{0}};
    make_tmpdir();
    lh_safetensors_writer *w = small_writer(1.0f, 4);
    const char *p = tmp_path("no/such/dir/x.safetensors");
    ck_assert_int_eq(lh_safetensors_write_atomic(w, p, &err), -1);
    char want[700];
    snprintf(want, sizeof want, "checkpoint %s: cannot create a temporary file in %s/no/such/dir: No such file "
             "or directory", p, tmpdir);
    ck_assert_str_eq(err.msg, want);
    ck_assert_int_eq(access(p, F_OK), -1);
    ck_assert_int_eq(lh_atomic_write(p, "abc", 3, &err), -1);
    ck_assert_int_eq(lh_atomic_fsync_dir(tmp_path("no"), &err), -1);
    ck_assert_int_eq(lh_atomic_fsync_dir(tmpdir, &err), 0);
    ck_assert_int_eq(count_temps(), 0);
    lh_safetensors_writer_free(w);
    remove_tmpdir();
}
END_TEST

START_TEST(test_atomic_replace_on_success)
{
    lh_error err = {{0}};
    make_tmpdir();
    const char *p = tmp_path("last.ckpt");
    lh_safetensors_writer *w1 = small_writer(1.0f, 4), *w2 = small_writer(2.0f, 8);
    ck_assert_int_eq(lh_safetensors_write_atomic(w1, p, &err), 0);
    ck_assert_int_eq(lh_safetensors_write_atomic(w2, p, &err), 0);
    lh_safetensors_file *f;
    ck_assert_int_eq(lh_safetensors_read(p, &f, &err), 0);
    const float *x = lh_safetensors_find(f, "x", "F32", 8, &err);
    ck_assert_ptr_nonnull(x);
    ck_assert_float_eq(x[7], 2.0f);
    lh_safetensors_close(f);
    ck_assert_int_eq(count_temps(), 0);

    /* plain buffers too, with a relative path */
    int cwd = open(".", O_RDONLY | O_DIRECTORY);
    ck_assert_int_eq(chdir(tmpdir), 0);
    ck_assert_int_eq(lh_atomic_write("metrics.csv", "a,b\n1,2\n", 8, &err), 0);
    ck_assert_int_eq(fchdir(cwd), 0);
    close(cwd);
    uint64_t n;
    uint8_t *b = slurp(tmp_path("metrics.csv"), &n);
    ck_assert_uint_eq(n, 8);
    ck_assert_int_eq(memcmp(b, "a,b\n1,2\n", 8), 0);
    free(b);
    ck_assert_int_eq(count_temps(), 0);
    lh_safetensors_writer_free(w1);
    lh_safetensors_writer_free(w2);
    remove_tmpdir();
}
END_TEST

START_TEST(test_atomic_failed_write_keeps_old_file)
{
    lh_error err = {{0}};
    make_tmpdir();
    const char *p = tmp_path("best.ckpt");
    lh_safetensors_writer *small = small_writer(1.0f, 4), *big = small_writer(5.0f, 4096);
    ck_assert_int_eq(lh_safetensors_write_atomic(small, p, &err), 0);
    uint64_t n0, n1;
    uint8_t *before = slurp(p, &n0);

    /* a file size limit makes write() fail with EFBIG half way (this test runs in its own process) */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {.rlim_cur = 1000, .rlim_max = RLIM_INFINITY};
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    ck_assert_int_eq(lh_safetensors_write_atomic(big, p, &err), -1);
    char want[700];
    snprintf(want, sizeof want, "checkpoint %s: write failed: File too large", p);
    ck_assert_str_eq(err.msg, want);
    rl.rlim_cur = RLIM_INFINITY;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);

    uint8_t *after = slurp(p, &n1);
    ck_assert_uint_eq(n0, n1);
    ck_assert_mem_eq(before, after, n0);
    ck_assert_int_eq(count_temps(), 0);

    /* a failed add leaves the writer as it was: writing it reproduces the old file */
    int64_t s1[] = {1};
    ck_assert_int_eq(lh_safetensors_add(small, "y", "F99", 1, s1, "abcd", 4, &err), -1);
    ck_assert_int_eq(lh_safetensors_write_atomic(small, p, &err), 0);
    free(after);
    after = slurp(p, &n1);
    ck_assert_uint_eq(n0, n1);
    ck_assert_mem_eq(before, after, n0);

    /* rename over a non-empty directory fails after the data is written: temp removed */
    const char *d = tmp_path("adir");
    ck_assert_int_eq(mkdir(d, 0700), 0);
    spit(tmp_path("adir/keep"), "k", 1);
    ck_assert_int_eq(lh_safetensors_write_atomic(big, d, &err), -1);
    ck_assert_msg(strstr(err.msg, "cannot rename the temporary file over it"), "%s", err.msg);
    ck_assert_int_eq(access(tmp_path("adir/keep"), F_OK), 0);
    ck_assert_int_eq(count_temps(), 0);
    free(before);
    free(after);
    lh_safetensors_writer_free(small);
    lh_safetensors_writer_free(big);
    remove_tmpdir();
}
END_TEST

/* ---- lhost ckpt inspect ------------------------------------------------------------------- */

/* Run lh_cmd_ckpt with stdout captured to a file; returns the exit status, *out the text. */
static int run_cmd(char **argv, int argc, char **out)
{
    const char *cap = tmp_path("stdout.txt");
    fflush(stdout);
    int saved = dup(1);
    ck_assert_ptr_nonnull(freopen(cap, "w", stdout));
    int rc = lh_cmd_ckpt(argc, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    uint64_t n;
    uint8_t *b = slurp(cap, &n);
    b[n] = 0;
    *out = (char *)b;
    return rc;
}

START_TEST(test_cmd_inspect_text)
{
    make_tmpdir();
    char *out;
    char *argv[] = {"ckpt", "inspect", FIXTURE, NULL};
    ck_assert_int_eq(run_cmd(argv, 3, &out), 0);
    static const char *want[] = {
        "file size   605 bytes (header 8 + 496, data 101)",
        "tensors     7",
        "conv.weight  F32    [2, 1, 2, 2]",
        "min -0.875  max 0.875  mean 0",
        "= 0.1 -2.5 1e-300",
        "= 123456789012",
        "= -1 0 7 2147483647",
        "min 0  max 255  mean 102.4",
        "= 18446744073709551615 42",
        "empty        F32    [0, 3]",
        "metadata    2 keys",
        "epoch = 3",
        "note = tiny \"fixture\"\\nline 2",
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++)
        ck_assert_msg(strstr(out, want[k]) != NULL, "missing \"%s\" in:\n%s", want[k], out);
    free(out);

    /* a long value is cut unless --verbose */
    lh_error err = {{0}};
    lh_safetensors_writer *w = lh_safetensors_writer_new();
    char longv[301];
    memset(longv, 'z', 300);
    longv[300] = 0;
    ck_assert_int_eq(lh_safetensors_meta(w, "plugin_state", longv, &err), 0);
    const char *p = tmp_path("long.safetensors");
    ck_assert_int_eq(lh_safetensors_write_atomic(w, p, &err), 0);
    lh_safetensors_writer_free(w);
    char *argv2[] = {"ckpt", "inspect", (char *)p, NULL};
    ck_assert_int_eq(run_cmd(argv2, 3, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "... (300 chars; --verbose shows all)"));
    ck_assert_ptr_null(strstr(out, longv));
    free(out);
    char *argv3[] = {"ckpt", "inspect", "--verbose", (char *)p, NULL};
    ck_assert_int_eq(run_cmd(argv3, 4, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, longv));
    free(out);
    remove_tmpdir();
}
END_TEST

START_TEST(test_cmd_inspect_json)
{
    make_tmpdir();
    char *out;
    char *argv[] = {"ckpt", "inspect", FIXTURE, "--json", NULL};
    ck_assert_int_eq(run_cmd(argv, 4, &out), 0);
    cJSON *j = cJSON_Parse(out);
    ck_assert_msg(j != NULL, "not JSON:\n%s", out);
    ck_assert_int_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "file_size")), 605);
    cJSON *ts = cJSON_GetObjectItem(j, "tensors");
    ck_assert_int_eq(cJSON_GetArraySize(ts), 7);
    cJSON *t0 = cJSON_GetArrayItem(ts, 0);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(t0, "name")), "conv.weight");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(t0, "shape")), 4);
    ck_assert_double_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(t0, "min")), -0.875);
    ck_assert_int_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(t0, "bytes")), 32);
    cJSON *step_t = cJSON_GetArrayItem(ts, 2);
    ck_assert_double_eq(cJSON_GetNumberValue(cJSON_GetArrayItem(cJSON_GetObjectItem(step_t, "values"), 0)),
                        123456789012.0);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metadata"), "note")), note);
    cJSON_Delete(j);
    free(out);
    remove_tmpdir();
}
END_TEST

START_TEST(test_cmd_usage_and_errors)
{
    make_tmpdir();
    char *out;
    char *a1[] = {"ckpt", NULL};
    ck_assert_int_eq(run_cmd(a1, 1, &out), 2);
    free(out);
    char *a2[] = {"ckpt", "inspect", NULL};
    ck_assert_int_eq(run_cmd(a2, 2, &out), 2);
    free(out);
    char *a3[] = {"ckpt", "frobnicate", "x", NULL};
    ck_assert_int_eq(run_cmd(a3, 3, &out), 2);
    free(out);
    char *a4[] = {"ckpt", "inspect", "--bogus", FIXTURE, NULL};
    ck_assert_int_eq(run_cmd(a4, 4, &out), 2);
    free(out);
    char *a5[] = {"ckpt", "inspect", FIXTURE, FIXTURE, NULL};
    ck_assert_int_eq(run_cmd(a5, 4, &out), 2);
    free(out);
    char *a6[] = {"ckpt", "--help", NULL};
    ck_assert_int_eq(run_cmd(a6, 2, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: lhost ckpt inspect PATH"));
    free(out);
    const char *bad = tmp_path("bad.ckpt");
    spit(bad, "PK\x03\x04zzzz", 8);
    char *a7[] = {"ckpt", "inspect", (char *)bad, NULL};
    ck_assert_int_eq(run_cmd(a7, 3, &out), 1);
    ck_assert_str_eq(out, "");
    free(out);
    remove_tmpdir();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_read_fixture);
    tcase_add_test(tc, test_writer_matches_fixture_bytes);
    tcase_add_test(tc, test_round_trip_file);
    tcase_add_test(tc, test_round_trip_all_dtypes);
    tcase_add_test(tc, test_writer_rejects);
    tcase_add_test(tc, test_find_errors);
    tcase_add_test(tc, test_truncated);
    tcase_add_test(tc, test_bad_header_length);
    tcase_add_test(tc, test_bad_headers);
    tcase_add_test(tc, test_foreign_files);
    tcase_add_test(tc, test_misaligned_foreign_layout);
    tcase_add_test(tc, test_atomic_missing_dir);
    tcase_add_test(tc, test_atomic_replace_on_success);
    tcase_add_test(tc, test_atomic_failed_write_keeps_old_file);
    tcase_add_test(tc, test_cmd_inspect_text);
    tcase_add_test(tc, test_cmd_inspect_json);
    tcase_add_test(tc, test_cmd_usage_and_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
