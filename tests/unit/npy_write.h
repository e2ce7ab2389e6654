/* tests/unit/npy_write.h — write .npy files and .npz archives (stored or deflated members) the
 * way np.save / np.savez / np.savez_compressed do, so tests need no Python (header-only). */
#ifndef LH_TEST_NPY_WRITE_H
#define LH_TEST_NPY_WRITE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* The .npy bytes (malloc'ed, *len) of an array: descr "<f4", shape (rank), data (nbytes). The
 * header is padded to a multiple of 64 bytes, as np.save does. */
static inline uint8_t *npy_bytes(const char *descr, const int64_t *shape, int rank, int fortran,
                          const void *data, size_t nbytes, size_t *len)
{
    char dict[256], sh[128] = "";
    for (int i = 0; i < rank; i++) /* Python's tuple repr: (5,) and (3, 4) */
        snprintf(sh + strlen(sh), sizeof sh - strlen(sh), "%lld%s", (long long)shape[i],
                 rank == 1 ? "," : i < rank - 1 ? ", " : "");
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }",
                     descr, fortran ? "True" : "False", sh);
    size_t hl = (size_t)n + 1, total;
    while ((10 + hl) % 64)
        hl++;
    total = 10 + hl + nbytes;
    uint8_t *b = malloc(total);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (uint8_t)(hl & 0xff), b[9] = (uint8_t)(hl >> 8);
    memset(b + 10, ' ', hl);
    memcpy(b + 10, dict, (size_t)n);
    b[10 + hl - 1] = '\n';
    if (nbytes)
        memcpy(b + 10 + hl, data, nbytes);
    *len = total;
    return b;
}

static inline int write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(b, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

static inline int npy_write(const char *path, const char *descr, const int64_t *shape, int rank,
                     const void *data, size_t nbytes)
{
    size_t n;
    uint8_t *b = npy_bytes(descr, shape, rank, 0, data, nbytes, &n);
    int rc = write_bytes(path, b, n);
    free(b);
    return rc;
}

static inline void put16(FILE *f, uint32_t v)
{
    fputc((int)(v & 0xff), f), fputc((int)((v >> 8) & 0xff), f);
}

static inline void put32(FILE *f, uint32_t v)
{
    put16(f, v & 0xffff), put16(f, v >> 16);
}

/* A zip of n members names[i] holding blobs[i] (sizes[i]); use_deflate: 1 = method 8. */
static inline int npz_write(const char *path, int n, const char *const *names,
                     uint8_t *const *blobs, const size_t *sizes, int use_deflate)
{
    FILE *f = fopen(path, "wb");
    uint32_t off[16], crc[16], csz[16];
    uint8_t *comp[16];
    long cd;
    if (!f || n > 16)
        return -1;
    for (int i = 0; i < n; i++) {
        crc[i] = (uint32_t)crc32(0L, blobs[i], (uInt)sizes[i]);
        if (use_deflate) {
            z_stream s;
            memset(&s, 0, sizeof s);
            deflateInit2(&s, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
            comp[i] = malloc(deflateBound(&s, (uLong)sizes[i]));
            s.next_in = blobs[i], s.avail_in = (uInt)sizes[i];
            s.next_out = comp[i], s.avail_out = (uInt)deflateBound(&s, (uLong)sizes[i]);
            deflate(&s, Z_FINISH);
            csz[i] = (uint32_t)s.total_out;
            deflateEnd(&s);
        } else {
            comp[i] = blobs[i], csz[i] = (uint32_t)sizes[i];
        }
        off[i] = (uint32_t)ftell(f);
        put32(f, 0x04034b50u), put16(f, 20), put16(f, 0), put16(f, use_deflate ? 8 : 0);
        put16(f, 0), put16(f, 0x21), put32(f, crc[i]), put32(f, csz[i]);
        put32(f, (uint32_t)sizes[i]), put16(f, (uint32_t)strlen(names[i])), put16(f, 0);
        fputs(names[i], f);
        fwrite(comp[i], 1, csz[i], f);
    }
    cd = ftell(f);
    for (int i = 0; i < n; i++) {
        put32(f, 0x02014b50u), put16(f, 20), put16(f, 20), put16(f, 0);
        put16(f, use_deflate ? 8 : 0), put16(f, 0), put16(f, 0x21), put32(f, crc[i]);
        put32(f, csz[i]), put32(f, (uint32_t)sizes[i]), put16(f, (uint32_t)strlen(names[i]));
        put16(f, 0), put16(f, 0), put16(f, 0), put16(f, 0), put32(f, 0), put32(f, off[i]);
        fputs(names[i], f);
        if (use_deflate)
            free(comp[i]);
    }
    long end = ftell(f);
    put32(f, 0x06054b50u), put16(f, 0), put16(f, 0), put16(f, (uint32_t)n), put16(f, (uint32_t)n);
    put32(f, (uint32_t)(end - cd)), put32(f, (uint32_t)cd), put16(f, 0);
    return fclose(f) == 0 ? 0 : -1;
}

#endif
