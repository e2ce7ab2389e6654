/* host/data/data.c — IDX reader (see data.h). zlib's gzread reads .gz and plain files alike. */
#include "data.h"

#include "atomic.h"
#include "crc32c.h"
#include "paths.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define LH_IDX_UBYTE 0x08
#define LH_MAX_BYTES (INT64_C(1) << 40) /* refuse headers that promise more than 1 TiB */

/* One IDX file being read: what it should hold and where we are in it. */
typedef struct idx_file {
    const char *path;
    const char *what;  /* "pixels" or "labels" */
    gzFile gz;
    int64_t pos;       /* bytes of decompressed content consumed so far */
    int64_t total;     /* header + payload, once the header is read */
} idx_file;

/* Read exactly n bytes at f->pos. On a short read, fills err: "truncated at byte N: expected
 * ..." (expect_text) or "corrupt gzip data after byte N: <zlib>". */
static int idx_read(idx_file *f, void *buf, int64_t n, const char *expect_text, lh_error *err)
{
    unsigned char *p = buf;
    while (n > 0) {
        unsigned chunk = n > (1 << 30) ? (1u << 30) : (unsigned)n;
        int got = gzread(f->gz, p, chunk);
        if (got > 0) {
            f->pos += got;
            p += got;
            n -= got;
            if ((unsigned)got == chunk)
                continue;
        }
        int zerr = Z_OK;
        const char *zmsg = gzerror(f->gz, &zerr);
        if (zerr != Z_OK && zerr != Z_BUF_ERROR) /* Z_BUF_ERROR: "unexpected end of file" */
            return lh_error_set(err, "data %s: corrupt gzip data after byte %lld: %s", f->path,
                                (long long)f->pos, zmsg);
        if (got <= 0 || zerr == Z_BUF_ERROR)
            return lh_error_set(err, "data %s: truncated at byte %lld: expected %s", f->path,
                                (long long)f->pos, expect_text);
    }
    return 0;
}

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Read the header's `rank` big-endian dimensions. Each must fit an int32 and their product (the
 * payload's size, returned in *payload) stay under LH_MAX_BYTES, so a corrupt header is refused
 * before it makes us allocate. */
static int idx_dims(idx_file *f, int rank, int64_t dims[4], int64_t *payload, lh_error *err)
{
    unsigned char raw[16];
    char expect[128];
    snprintf(expect, sizeof expect, "a %d-byte IDX header", 4 + 4 * rank);
    if (idx_read(f, raw, 4 * rank, expect, err) < 0)
        return -1;
    int64_t bytes = 1;
    for (int i = 0; i < rank; i++) {
        uint32_t d = be32(raw + 4 * i);
        if (d == 0 || d > INT32_MAX)
            return lh_error_set(err, "data %s: dimension %d at byte %d is %u: expected 1..%d",
                                f->path, i, 4 + 4 * i, (unsigned)d, INT32_MAX);
        dims[i] = d;
        if (bytes > LH_MAX_BYTES / (int64_t)d)
            return lh_error_set(err,
                                "data %s: the header's dimensions at byte 4 describe more than "
                                "%lld bytes",
                                f->path, (long long)LH_MAX_BYTES);
        bytes *= d;
    }
    *payload = bytes;
    return 0;
}

/* zlib's read buffer: 256 KiB, or the file's size when smaller (at least zlib's default 8 KiB),
 * so a small file costs no large allocations. Only the chunking depends on it. */
static unsigned read_buffer(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || st.st_size >= (1 << 18))
        return 1u << 18;
    return st.st_size < 8192 ? 8192u : (unsigned)st.st_size;
}

/* Open f->path and read its header. rank_lo..rank_hi are the accepted ranks, rank_text names
 * them in a bad-rank message and rank_lo's magic is the one a bad-magic message expects. On
 * success dims[0..*rank) hold the dimensions and the file is positioned at the payload, whose
 * size is returned in *payload. */
