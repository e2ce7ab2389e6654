/* tests/fuzz/fuzz_idx.c — fuzz target for the IDX dataset reader (host/data/data.c), plain and
 * gzip. The input: one byte of flags, one byte num_classes, a 16-bit little-endian length L,
 * then the image file (L bytes) and the label file (the rest). Flags: bit 0 images as .gz, bit 1
 * labels as .gz (compressed here, so the IDX inside is what is fuzzed), bit 2 the .gz files hold
 * the raw bytes instead (so the gzip layer is fuzzed). The files go to a fresh folder in /dev/shm
 * (or $TMPDIR) and lh_data_load reads the training split from it. It either fails with a message
 * or gives a dataset whose every pixel and label can be read and every label < num_classes.
 * Run with LHOST_DATA_CACHE=0 (ctest sets it). Run: see tests/fuzz/README.md. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include "data.h"

#define CHECK(cond)                                                                         \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "fuzz_idx: %s:%d: invariant failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                                 \
            abort();                                                                        \
        }                                                                                   \
    } while (0)

static char dir[512];

static void cleanup(void)
{
    char p[600];
    static const char *const names[] = {"train-images-idx3-ubyte", "train-images-idx3-ubyte.gz",
                                        "train-labels-idx1-ubyte", "train-labels-idx1-ubyte.gz"};
    size_t k;
    for (k = 0; k < sizeof names / sizeof names[0]; k++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[k]);
        unlink(p);
    }
    rmdir(dir);
}

/* Write one file: the bytes as they are, or gzip-compressed in memory first (level 1 and the
 * smallest window and state zlib offers: the output is a valid .gz all the same, and a few KiB
 * of state instead of 256 KiB keeps the per-input cost on the reader under test). */
static void put(const char *base, const uint8_t *data, size_t n, int gz, int raw)
{
    char p[600], other[600];
    uint8_t *packed = NULL;
    const uint8_t *bytes = data;
    int fd;
    snprintf(p, sizeof p, "%s/%s%s", dir, base, gz ? ".gz" : "");
    snprintf(other, sizeof other, "%s/%s%s", dir, base, gz ? "" : ".gz");
    unlink(other); /* plain is looked for first */
    if (gz && !raw) {
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        CHECK(deflateInit2(&zs, 1, Z_DEFLATED, 16 + 9, 1, Z_DEFAULT_STRATEGY) == Z_OK);
        zs.avail_out = (uInt)deflateBound(&zs, (uLong)n);
        CHECK((packed = malloc(zs.avail_out)) != NULL);
        zs.next_in = (Bytef *)data;
        zs.avail_in = (uInt)n;
        zs.next_out = packed;
        CHECK(deflate(&zs, Z_FINISH) == Z_STREAM_END);
        n = zs.total_out;
        bytes = packed;
        CHECK(deflateEnd(&zs) == Z_OK);
    }
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    CHECK(n == 0 || write(fd, bytes, n) == (ssize_t)n);
    CHECK(close(fd) == 0);
    free(packed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lh_dataset ds;
    lh_error err;
    size_t li;
    int flags;
    if (!dir[0]) {
        const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/lhost-fuzz-idx-XXXXXX", tmp ? tmp : "/tmp");
        CHECK(mkdtemp(dir));
        atexit(cleanup);
        setenv("LHOST_DATA_CACHE", "0", 1);
    }
    if (size < 4)
        return 0;
    flags = data[0];
    li = (size_t)data[2] | (size_t)data[3] << 8;
    if (li > size - 4)
        li = size - 4;
    put("train-images-idx3-ubyte", data + 4, li, flags & 1, flags & 4);
    put("train-labels-idx1-ubyte", data + 4 + li, size - 4 - li, flags & 2, flags & 4);
    err.msg[0] = '\0';
    if (lh_data_load(dir, 1, data[1], &ds, &err) != 0) {
        CHECK(err.msg[0] && memchr(err.msg, 0, sizeof err.msg));
        CHECK(!ds.images && !ds.labels);
        return 0;
    }
    {
        int64_t per = (int64_t)ds.channels * ds.height * ds.width, i;
        unsigned sum = 0;
        CHECK(ds.count >= 0 && ds.channels >= 1 && ds.height >= 1 && ds.width >= 1);
        CHECK(ds.num_classes == data[1]);
        for (i = 0; i < ds.count; i++) {
            CHECK(ds.labels[i] < ds.num_classes);
            sum += ds.images[i * per] + ds.images[(i + 1) * per - 1];
        }
        (void)sum;
    }
    lh_data_free(&ds);
    return 0;
}
