/* host/data/data_npz.c — NumPy .npz archives: `x` and `y`, or Keras' x_train, y_train, x_test,
 * y_test (as mnist.npz ships), each a .npy member of a zip file.
 *
 * The zip reading is our own, about a hundred lines over zlib: no zip library is among the
 * build's dependencies, and an .npz needs only the central directory (with its zip64 extra
 * field, which np.savez writes), stored members and deflated ones (np.savez_compressed). A
 * stored member is used in place in the mapped file when its data is aligned for its type
 * (always for uint8; zip headers rarely leave float32 data 4-byte aligned, so that is copied
 * once); a deflated one is inflated once, its CRC checked. Encrypted, multi-disk and other compression methods are refused by name. */
#include "data_npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <zlib.h>

typedef struct zip_member {
    char name[64];
    int32_t method;        /* 0 stored, 8 deflated */
    uint32_t crc;
    int64_t csize, usize, local;
} zip_member;

typedef struct zip_dir {
    const uint8_t *base;
    int64_t len;
    zip_member m[32];
    int32_t n;
    const char *path;
} zip_dir;

static uint32_t le16(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le32(const uint8_t *p)
{
    return le16(p) | le16(p + 2) << 16;
}

static int64_t le64(const uint8_t *p)
{
    return (int64_t)((uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32);
}

/* Zip64 extra field 0x0001: 8-byte values for those of usize, csize, local that read 2^32-1. */
static void zip64_extra(const uint8_t *x, uint32_t n, zip_member *m)
{
    while (n >= 4) {
        uint32_t id = le16(x), sz = le16(x + 2), k = 0;
        if (sz + 4 > n)
            return;
        if (id == 1) {
            int64_t *f[3] = {&m->usize, &m->csize, &m->local};
            for (int i = 0; i < 3; i++)
                if (*f[i] == 0xFFFFFFFFLL && k + 8 <= sz)
                    *f[i] = le64(x + 4 + k), k += 8;
        }
        x += 4 + sz, n -= 4 + sz;
    }
}

/* The end record (last 22..65557 bytes), then every central directory entry. */
static int zip_read_dir(zip_dir *z, lh_error *err)
{
    int64_t eocd = -1, cd, cd_size, entries, i, p;
    for (i = z->len - 22; i >= 0 && i >= z->len - 65557; i--)
        if (le32(z->base + i) == 0x06054b50u) {
            eocd = i;
            break;
        }
    if (eocd < 0)
        return lh_error_set(err, "data %s: not a zip archive (.npz): no end of central "
                            "directory record", z->path);
    entries = le16(z->base + eocd + 10);
    cd_size = le32(z->base + eocd + 12);
    cd = le32(z->base + eocd + 16);
    if (cd == 0xFFFFFFFFLL && eocd >= 20 && le32(z->base + eocd - 20) == 0x07064b50u) {
        int64_t r = le64(z->base + eocd - 12);
        if (r < 0 || r + 56 > z->len || le32(z->base + r) != 0x06064b50u)
            return lh_error_set(err, "data %s: corrupt zip64 end record", z->path);
        entries = le64(z->base + r + 32), cd_size = le64(z->base + r + 40);
        cd = le64(z->base + r + 48);
    }
    if (cd < 0 || cd_size < 0 || cd + cd_size > z->len)
        return lh_error_set(err, "data %s: truncated zip archive: the central directory at byte "
                            "%lld lies past the end (%lld bytes)", z->path, (long long)cd,
                            (long long)z->len);
    for (p = cd, i = 0; i < entries; i++) {
        zip_member m = {0};
        uint32_t nl, xl, cl;
        if (p + 46 > cd + cd_size || le32(z->base + p) != 0x02014b50u)
            return lh_error_set(err, "data %s: corrupt zip central directory at byte %lld",
                                z->path, (long long)p);
        nl = le16(z->base + p + 28), xl = le16(z->base + p + 30), cl = le16(z->base + p + 32);
        if (p + 46 + nl + xl + cl > cd + cd_size)
            return lh_error_set(err, "data %s: corrupt zip central directory at byte %lld",
                                z->path, (long long)p);
        if (le16(z->base + p + 8) & 1)
            return lh_error_set(err, "data %s: encrypted zip members are not supported",
                                z->path);
        m.method = (int32_t)le16(z->base + p + 10);
        m.crc = le32(z->base + p + 16);
        m.csize = le32(z->base + p + 20), m.usize = le32(z->base + p + 24);
        m.local = le32(z->base + p + 42);
        zip64_extra(z->base + p + 46 + nl, xl, &m);
        snprintf(m.name, sizeof m.name, "%.*s", (int)(nl < 63 ? nl : 63), z->base + p + 46);
        if (z->n < (int32_t)(sizeof z->m / sizeof z->m[0]))
            z->m[z->n++] = m;
        p += 46 + nl + xl + cl;
    }
    return 0;
}

static const zip_member *zip_find(const zip_dir *z, const char *name)
{
    for (int32_t i = 0; i < z->n; i++)
        if (strcmp(z->m[i].name, name) == 0)
            return &z->m[i];
    return NULL;
}

/* The member's bytes: *data points into the archive (stored) or to *owned (inflated). */
static int zip_get(const zip_dir *z, const zip_member *m, const uint8_t **data, uint8_t **owned,
                   lh_error *err)
{
    int64_t start;
    *owned = NULL;
    if (m->local < 0 || m->local + 30 > z->len || le32(z->base + m->local) != 0x04034b50u)
        return lh_error_set(err, "data %s: member '%s' is truncated: its local header at byte "
                            "%lld is missing", z->path, m->name, (long long)m->local);
    start = m->local + 30 + le16(z->base + m->local + 26) + le16(z->base + m->local + 28);
    if (start + m->csize > z->len)
        return lh_error_set(err, "data %s: member '%s' is truncated: %lld bytes from byte %lld, "
                            "but the file ends at %lld", z->path, m->name, (long long)m->csize,
                            (long long)start, (long long)z->len);
    if (m->method == 0) {
        if (m->csize != m->usize)
            return lh_error_set(err, "data %s: member '%s': stored sizes differ", z->path,
                                m->name);
        *data = z->base + start;
        return 0;
    }
    if (m->method != 8)
        return lh_error_set(err, "data %s: member '%s': zip method %d is not supported: "
                            "expected stored (0) or deflated (8)", z->path, m->name,
                            (int)m->method);
    if (m->usize > (INT64_C(1) << 40) || !(*owned = malloc(m->usize ? (size_t)m->usize : 1)))
        return lh_error_set(err, "data %s: member '%s': out of memory for %lld bytes", z->path,
                            m->name, (long long)m->usize);
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, -MAX_WBITS) != Z_OK)
        return lh_error_set(err, "data %s: zlib: cannot start inflating", z->path);
    int64_t in_left = m->csize, out_done = 0;
    const uint8_t *in = z->base + start;
    int zr = Z_OK;
    while (zr == Z_OK) { /* zlib counts in 32 bits: feed at most 1 GiB at a time */
        uInt in_chunk = in_left > (1 << 30) ? (1u << 30) : (uInt)in_left;
        uInt out_chunk = m->usize - out_done > (1 << 30) ? (1u << 30)
                                                        : (uInt)(m->usize - out_done);
        s.next_in = (Bytef *)in, s.avail_in = in_chunk;
        s.next_out = *owned + out_done, s.avail_out = out_chunk;
        zr = inflate(&s, Z_NO_FLUSH);
        in += in_chunk - s.avail_in, in_left -= in_chunk - s.avail_in;
        out_done += out_chunk - s.avail_out;
        if (zr == Z_OK && in_chunk == s.avail_in && out_chunk == s.avail_out)
            zr = Z_BUF_ERROR; /* no progress: the input ran out */
    }
    inflateEnd(&s);
    if (zr != Z_STREAM_END || out_done != m->usize)
        return lh_error_set(err, "data %s: member '%s' is truncated or corrupt: inflated %lld of "
                            "%lld bytes (%s)", z->path, m->name, (long long)out_done,
                            (long long)m->usize, zr == Z_DATA_ERROR ? "bad deflate data"
                                                                    : "input ended");
    if (crc32_z(0L, *owned, (z_size_t)m->usize) != m->crc)
        return lh_error_set(err, "data %s: member '%s': CRC mismatch (corrupt archive)",
                            z->path, m->name);
    *data = *owned;
    return 0;
}

