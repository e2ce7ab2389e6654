/* tests/unit/test_cache_integrity.c — the decompressed-data cache (host/data/data.c) serves a
 * copy only for the very source it was made from, and only while its payload checksum (CRC-32C,
 * host/util/crc32c.c) holds.
 * Run: ctest --test-dir build -R test_cache_integrity --output-on-failure */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "check_run.h"
#include "cli_run.h" /* read_text */
#include "crc32c.h"
#include "data.h"
#include "synth_data.h"

static char tmp[256], cache[300], src[400];

static void restore_stored(const char *path);

static void setup(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/lhost_cache_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    snprintf(cache, sizeof cache, "%s/cache", tmp);
    snprintf(src, sizeof src, "%s/t10k-images-idx3-ubyte.gz", tmp);
    setenv("LHOST_DATA_CACHE", "1", 1);
    setenv("LHOST_CACHE_DIR", cache, 1);
    ck_assert_int_eq(synth_split(tmp, "t10k", 64, 10, 5678), 0);
    restore_stored(src);
}

static void teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    ck_assert_int_eq(system(cmd), 0);
}

/* The one cache file (the test's cache folder holds exactly one). */
static void cache_file(char *out, size_t len)
{
    char cmd[600];
    FILE *p;
    snprintf(cmd, sizeof cmd, "ls '%s'/*.c1", cache);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(fgets(out, (int)len, p));
    out[strcspn(out, "\n")] = '\0';
    pclose(p);
}

