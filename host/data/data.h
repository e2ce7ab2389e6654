/* host/data/data.h — datasets: IDX (MNIST / Fashion-MNIST, gzip or plain), NumPy .npy/.npz and
 * CSV, behind one struct.
 *
 * A dataset is samples (count, channels*height*width) of one element type and labels (count) as
 * class indices. uint8 samples (IDX, uint8 .npy) are normalised per batch on the device
 * ((p / 255 - mean) / std, backend gather_normalize), so the host keeps one byte per pixel;
 * float32 samples (float .npy, CSV features) are standardised per feature on the host. A plain
 * IDX or .npy file (and a stored .npz member) is memory-mapped rather than read: no copy on
 * the CPU. The readers are data.c (IDX), data_npy.c, data_npz.c, data_csv.c; data_open.c picks
 * one for a file (lh_data_open) and holds what works on any dataset (splits, statistics). */
#ifndef LH_DATA_H
#define LH_DATA_H

#include <stdint.h>

#include "error.h"

/* Where `data.path` points when the config does not say (Debian package dataset-fashion-mnist). */
#define LH_DATA_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"

#define LH_DATA_U8 0  /* samples are uint8 pixels */
#define LH_DATA_F32 1 /* samples are float32 features */

/* data.format: how a file is read; AUTO looks at its first bytes (and a .csv name). */
#define LH_DATA_FMT_AUTO 0
#define LH_DATA_FMT_IDX 1
#define LH_DATA_FMT_NPY 2
#define LH_DATA_FMT_NPZ 3
#define LH_DATA_FMT_CSV 4

typedef struct lh_dataset {
    int64_t count;                  /* number of samples */
    int32_t channels, height, width; /* per sample; IDX rank-3 images have channels = 1; CSV
                                      * rows and (N, F) arrays are (F, 1, 1) */
    int32_t num_classes;            /* every label is < num_classes */
    int32_t dtype;                  /* LH_DATA_U8 or LH_DATA_F32 */
    uint8_t *images;                /* (count, channels*height*width) elements of dtype, owned
                                     * (or mapped); read-only. Float rows are 4-byte aligned. */
    uint8_t *labels;                /* (count), owned */
    char image_path[4096], label_path[4096]; /* the files actually read */
    /* Internal: a plain (not gzip) image file is mapped, not copied, so loading costs no time
     * and the page cache is shared; then images points into this mapping. */
    void *map_base;
    int64_t map_len;
} lh_dataset;

/* Load the training (train = 1: train-images-idx3-ubyte, train-labels-idx1-ubyte) or test
 * (train = 0: t10k-*) split from `dir` (NULL or "" = LH_DATA_DEFAULT_DIR). Each file is looked
 * for in dir, dir/MNIST/raw and dir/FashionMNIST/raw (torchvision's layouts), plain first, then
 * with ".gz". Images are IDX unsigned-byte rank 3 (count, height, width) or rank 4 (count,
 * channels, height, width); labels are rank 1 (count). Checks magic, data type, dimensions,
 * file length (a truncated or corrupt file names the byte offset), that both files hold the
 * same count and that every label is < num_classes. On failure `out` is left zeroed. */
int lh_data_load(const char *dir, int32_t train, int32_t num_classes, lh_dataset *out,
                 lh_error *err);

/* Where a split comes from: a file (.npy, .npz, .csv, an IDX images file) or an IDX folder. */
typedef struct lh_data_source {
    const char *path;             /* the file or folder */
    const char *labels;           /* the labels file for .npy / IDX images; NULL or "" if none */
    int32_t format;               /* LH_DATA_FMT_* */
    int32_t train;                /* 1: the training part of an IDX folder or .npz (train-*,
                                   * x / y or x_train / y_train), 0: the test part (t10k-*,
                                   * x_test / y_test), 2: a split's own file (x / y, else
                                   * x_test / y_test; an IDX folder's t10k-*) */
    int32_t num_classes;
    const char *label_column;     /* CSV: the label column's name */
    const char *const *feature_columns; /* CSV: the feature columns in order; NULL: all others */
    int32_t n_feature_columns;
} lh_data_source;

