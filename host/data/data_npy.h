/* host/data/data_npy.h — the .npy array format, shared by data_npy.c (a .npy file) and
 * data_npz.c (the .npy members of a zip): header parsing and turning an array into samples or
 * labels. Private to host/data. */
#ifndef LH_DATA_NPY_H
#define LH_DATA_NPY_H

#include <stdint.h>

#include "data.h"
#include "error.h"

#define LH_NPY_MAX_RANK 8

/* One parsed .npy: its element type, shape and where its data starts in the bytes. */
typedef struct lh_npy {
    char descr[16];             /* as the header spells it: "|u1", "<f4", "<i8", ... */
    int32_t kind;               /* 'u', 'i', 'f' (or 0 for anything else) */
    int32_t itemsize;           /* bytes per element */
    int32_t rank;
    int64_t shape[LH_NPY_MAX_RANK];
    int64_t count;              /* elements */
    int64_t data_offset;        /* bytes from the start of the .npy to the data */
} lh_npy;

/* Parse the header of the .npy held in buf[0..len) (`what` names it in messages): magic,
 * version, dict; refuses Fortran order, byte orders other than little-endian, structured and
 * object dtypes, and data shorter or longer than the shape says. */
int lh_data_npy_parse(const uint8_t *buf, int64_t len, const char *what, lh_npy *a,
                      lh_error *err);

/* Set out's shape and dtype for images `a` (N, H, W), (N, C, H, W) or (N, F), checking the
 * dtype is uint8 or float32. Does not touch out->images. */
int lh_data_npy_images(const lh_npy *a, const char *what, lh_dataset *out, lh_error *err);

/* out->labels (malloc'ed, a->count) from the integer array at data; rank 1 (or (N, 1)), its
 * length `count`, each label < num_classes. */
int lh_data_npy_labels(const lh_npy *a, const uint8_t *data, int64_t count,
                       int32_t num_classes, const char *what, lh_dataset *out, lh_error *err);

/* Map `path` read-only (a length-0 file maps to a NULL base). */
int lh_data_map_file(const char *path, void **base, int64_t *len, lh_error *err);

#endif
