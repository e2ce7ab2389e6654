/* host/data/data_npy.c — NumPy .npy files: images (uint8 or float32) paired with a labels file.
 *
 * A .npy is a short text header (a Python dict: descr, fortran_order, shape) then the array's
 * bytes in C order. The images file is memory-mapped and used in place (np.save pads the header
 * to 64 bytes, so float32 data is aligned); the labels, any integer type, are checked and
 * narrowed to one byte each. Version 1.0 (2-byte header length) and 2.0 / 3.0 (4-byte) load. */
#include "data_npy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int lh_data_map_file(const char *path, void **base, int64_t *len, lh_error *err)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    *base = NULL, *len = 0;
    if (fd < 0)
        return lh_error_set(err, "data %s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return lh_error_set(err, "data %s: not a regular file", path);
    }
    if (st.st_size > 0) {
        void *b = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (b == MAP_FAILED) {
            close(fd);
            return lh_error_set(err, "data %s: cannot map: %s", path, strerror(errno));
        }
        *base = b;
    }
    close(fd);
    *len = st.st_size;
    return 0;
}

/* The value after 'key': in the header dict, or NULL. */
static const char *dict_value(const char *h, const char *key)
{
    char pat[32];
    const char *p;
    snprintf(pat, sizeof pat, "'%s'", key);
    if (!(p = strstr(h, pat)))
        return NULL;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    if (*p++ != ':')
        return NULL;
    while (*p == ' ')
        p++;
    return p;
}

static int parse_descr(const char *h, const char *what, lh_npy *a, lh_error *err)
{
    const char *v = dict_value(h, "descr"), *end;
    if (!v || (*v != '\'' && *v != '"'))
        return lh_error_set(err, "data %s: .npy dtype is not a simple type (a structured or "
                            "object array?): expected uint8, float32 or an integer type", what);
    end = strchr(v + 1, *v);
    if (!end || end - v - 1 >= (long)sizeof a->descr)
        return lh_error_set(err, "data %s: .npy header: unreadable descr", what);
    memcpy(a->descr, v + 1, (size_t)(end - v - 1));
    a->descr[end - v - 1] = '\0';
    /* '|' (no byte order), '<' (little-endian) and '=' on this little-endian host. */
    if (strlen(a->descr) >= 3 && strchr("|<=", a->descr[0]) && strchr("uif", a->descr[1])) {
        char *e;
        long n = strtol(a->descr + 2, &e, 10);
        if (!*e && (n == 1 || n == 2 || n == 4 || n == 8) && !(a->descr[1] == 'f' && n < 4)) {
            a->kind = a->descr[1];
            a->itemsize = (int32_t)n;
        }
    }
    return 0;
}

static int parse_shape(const char *h, const char *what, lh_npy *a, lh_error *err)
{
    const char *p = dict_value(h, "shape");
    if (!p || *p++ != '(')
        return lh_error_set(err, "data %s: .npy header: no shape tuple", what);
    a->rank = 0, a->count = 1;
    for (;;) {
        char *e;
        long long d;
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == ')')
            break;
        d = strtoll(p, &e, 10);
        if (e == p || d < 0 || a->rank >= LH_NPY_MAX_RANK)
            return lh_error_set(err, "data %s: .npy header: bad shape", what);
        if (d && a->count > (INT64_C(1) << 40) / d)
            return lh_error_set(err, "data %s: .npy shape describes more than 2^40 elements",
                                what);
        a->shape[a->rank++] = d;
        a->count *= d;
        p = e;
    }
    return 0;
}

int lh_data_npy_parse(const uint8_t *buf, int64_t len, const char *what, lh_npy *a,
                      lh_error *err)
{
    int64_t hlen, hstart;
    char *h;
    const char *fo;
    int rc;
    memset(a, 0, sizeof *a);
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return lh_error_set(err, "data %s: not a .npy file (no \\x93NUMPY magic at byte 0)",
                            what);
    if (buf[6] == 1)
        hlen = buf[8] | (int64_t)buf[9] << 8, hstart = 10;
    else if ((buf[6] == 2 || buf[6] == 3) && len >= 12)
        hlen = buf[8] | (int64_t)buf[9] << 8 | (int64_t)buf[10] << 16 | (int64_t)buf[11] << 24,
        hstart = 12;
    else
        return lh_error_set(err, "data %s: .npy version %d.%d: expected 1.0, 2.0 or 3.0", what,
                            buf[6], buf[7]);
    if (hstart + hlen > len)
        return lh_error_set(err, "data %s: truncated at byte %lld: expected a %lld-byte .npy "
                            "header", what, (long long)len, (long long)(hstart + hlen));
    if (!(h = malloc((size_t)hlen + 1)))
        return lh_error_set(err, "data %s: out of memory", what);
    memcpy(h, buf + hstart, (size_t)hlen);
    h[hlen] = '\0';
    rc = parse_descr(h, what, a, err) || parse_shape(h, what, a, err) ? -1 : 0;
    fo = rc ? NULL : dict_value(h, "fortran_order");
    if (!rc && (!fo || (strncmp(fo, "False", 5) && strncmp(fo, "True", 4))))
        rc = lh_error_set(err, "data %s: .npy header: no fortran_order", what);
    else if (!rc && strncmp(fo, "True", 4) == 0)
        rc = lh_error_set(err, "data %s: Fortran-order array: expected C order (save "
                          "np.ascontiguousarray(a))", what);
    free(h);
    if (rc)
        return -1;
    a->data_offset = hstart + hlen;
    if (a->itemsize) {
        int64_t need = a->data_offset + a->count * a->itemsize;
        if (len < need)
            return lh_error_set(err, "data %s: truncated at byte %lld: the header describes "
                                "%lld bytes", what, (long long)len, (long long)need);
        if (len > need)
            return lh_error_set(err, "data %s: unexpected data after byte %lld: the header "
                                "describes %lld bytes", what, (long long)need, (long long)need);
    }
    return 0;
}