static int idx_open(idx_file *f, int rank_lo, int rank_hi, const char *rank_text,
                    int64_t dims[4], int *rank, int64_t *payload, lh_error *err)
{
    unsigned char magic[4];

    f->pos = 0;
    errno = 0;
    f->gz = gzopen(f->path, "rb");
    if (!f->gz)
        return lh_error_set(err, "data %s: cannot open: %s", f->path,
                            errno ? strerror(errno) : "out of memory");
    gzbuffer(f->gz, read_buffer(f->path));
    if (idx_read(f, magic, 4, "a 4-byte IDX magic number", err) < 0)
        return -1;
    if (magic[0] != 0 || magic[1] != 0)
        return lh_error_set(err,
                            "data %s: not an IDX file: magic at byte 0 is 0x%08x, expected 0x%08x",
                            f->path, (unsigned)be32(magic), 0x800u | (unsigned)rank_lo);
    if (magic[2] != LH_IDX_UBYTE)
        return lh_error_set(err,
                            "data %s: IDX data type 0x%02x at byte 2 is not supported: expected "
                            "0x08 (unsigned byte)",
                            f->path, magic[2]);
    *rank = magic[3];
    if (*rank < rank_lo || *rank > rank_hi)
        return lh_error_set(err, "data %s: IDX rank %d at byte 3: expected %s", f->path, *rank,
                            rank_text);
    if (idx_dims(f, *rank, dims, payload, err) < 0)
        return -1;
    f->total = f->pos + *payload;
    return 0;
}

/* Read the payload into a new buffer (*out, freed by the caller either way) and check nothing
 * follows it. The buffer grows with what the file really holds, doubling from 1 MiB, so a .gz
 * whose header promises gigabytes but holds a few bytes fails as truncated, not at malloc. */
static int idx_payload(idx_file *f, int64_t bytes, uint8_t **out, lh_error *err)
{
    char expect[128];
    unsigned char extra;
    int64_t cap = bytes < (1 << 20) ? bytes : (1 << 20), have = 0;

    snprintf(expect, sizeof expect, "%lld bytes of %s", (long long)f->total, f->what);
    *out = malloc(cap > 0 ? (size_t)cap : 1);
    for (;;) {
        if (!*out)
            return lh_error_set(err, "data %s: out of memory for %lld bytes of %s", f->path,
                                (long long)bytes, f->what);
        if (idx_read(f, *out + have, cap - have, expect, err) < 0)
            return -1;
        if ((have = cap) == bytes)
            break;
        uint8_t *grown = realloc(*out, (size_t)(cap = cap > bytes / 2 ? bytes : 2 * cap));
        if (!grown)
            free(*out);
        *out = grown;
    }
    int got = gzread(f->gz, &extra, 1);
    int zerr = Z_OK;
    const char *zmsg = gzerror(f->gz, &zerr);
    if (got > 0)
        return lh_error_set(err, "data %s: unexpected data after byte %lld: the header describes "
                            "%lld bytes", f->path, (long long)f->pos, (long long)f->total);
    if (zerr != Z_OK) /* e.g. a bad CRC or a cut trailer after the last byte of content */
        return lh_error_set(err, "data %s: corrupt gzip data after byte %lld: %s", f->path,
                            (long long)f->pos, zmsg);
    return 0;
}

/* A plain file (gzread passing bytes through): map it instead of copying its payload. The
 * file's length must be exactly header + payload. Returns 1 if mapped, 0 to fall back to
 * reading (mmap refused), -1 on error. */