/* Load t10k and return pixel 0 of image `i`; *mapped says whether the cache served it. */
static int pixel(int64_t i, int *mapped)
{
    lh_dataset d;
    lh_error err = {{0}};
    int v;
    ck_assert_msg(lh_data_load(tmp, 0, 10, &d, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(d.count, 64);
    v = d.images[i * 784];
    *mapped = d.map_base != NULL;
    lh_data_free(&d);
    return v;
}

/* Rewrite a .gz stored (level 0), so that its size depends on the content's length alone and a
 * replacement with other pixels can have the same size. */
static void restore_stored(const char *path)
{
    static uint8_t buf[16 + 64 * 784 + 1];
    gzFile g = gzopen(path, "rb");
    int n;
    ck_assert_ptr_nonnull(g);
    n = gzread(g, buf, sizeof buf);
    gzclose(g);
    ck_assert_int_eq(n, 16 + 64 * 784);
    g = gzopen(path, "wb0");
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(gzwrite(g, buf, (unsigned)n), n);
    ck_assert_int_eq(gzclose(g), Z_OK);
}

/* Replace the source by other pixels of the same size, then give it back its old mtime (to the
 * nanosecond), as `cp -p` (in place: same inode) or `rsync -t` (a new file renamed over it) do. */
static void replace_keeping_mtime(int in_place, uint64_t seed)
{
    struct stat st, nst;
    char other[400], from[500], cmd[2200];
    struct timespec ts[2];
    ck_assert_int_eq(stat(src, &st), 0);
    snprintf(other, sizeof other, "%s/other", tmp);
    ck_assert_int_eq(mkdir(other, 0755), 0);
    ck_assert_int_eq(synth_split(other, "t10k", 64, 10, seed), 0);
    snprintf(from, sizeof from, "%s/t10k-images-idx3-ubyte.gz", other);
    restore_stored(from);
    if (in_place)
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, src);
    else
        snprintf(cmd, sizeof cmd, "cp '%s' '%s.new' && mv '%s.new' '%s'", from, src, src, src);
    ck_assert_int_eq(system(cmd), 0);
    ts[0] = st.st_atim;
    ts[1] = st.st_mtim;
    ck_assert_int_eq(utimensat(AT_FDCWD, src, ts, 0), 0);
    ck_assert_int_eq(stat(src, &nst), 0);
    ck_assert_int_eq(nst.st_size, st.st_size);
    if (in_place)
        ck_assert_int_eq(nst.st_ino, st.st_ino);
}

/* Cached once, then mapped; the second load is served from the cache. */
START_TEST(test_cache_serves_second_load)
{
    int mapped, a = pixel(0, &mapped);
    ck_assert_int_eq(mapped, 0);
    ck_assert_int_eq(pixel(0, &mapped), a);
    ck_assert_int_eq(mapped, 1);
}
END_TEST

/* A flipped byte in the cached payload is found by its crc32: one warning, inflated again,
 * the right pixels. */
START_TEST(test_cache_payload_corruption)
{
    char path[700];
    int mapped, a, fd;
    uint8_t b;
    a = pixel(3, &mapped);
    cache_file(path, sizeof path);
    fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    /* head 64 + IDX header 16 + image 3's first pixel */
    ck_assert_int_eq(pread(fd, &b, 1, 64 + 16 + 3 * 784), 1);
    b ^= 0x5a;
    ck_assert_int_eq(pwrite(fd, &b, 1, 64 + 16 + 3 * 784), 1);
    close(fd);
    /* stderr goes to a file so the warning can be read back */
    char log[400];
    snprintf(log, sizeof log, "%s/stderr.txt", tmp);
    fflush(stderr);
    int saved = dup(2), lf = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(lf, 2);
    close(lf);
    ck_assert_int_eq(pixel(3, &mapped), a);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ck_assert_int_eq(mapped, 0); /* inflated again, not the corrupt copy */
    char *text = read_text(log);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(strstr(text, "lhost: warning: data cache ") && strstr(text, "checksum 0x") &&
                      strstr(text, "inflating ") && strstr(text, src),
                  "warning: %s", text);
    ck_assert_msg(strchr(text, '\n') == text + strlen(text) - 1, "one line: %s", text);
    free(text);
    /* ... and the rewritten copy is good again */
    ck_assert_int_eq(pixel(3, &mapped), a);
    ck_assert_int_eq(mapped, 1);
}
END_TEST

/* A .gz replaced in place by other content with the same size and mtime (cp -p): the new
 * pixels, not the stale copy. */
static void same_size_mtime(int in_place)
{
    int mapped, a, fresh;
    struct stat before, after;
    a = pixel(0, &mapped);
    ck_assert_int_eq(stat(src, &before), 0);
    replace_keeping_mtime(in_place, 999);
    ck_assert_int_eq(stat(src, &after), 0);
    ck_assert_int_eq(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
    ck_assert_int_eq(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
    /* the reference: what a load without the cache gives */
    setenv("LHOST_DATA_CACHE", "0", 1);
    fresh = pixel(0, &mapped);
    setenv("LHOST_DATA_CACHE", "1", 1);
    ck_assert_int_ne(fresh, a); /* the seeds give different first pixels */
    ck_assert_int_eq(pixel(0, &mapped), fresh);
    ck_assert_int_eq(mapped, 0);
    ck_assert_int_eq(pixel(0, &mapped), fresh); /* the new copy serves the new source */
    ck_assert_int_eq(mapped, 1);
}

START_TEST(test_cache_cp_p_in_place) { same_size_mtime(1); }
END_TEST

START_TEST(test_cache_rsync_t_rename) { same_size_mtime(0); }
END_TEST

/* A cache file of the old layout (or any foreign bytes) under the name is ignored. */
START_TEST(test_cache_foreign_file)
{
    char path[700], cmd[800];
    int mapped, a = pixel(5, &mapped);
    cache_file(path, sizeof path);
    snprintf(cmd, sizeof cmd, "printf 'JUNK' | dd of='%s' conv=notrunc status=none", path);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(pixel(5, &mapped), a);
    ck_assert_int_eq(mapped, 0);
}
END_TEST

/* The checksum: RFC 3720's check value, and the processor's path equal to the table's at every
 * length and alignment (a cache written on one machine checks on another). */
START_TEST(test_crc32c_values)
{
    static uint8_t buf[4099];
    uint64_t s = 7;
    ck_assert_uint_eq(lh_crc32c(0, "123456789", 9), 0xe3069283u);
    ck_assert_uint_eq(lh_crc32c_portable(0, "123456789", 9), 0xe3069283u);
    ck_assert_uint_eq(lh_crc32c(0, buf, 0), 0);
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)synth_next(&s);
    for (size_t off = 0; off < 9; off++)
        for (size_t n = 0; n + off <= sizeof buf; n += 1 + n / 3)
            ck_assert_msg(lh_crc32c(0, buf + off, n) == lh_crc32c_portable(0, buf + off, n),
                          "offset %zu length %zu", off, n);
    /* continuing a crc equals one pass */
    ck_assert_uint_eq(lh_crc32c(lh_crc32c(0, buf, 1000), buf + 1000, 3099),
                      lh_crc32c(0, buf, 4099));
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {
        test_cache_serves_second_load, test_cache_payload_corruption, test_cache_cp_p_in_place,
        test_cache_rsync_t_rename, test_cache_foreign_file, test_crc32c_values, NULL};
    return check_main("cache_integrity", 60, setup, teardown, tests);
}