int lh_data_npy_images(const lh_npy *a, const char *what, lh_dataset *out, lh_error *err)
{
    int is_u8 = a->kind == 'u' && a->itemsize == 1, is_f32 = a->kind == 'f' && a->itemsize == 4;
    if (!is_u8 && !is_f32)
        return lh_error_set(err, "data %s: dtype '%s' is not supported for images: expected "
                            "uint8 ('|u1') or float32 ('<f4')", what, a->descr);
    if (a->rank < 2 || a->rank > 4)
        return lh_error_set(err, "data %s: shape of rank %d: expected (N, H, W), (N, C, H, W) "
                            "or (N, features)", what, (int)a->rank);
    for (int32_t i = 0; i < a->rank; i++)
        if (a->shape[i] < 1 || a->shape[i] > INT32_MAX)
            return lh_error_set(err, "data %s: dimension %d is %lld: expected 1..%d", what,
                                (int)i, (long long)a->shape[i], INT32_MAX);
    out->count = a->shape[0];
    out->dtype = is_u8 ? LH_DATA_U8 : LH_DATA_F32;
    out->channels = a->rank == 4 ? (int32_t)a->shape[1] : a->rank == 2 ? (int32_t)a->shape[1] : 1;
    out->height = a->rank == 2 ? 1 : (int32_t)a->shape[a->rank - 2];
    out->width = a->rank == 2 ? 1 : (int32_t)a->shape[a->rank - 1];
    return 0;
}

int lh_data_npy_labels(const lh_npy *a, const uint8_t *data, int64_t count,
                       int32_t num_classes, const char *what, lh_dataset *out, lh_error *err)
{
    if ((a->kind != 'u' && a->kind != 'i') || !a->itemsize)
        return lh_error_set(err, "data %s: labels of dtype '%s': expected an integer type "
                            "(class indices)", what, a->descr);
    if (!(a->rank == 1 || (a->rank == 2 && a->shape[1] == 1)))
        return lh_error_set(err, "data %s: labels of rank %d: expected (N,)", what,
                            (int)a->rank);
    if (a->shape[0] != count)
        return lh_error_set(err, "data %s: %lld labels for %lld samples", what,
                            (long long)a->shape[0], (long long)count);
    if (!(out->labels = malloc(count > 0 ? (size_t)count : 1)))
        return lh_error_set(err, "data %s: out of memory", what);
    return lh_data_labels_from(data, count, a->itemsize, a->kind == 'i', num_classes, what,
                               out->labels, err);
}

/* The labels file of a .npy images file. */
static int load_labels(const char *path, int64_t count, int32_t num_classes, lh_dataset *out,
                       lh_error *err)
{
    void *base;
    int64_t len;
    lh_npy a;
    int rc;
    if (lh_data_map_file(path, &base, &len, err))
        return -1;
    rc = lh_data_npy_parse(base, len, path, &a, err) ||
                 lh_data_npy_labels(&a, (const uint8_t *)base + a.data_offset, count,
                                    num_classes, path, out, err)
             ? -1
             : 0;
    if (base)
        munmap(base, (size_t)len);
    return rc;
}

int lh_data_load_npy(const char *images, const char *labels, int32_t num_classes,
                     lh_dataset *out, lh_error *err)
{
    void *base;
    int64_t len;
    lh_npy a;
    memset(out, 0, sizeof *out);
    out->num_classes = num_classes;
    snprintf(out->image_path, sizeof out->image_path, "%s", images);
    snprintf(out->label_path, sizeof out->label_path, "%s", labels ? labels : "");
    if (!labels || !*labels)
        return lh_error_set(err, "data %s: a .npy of images needs its labels file "
                            "(data.train_labels, val_labels or test_labels)", images);
    if (lh_data_map_file(images, &base, &len, err))
        return -1;
    out->map_base = base, out->map_len = len;
    if (lh_data_npy_parse(base, len, images, &a, err) ||
        lh_data_npy_images(&a, images, out, err))
        goto fail;
    /* The data offset is a multiple of 16 in every file np.save writes; otherwise copy, so
     * float rows stay aligned. */
    if (a.data_offset % 4 == 0 || out->dtype == LH_DATA_U8) {
        out->images = (uint8_t *)base + a.data_offset;
    } else {
        int64_t n = a.count * a.itemsize;
        uint8_t *copy = malloc(n > 0 ? (size_t)n : 1);
        if (!copy) {
            lh_error_set(err, "data %s: out of memory", images);
            goto fail;
        }
        memcpy(copy, (uint8_t *)base + a.data_offset, (size_t)n);
        munmap(base, (size_t)len);
        out->map_base = NULL, out->map_len = 0, out->images = copy;
    }
    if (load_labels(labels, out->count, num_classes, out, err))
        goto fail;
    return 0;
fail:
    lh_data_free(out);
    return -1;
}