static int idx_map(idx_file *f, int64_t bytes, lh_dataset *out, lh_error *err)
{
    struct stat st;
    char expect[128];
    if (!gzdirect(f->gz))
        return 0;
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lh_error_set(err, "data %s: cannot open: %s", f->path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        close(fd);
        return lh_error_set(err, "data %s: cannot stat: %s", f->path, strerror(errno));
    }
    snprintf(expect, sizeof expect, "%lld bytes of %s", (long long)f->total, f->what);
    if ((int64_t)st.st_size < f->total) {
        close(fd);
        return lh_error_set(err, "data %s: truncated at byte %lld: expected %s", f->path,
                            (long long)st.st_size, expect);
    }
    if ((int64_t)st.st_size > f->total) {
        close(fd);
        return lh_error_set(err, "data %s: unexpected data after byte %lld: the header describes "
                            "%lld bytes", f->path, (long long)f->total, (long long)f->total);
    }
    void *base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (base == MAP_FAILED)
        return 0;
    out->map_base = base;
    out->map_len = st.st_size;
    out->images = (uint8_t *)base + (f->total - bytes);
    return 1;
}

static void idx_close(idx_file *f)
{
    if (f->gz)
        gzclose(f->gz);
    f->gz = NULL;
}

/* Find `base` or `base`.gz in dir, dir/MNIST/raw, dir/FashionMNIST/raw (plain first). */
static int find_file(const char *dir, const char *base, char *out, size_t out_len, lh_error *err)
{
    static const char *const subs[] = {"", "/MNIST/raw", "/FashionMNIST/raw"};
    static const char *const exts[] = {"", ".gz"};
    struct stat st;
    for (size_t s = 0; s < sizeof subs / sizeof *subs; s++) {
        for (size_t e = 0; e < sizeof exts / sizeof *exts; e++) {
            int n = snprintf(out, out_len, "%s%s/%s%s", dir, subs[s], base, exts[e]);
            if (n < 0 || (size_t)n >= out_len)
                return lh_error_set(err, "data %s: path too long", dir);
            if (stat(out, &st) != 0)
                continue;
            if (S_ISREG(st.st_mode))
                return 0;
            /* A FIFO or a folder under the name would block or mislead the reader: say so
             * rather than "not found". */
            return lh_error_set(err, "data %s: not a regular file (%s), expected an IDX file", out,
                                S_ISDIR(st.st_mode) ? "a directory"
                                : S_ISFIFO(st.st_mode) ? "a FIFO" : "a device or socket");
        }
    }
    return lh_error_set(err, "data %s: %s[.gz] not found (looked in %s, %s/MNIST/raw, "
                        "%s/FashionMNIST/raw)", dir, base, dir, dir, dir);
}

/* ---- decompressed cache --------------------------------------------------------------------
 * Inflating Fashion-MNIST's 47 MB of training pixels takes ~0.6 s; mapping a decompressed copy
 * and checking its CRC-32C takes ~12 ms. Copies live in $LHOST_CACHE_DIR, else
 * $XDG_CACHE_HOME/lhost/idx, else ~/.cache/lhost/idx, one per source path (named by a hash of
 * it), so a changed source replaces its copy instead of leaving another behind.
 *
 * A copy is trusted only for the source it was made from. Its 64-byte head records that
 * source's identity: device, inode, size, mtime and ctime to the nanosecond, and the CRC-32 and
 * length of the uncompressed data from the gzip trailer. `cp -p` and `rsync -t` give a
 * replacement the old size and mtime, but `cp -p` writes in place (a new ctime) and rsync renames
 * a new file over the old one (a new inode); the trailer's CRC-32 changes with the content
 * either way. The head also holds the CRC-32C of the payload (host/util/crc32c.h), checked on
 * every map: a copy whose
 * bytes changed on disk is reported in one warning line and inflated again. LHOST_DATA_CACHE=0
 * turns the cache off. A cache that cannot be written is not an error: the data was read
 * correctly anyway.
 *
 * Head (native byte order, 8-byte fields): magic "LHIDXC" 0 2, u64 size, i64 mtime ns,
 * i64 ctime ns, u64 inode, u64 device, u32 gzip CRC-32, u32 gzip length, u32 payload CRC-32C,
 * u32 0; then the IDX header and the pixels. */