/* Which members hold the split (train: see lh_data_source): x / y for a training part or a
 * file of its own, else Keras' x_train / y_train or x_test / y_test. A test part is never x / y:
 * that would evaluate on the training rows. */
static int pick(const zip_dir *z, int32_t train, const zip_member **xm, const zip_member **ym,
                lh_error *err)
{
    char found[512] = "";
    *xm = zip_find(z, "x.npy"), *ym = zip_find(z, "y.npy");
    if (*xm && *ym && train != 0)
        return 0;
    *xm = zip_find(z, train == 1 ? "x_train.npy" : "x_test.npy");
    *ym = zip_find(z, train == 1 ? "y_train.npy" : "y_test.npy");
    if (*xm && *ym)
        return 0;
    if (train == 0 && zip_find(z, "x.npy"))
        return lh_error_set(err, "data %s: holds x and y only, the training rows: name the "
                            "evaluation data (data.val, data.val_split or data.test)", z->path);
    for (int32_t i = 0; i < z->n; i++)
        snprintf(found + strlen(found), sizeof found - strlen(found), "%s%s", i ? ", " : "",
                 z->m[i].name);
    return lh_error_set(err, "data %s: expected members x and y, or x_train, y_train, x_test, "
                        "y_test (found: %s)", z->path, z->n ? found : "none");
}