/* Load the split `s` names into `out` (zeroed on failure). Every reader checks shapes, types and
 * that each label is < num_classes, and names the file (and row, column or byte) it refuses. */
int lh_data_open(const lh_data_source *s, lh_dataset *out, lh_error *err);

/* The format of `path` under data.format = AUTO: IDX for a folder or an IDX / gzip file, NPY
 * or NPZ by magic, CSV for a ".csv" name or other text. -1 when it cannot be read. */
int32_t lh_data_sniff(const char *path, lh_error *err);

/* IDX files given by name (images and labels), as lh_data_load reads a folder's pair. */
int lh_data_load_idx(const char *images, const char *labels, int32_t num_classes,
                     lh_dataset *out, lh_error *err);

/* Readers of one format each (lh_data_open picks one). */
int lh_data_load_npy(const char *images, const char *labels, int32_t num_classes,
                     lh_dataset *out, lh_error *err);
int lh_data_load_npz(const char *path, int32_t train, int32_t num_classes, lh_dataset *out,
                     lh_error *err);
int lh_data_load_csv(const lh_data_source *s, lh_dataset *out, lh_error *err);

/* Bytes of one element (1 or 4) and of one sample. */
int64_t lh_data_elem_size(const lh_dataset *d);
int64_t lh_data_sample_size(const lh_dataset *d); /* elements per sample */

/* A new dataset of the rows idx[0..n) of `src` (copied; src is untouched). */
int lh_data_subset(const lh_dataset *src, const int32_t *idx, int64_t n, lh_dataset *out,
                   lh_error *err);

/* data.val_split: hold out round(fraction * count of class k) rows of every class k (at least
 * one of a class with two or more rows), chosen by a generator seeded with `seed`. val (n_val)
 * and train (count - n_val) get ascending row indices; the caller frees both. */
int lh_data_split(const lh_dataset *d, double fraction, uint64_t seed, int32_t **val,
                  int64_t *n_val, int32_t **train, lh_error *err);

/* Per-feature mean and (population) standard deviation of a float dataset, each (sample);
 * a feature that never varies gets std 1, so it is centred, not divided by zero. */
int lh_data_feature_stats(const lh_dataset *d, float *mean, float *std, lh_error *err);

/* Labels from a little-endian integer array of `count` elements of `bytes` each (signed or
 * not) into out (count), each checked to be 0..num_classes-1; `what` names the file. */
int lh_data_labels_from(const void *src, int64_t count, int32_t bytes, int32_t is_signed,
                        int32_t num_classes, const char *what, uint8_t *out, lh_error *err);

/* Free the buffers and zero the struct (safe on a zeroed or already freed dataset). */
void lh_data_free(lh_dataset *d);
/* Drop the pixels (mapped or allocated) once they live elsewhere; labels stay. */
void lh_data_free_images(lh_dataset *d);
/* Give back the memory of pixels [offset, offset + len) already copied elsewhere (whole pages
 * inside the range), so copying a dataset never holds two full copies. Reading them after
 * this gives zeros or the file's bytes again. */
void lh_data_release_pages(lh_dataset *d, int64_t offset, int64_t len);

/* Default normalisation of uint8 images (data.normalize: auto; torchvision's customary
 * values): Fashion-MNIST (dir or the image path contains "fashion", any case) 0.2860 / 0.3530;
 * MNIST (a path component that starts with "mnist", any case) 0.1307 / 0.3081; otherwise the
 * mean and standard deviation of all training pixels scaled to [0, 1] (lh_data_pixel_stats). */
void lh_data_default_norm(const char *dir, const lh_dataset *train, float *mean, float *std);
/* The mean and standard deviation of all of a uint8 dataset's pixels scaled to [0, 1]. */
void lh_data_pixel_stats(const lh_dataset *train, float *mean, float *std);

#endif
