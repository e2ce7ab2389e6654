/* tests/unit/synth_data.h — a small, learnable IDX dataset written at test time (header-only).
 *
 * Class k of `classes` draws a bright 6x6 square at a position that depends on k, over uniform
 * noise, in 28x28 uint8 images: a CNN learns it in a few dozen steps. Files are written
 * gzip-compressed with the torchvision/MNIST names into `dir`. */
#ifndef LH_TEST_SYNTH_DATA_H
#define LH_TEST_SYNTH_DATA_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static inline uint32_t synth_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

static inline void synth_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static inline int synth_write_gz(const char *path, const uint8_t *data, size_t n)
{
    gzFile g = gzopen(path, "wb");
    if (!g)
        return -1;
    if (gzwrite(g, data, (unsigned)n) != (int)n) {
        gzclose(g);
        return -1;
    }
    return gzclose(g) == Z_OK ? 0 : -1;
}

/* Write <dir>/<split>-images-idx3-ubyte.gz and <split>-labels-idx1-ubyte.gz. */
static inline int synth_split(const char *dir, const char *split, int32_t count,
                              int32_t classes, uint64_t seed)
{
    size_t img_bytes = 16 + (size_t)count * 784, lab_bytes = 8 + (size_t)count;
    uint8_t *img = malloc(img_bytes), *lab = malloc(lab_bytes);
    char path[4096];
    int32_t i, y, x, rc;
    uint64_t s = seed;
    if (!img || !lab)
        return -1;
    synth_be32(img, 0x00000803), synth_be32(img + 4, (uint32_t)count);
    synth_be32(img + 8, 28), synth_be32(img + 12, 28);
    synth_be32(lab, 0x00000801), synth_be32(lab + 4, (uint32_t)count);
    for (i = 0; i < count; i++) {
        int32_t k = (int32_t)(synth_next(&s) % (uint32_t)classes);
        int32_t oy = 2 + (k * 7) % 20, ox = 2 + (k * 11) % 20;
        uint8_t *p = img + 16 + (size_t)i * 784;
        lab[8 + i] = (uint8_t)k;
        for (y = 0; y < 28; y++)
            for (x = 0; x < 28; x++) {
                int32_t v = (int32_t)(synth_next(&s) % 96);
                if (y >= oy && y < oy + 6 && x >= ox && x < ox + 6)
                    v += 150;
                p[y * 28 + x] = (uint8_t)v;
            }
    }
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", dir, split);
    rc = synth_write_gz(path, img, img_bytes);
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte.gz", dir, split);
    rc |= synth_write_gz(path, lab, lab_bytes);
    free(img);
    free(lab);
    return rc;
}

static inline int synth_dataset(const char *dir, int32_t n_train, int32_t n_test, int32_t classes)
{
    return synth_split(dir, "train", n_train, classes, 1234) ||
           synth_split(dir, "t10k", n_test, classes, 5678);
}

/* A fresh temporary folder `dir` (/tmp/lhost_<tag>_XXXXXX) holding the dataset in dir/data.
 * Returns 0 on success. */
static inline int synth_workdir(char *dir, size_t len, const char *tag, int32_t n_train,
                                int32_t n_test)
{
    char data[512];
    snprintf(dir, len, "/tmp/lhost_%s_XXXXXX", tag);
    if (!mkdtemp(dir))
        return -1;
    snprintf(data, sizeof data, "%s/data", dir);
    if (mkdir(data, 0755))
        return -1;
    return synth_dataset(data, n_train, n_test, 10);
}

/* Remove a folder made by synth_workdir. */
static inline void synth_remove(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) {
        /* nothing to do: a leftover temporary folder is harmless */
    }
}

#endif