#define LH_CACHE_HEAD 64
#define LH_CACHE_KEY 56 /* the head's bytes up to the payload checksum */
static const char lh_cache_magic[8] = {'L', 'H', 'I', 'D', 'X', 'C', 0, 2};

static int cache_path(const char *src, char *out, size_t len)
{
    const char *env = getenv("LHOST_DATA_CACHE"), *dir = getenv("LHOST_CACHE_DIR"), *base;
    char root[4096];
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    const char *p;
    if (env && strcmp(env, "0") == 0)
        return -1;
    if (dir && *dir)
        snprintf(root, sizeof root, "%s", dir);
    else if ((dir = getenv("XDG_CACHE_HOME")) && *dir)
        snprintf(root, sizeof root, "%s/lhost/idx", dir);
    else if ((dir = getenv("HOME")) && *dir)
        snprintf(root, sizeof root, "%s/.cache/lhost/idx", dir);
    else
        return -1;
    for (p = src; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    base = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;
    if ((size_t)snprintf(out, len, "%s/%016llx-%.*s.c1", root, (unsigned long long)h,
                         (int)(strlen(base) > 3 ? strlen(base) - 3 : strlen(base)), base) >= len)
        return -1;
    return 0;
}

static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, sizeof v); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, sizeof v); }

/* The source's identity as the head's first LH_CACHE_KEY bytes. -1 when it cannot be read. */
static int cache_key(const char *src, uint8_t key[LH_CACHE_KEY])
{
    struct stat st;
    uint8_t trailer[8] = {0};
    int fd = open(src, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 || st.st_size < 8 ||
        pread(fd, trailer, sizeof trailer, st.st_size - 8) != (ssize_t)sizeof trailer) {
        close(fd);
        return -1;
    }
    close(fd);
    memset(key, 0, LH_CACHE_KEY);
    memcpy(key, lh_cache_magic, sizeof lh_cache_magic);
    put64(key + 8, (uint64_t)st.st_size);
    put64(key + 16, (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec);
    put64(key + 24, (uint64_t)st.st_ctim.tv_sec * 1000000000ull + (uint64_t)st.st_ctim.tv_nsec);
    put64(key + 32, (uint64_t)st.st_ino);
    put64(key + 40, (uint64_t)st.st_dev);
    memcpy(key + 48, trailer, sizeof trailer); /* gzip: CRC-32, then ISIZE (RFC 1952) */
    return 0;
}

/* The IDX header bytes for `rank` dims of ubyte data. */
static int idx_header(const int64_t *dims, int rank, uint8_t *h)
{
    int i;
    h[0] = h[1] = 0, h[2] = LH_IDX_UBYTE, h[3] = (uint8_t)rank;
    for (i = 0; i < rank; i++) {
        uint32_t d = (uint32_t)dims[i];
        h[4 + 4 * i] = (uint8_t)(d >> 24), h[5 + 4 * i] = (uint8_t)(d >> 16);
        h[6 + 4 * i] = (uint8_t)(d >> 8), h[7 + 4 * i] = (uint8_t)d;
    }
    return 4 + 4 * rank;
}

/* Map the cached copy if it was made from this source (key), carries this IDX header and size,
 * and its payload still has the checksum it was written with. 1 when mapped, else 0 (the caller
 * inflates again). */
static int cache_map(const char *cache, const uint8_t *key, const uint8_t *hdr, int hlen,
                     int64_t bytes, const char *src, lh_dataset *out)
{
    struct stat st;
    uint8_t head[LH_CACHE_HEAD];
    uint32_t stored, got;
    uint8_t *base;
    int fd = open(cache, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    /* The head first: a copy of an older source is refused without reading its pixels. */
    if (fstat(fd, &st) != 0 || (int64_t)st.st_size != LH_CACHE_HEAD + hlen + bytes ||
        pread(fd, head, sizeof head, 0) != (ssize_t)sizeof head ||
        memcmp(head, key, LH_CACHE_KEY) != 0) {
        close(fd);
        return 0;
    }
    /* MAP_POPULATE: the whole file is read right away anyway; one kernel pass is cheaper than
     * a page fault per page. */
    base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    close(fd);
    if (base == MAP_FAILED)
        return 0;
    memcpy(&stored, base + LH_CACHE_KEY, sizeof stored);
    got = lh_crc32c(0, base + LH_CACHE_HEAD, (size_t)(hlen + bytes));
    if (memcmp(base + LH_CACHE_HEAD, hdr, (size_t)hlen) != 0 || got != stored) {
        fprintf(stderr, "lhost: warning: data cache %s: checksum 0x%08x, expected 0x%08x: "
                "inflating %s again\n", cache, (unsigned)got, (unsigned)stored, src);
        munmap(base, (size_t)st.st_size);
        return 0;
    }
    out->map_base = base;
    out->map_len = st.st_size;
    out->images = base + LH_CACHE_HEAD + hlen;
    return 1;
}

static void cache_write(const char *cache, const uint8_t *key, const uint8_t *hdr, int hlen,
                        const uint8_t *payload, int64_t bytes)
{
    lh_atomic_file f;
    lh_error ignored;
    uint8_t head[LH_CACHE_HEAD] = {0};
    memcpy(head, key, LH_CACHE_KEY);
    put32(head + LH_CACHE_KEY, lh_crc32c(lh_crc32c(0, hdr, (size_t)hlen), payload, (size_t)bytes));
    /* The cache is best effort: a folder that cannot be made means no cache, not an error. */
    if (lh_paths_mkdir_p(cache, 1, &ignored) || lh_atomic_open(&f, cache, &ignored))
        return;
    if (lh_atomic_put(&f, head, sizeof head, &ignored) ||
        lh_atomic_put(&f, hdr, (size_t)hlen, &ignored) ||
        lh_atomic_put(&f, payload, (size_t)bytes, &ignored) || lh_atomic_commit(&f, &ignored))
        lh_atomic_abort(&f);
}

/* ---- loading a split ------------------------------------------------------------------------
 * lh_data_load reads one split in steps: the folder, the two files, their headers, the labels,
 * then the pixels (mapped, from the cache, or inflated). Each step records its own message. */

/* Copy dir_arg into dir without trailing slashes, so messages and found paths carry no "//",
 * and check it is a folder we can read before looking for files in it. */
static int data_dir(const char *dir_arg, char *dir, size_t dir_len, lh_error *err)
{
    struct stat st;
    if (strlen(dir_arg) >= dir_len)
        return lh_error_set(err, "data %.64s...: path too long", dir_arg);
    strcpy(dir, dir_arg);
    for (size_t n = strlen(dir); n > 1 && dir[n - 1] == '/'; n--)
        dir[n - 1] = '\0';
    if (stat(dir, &st) != 0)
        return lh_error_set(err, "data %s: cannot open directory: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return lh_error_set(err, "data %s: not a directory", dir);
    return 0;
}

/* Find the split's images and labels under the names MNIST and torchvision use ("train" or
 * "t10k"); the paths are kept in out so the caller can say which files were read. */
static int find_split(const char *dir, int32_t train, lh_dataset *out, lh_error *err)
{
    const char *split = train ? "train" : "t10k";
    char img_base[64], lbl_base[64];
    snprintf(img_base, sizeof img_base, "%s-images-idx3-ubyte", split);
    snprintf(lbl_base, sizeof lbl_base, "%s-labels-idx1-ubyte", split);
    if (find_file(dir, img_base, out->image_path, sizeof out->image_path, err) < 0 ||
        find_file(dir, lbl_base, out->label_path, sizeof out->label_path, err) < 0)
        return -1;
    return 0;
}

/* Read the labels and check each names one of num_classes: an out-of-range label would index
 * past the model's outputs, so it is refused here with its byte offset. */
static int load_labels(idx_file *fl, int64_t count, int64_t bytes, int32_t num_classes,
                       lh_dataset *out, lh_error *err)
{
    if (idx_payload(fl, bytes, &out->labels, err) < 0)
        return -1;
    for (int64_t i = 0; i < count; i++) {
        if (out->labels[i] >= num_classes)
            return lh_error_set(err, "data %s: label %d at byte %lld (item %lld) is out of "
                                "range: expected 0..%d for %d classes", fl->path, out->labels[i],
                                (long long)(fl->total - bytes + i), (long long)i,
                                (int)num_classes - 1, (int)num_classes);
    }
    return 0;
}

/* Get the pixels the cheapest way: map a plain file, else map the decompressed cache, else
 * inflate the .gz and leave a copy in the cache for next time. */
static int load_images(idx_file *fi, const int64_t *dims, int rank, int64_t bytes,
                       lh_dataset *out, lh_error *err)
{
    char cache[4400];
    uint8_t hdr[4 + 4 * 4], key[LH_CACHE_KEY];
    int mapped = idx_map(fi, bytes, out, err);
    if (mapped)
        return mapped < 0 ? -1 : 0;
    int hlen = idx_header(dims, rank, hdr);
    int use_cache = cache_path(fi->path, cache, sizeof cache) == 0 && cache_key(fi->path, key) == 0;
    if (use_cache && cache_map(cache, key, hdr, hlen, bytes, fi->path, out))
        return 0;
    if (idx_payload(fi, bytes, &out->images, err) < 0)
        return -1;
    if (use_cache)
        cache_write(cache, key, hdr, hlen, out->images, bytes);
    return 0;
}

/* Images are (count, height, width) or (count, channels, height, width). */
static void set_shape(lh_dataset *out, const int64_t *dims, int rank, int32_t num_classes)
{
    out->count = dims[0];
    out->channels = rank == 4 ? (int32_t)dims[1] : 1;
    out->height = (int32_t)dims[rank - 2];
    out->width = (int32_t)dims[rank - 1];
    out->num_classes = num_classes;
}

/* Read the IDX pair whose paths are already in out->image_path / out->label_path. */
static int load_pair(int32_t num_classes, lh_dataset *out, lh_error *err)
{
    idx_file fi = {.what = "pixels", .path = out->image_path};
    idx_file fl = {.what = "labels", .path = out->label_path};
    int64_t idims[4], ldims[4], ibytes, lbytes;
    int irank, lrank;
    int rc = -1;

    /* Both headers before any payload: a count mismatch is found before reading the pixels. */
    if (idx_open(&fi, 3, 4, "3 (count, height, width) or 4 (count, channels, height, width) "
                 "for images", idims, &irank, &ibytes, err) < 0 ||
        idx_open(&fl, 1, 1, "1 (count) for labels", ldims, &lrank, &lbytes, err) < 0)
        goto done;
    if (idims[0] != ldims[0]) {
        lh_error_set(err, "data %s: %lld labels but %s has %lld images", fl.path,
                     (long long)ldims[0], fi.path, (long long)idims[0]);
        goto done;
    }
    if (load_labels(&fl, ldims[0], lbytes, num_classes, out, err) < 0 ||
        load_images(&fi, idims, irank, ibytes, out, err) < 0)
        goto done;
    set_shape(out, idims, irank, num_classes);
    rc = 0;
done:
    idx_close(&fi);
    idx_close(&fl);
    return rc;
}

static int check_classes(const char *what, int32_t num_classes, lh_error *err)
{
    if (num_classes < 1 || num_classes > 256)
        return lh_error_set(err, "data %s: num_classes %d: expected 1..256 (labels are bytes)",
                            what, (int)num_classes);
    return 0;
}

int lh_data_load(const char *dir_arg, int32_t train, int32_t num_classes, lh_dataset *out,
                 lh_error *err)
{
    char dir[4096];

    memset(out, 0, sizeof *out);
    if (!dir_arg || !*dir_arg)
        dir_arg = LH_DATA_DEFAULT_DIR;
    if (check_classes(dir_arg, num_classes, err) || data_dir(dir_arg, dir, sizeof dir, err) < 0)
        return -1;
    if (find_split(dir, train, out, err) < 0 || load_pair(num_classes, out, err) < 0) {
        lh_data_free(out);
        return -1;
    }
    return 0;
}

int lh_data_load_idx(const char *images, const char *labels, int32_t num_classes,
                     lh_dataset *out, lh_error *err)
{
    memset(out, 0, sizeof *out);
    if (check_classes(images, num_classes, err))
        return -1;
    if (!labels || !*labels)
        return lh_error_set(err, "data %s: IDX images need their labels file (data.train_labels, "
                            "val_labels or test_labels)", images);
    if (strlen(images) >= sizeof out->image_path || strlen(labels) >= sizeof out->label_path)
        return lh_error_set(err, "data %.64s...: path too long", images);
    strcpy(out->image_path, images);
    strcpy(out->label_path, labels);
    if (load_pair(num_classes, out, err) < 0) {
        lh_data_free(out);
        return -1;
    }
    return 0;
}

void lh_data_release_pages(lh_dataset *d, int64_t offset, int64_t len)
{
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t lo = (uintptr_t)(d->images + offset), hi = lo + (uintptr_t)len;
    lo = (lo + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    hi &= ~((uintptr_t)page - 1);
    if (d->images && hi > lo)
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

void lh_data_free_images(lh_dataset *d)
{
    if (d->map_base)
        munmap(d->map_base, (size_t)d->map_len);
    else
        free(d->images);
    d->map_base = NULL;
    d->map_len = 0;
    d->images = NULL;
}

void lh_data_free(lh_dataset *d)
{
    if (!d)
        return;
    if (d->map_base)
        munmap(d->map_base, (size_t)d->map_len);
    else
        free(d->images);
    free(d->labels);
    memset(d, 0, sizeof *d);
}

/* Case-insensitive substring test. */
static int contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; hay && *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return 0;
}

/* A path component starting with "mnist" (any case): ".../mnist", ".../MNIST/raw/...". */
static int has_mnist_component(const char *path)
{
    for (const char *p = path; p && *p; p++)
        if ((p == path || p[-1] == '/') && strncasecmp(p, "mnist", 5) == 0)
            return 1;
    return 0;
}

void lh_data_default_norm(const char *dir, const lh_dataset *train, float *mean, float *std)
{
    const char *img = train ? train->image_path : NULL;
    if (contains_ci(dir, "fashion") || contains_ci(img, "fashion")) {
        *mean = 0.2860f;
        *std = 0.3530f;
        return;
    }
    if (has_mnist_component(dir) || has_mnist_component(img)) {
        *mean = 0.1307f;
        *std = 0.3081f;
        return;
    }
    lh_data_pixel_stats(train, mean, std);
}

void lh_data_pixel_stats(const lh_dataset *train, float *mean, float *std)
{
    /* Exact integer sums, so the result does not depend on summation order. */
    uint64_t hist[256] = {0};
    int64_t n = train ? train->count * train->channels * train->height * train->width : 0;
    for (int64_t i = 0; i < n; i++)
        hist[train->images[i]]++;
    double s = 0, s2 = 0;
    for (int v = 0; v < 256; v++) {
        double x = v / 255.0;
        s += (double)hist[v] * x;
        s2 += (double)hist[v] * x * x;
    }
    double m = n ? s / (double)n : 0.0;
    double var = n ? s2 / (double)n - m * m : 0.0;
    double sd = var > 0 ? sqrt(var) : 0.0;
    *mean = (float)m;
    *std = sd > 1e-6 ? (float)sd : 1.0f; /* a constant image set: do not divide by zero */
}