int lh_data_load_npz(const char *path, int32_t train, int32_t num_classes, lh_dataset *out,
                     lh_error *err)
{
    zip_dir z = {.path = path};
    void *base;
    const zip_member *xm, *ym;
    const uint8_t *xd, *yd;
    uint8_t *xo = NULL, *yo = NULL;
    char what[4200];
    lh_npy xa, ya;
    int rc = -1;
    memset(out, 0, sizeof *out);
    out->num_classes = num_classes;
    if (lh_data_map_file(path, &base, &z.len, err))
        return -1;
    z.base = base;
    if (zip_read_dir(&z, err) || pick(&z, train, &xm, &ym, err))
        goto done;
    snprintf(out->image_path, sizeof out->image_path, "%s:%s", path, xm->name);
    snprintf(out->label_path, sizeof out->label_path, "%s:%s", path, ym->name);
    if (zip_get(&z, xm, &xd, &xo, err) ||
        lh_data_npy_parse(xd, xm->usize, out->image_path, &xa, err) ||
        lh_data_npy_images(&xa, out->image_path, out, err))
        goto done;
    snprintf(what, sizeof what, "%s", out->label_path);
    if (zip_get(&z, ym, &yd, &yo, err) || lh_data_npy_parse(yd, ym->usize, what, &ya, err) ||
        lh_data_npy_labels(&ya, yd + ya.data_offset, out->count, num_classes, what, out, err))
        goto done;
    if (!xo && ((uintptr_t)(xd + xa.data_offset) % 4 == 0 || out->dtype == LH_DATA_U8)) {
        out->images = (uint8_t *)xd + xa.data_offset; /* stored: used in place */
        out->map_base = base, out->map_len = z.len;
        base = NULL;
    } else {
        int64_t n = xa.count * xa.itemsize;
        if (!xo && !(xo = malloc(n ? (size_t)n : 1))) {
            lh_error_set(err, "data %s: out of memory", path);
            goto done;
        }
        memmove(xo, xd + xa.data_offset, (size_t)n);
        out->images = xo;
        xo = NULL;
    }
    rc = 0;
done:
    free(xo);
    free(yo);
    if (base)
        munmap(base, (size_t)z.len);
    if (rc)
        lh_data_free(out);
    return rc;
}
