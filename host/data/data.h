/* host/data/data.h — IDX datasets (MNIST / Fashion-MNIST format), gzip or plain.
 *
 * A dataset is loaded whole into memory as uint8: images (count, channels*height*width) and
 * labels (count); a plain image file is memory-mapped rather than read. Normalisation ((p / 255 -
 * mean) / std) happens per batch on the device (backend gather_normalize), so the host keeps one
 * byte per pixel. */
#ifndef LH_DATA_H
#define LH_DATA_H

#include <stdint.h>

#include "error.h"

/* Where `data.path` points when the config does not say (Debian package dataset-fashion-mnist). */
#define LH_DATA_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"

typedef struct lh_dataset {
    int64_t count;                  /* number of samples */
    int32_t channels, height, width; /* per sample; IDX rank-3 images have channels = 1 */
    int32_t num_classes;            /* every label is < num_classes */
    uint8_t *images;                /* (count, channels*height*width), owned; read-only */
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

/* Free the buffers and zero the struct (safe on a zeroed or already freed dataset). */
void lh_data_free(lh_dataset *d);
/* Drop the pixels (mapped or allocated) once they live elsewhere; labels stay. */
void lh_data_free_images(lh_dataset *d);
/* Give back the memory of pixels [offset, offset + len) already copied elsewhere (whole pages
 * inside the range), so copying a dataset never holds two full copies. Reading them after
 * this gives zeros or the file's bytes again. */
void lh_data_release_pages(lh_dataset *d, int64_t offset, int64_t len);

/* Default normalisation for a dataset (torchvision's customary values): Fashion-MNIST (dir or
 * the image path contains "fashion", any case) 0.2860 / 0.3530; MNIST (a path component that
 * starts with "mnist", any case) 0.1307 / 0.3081; otherwise the mean and standard deviation of
 * all training pixels scaled to [0, 1]. */
void lh_data_default_norm(const char *dir, const lh_dataset *train, float *mean, float *std);

#endif
