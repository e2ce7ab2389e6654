/* host/train/trainer_data.h — the trainer's data: which files make the train, validation and
 * test splits (data.train / val / test, data.path's IDX folder, data.val_split), their
 * normalisation, float batches, and the checkpoint section that keeps the split and the
 * per-feature statistics so resume, validate and test see the same data. */
#ifndef LH_TRAINER_DATA_H
#define LH_TRAINER_DATA_H

#include <stdint.h>

#include "data.h"
#include "error.h"

struct lh_trainer;
struct lh_safetensors_writer;
struct lh_safetensors_file;

/* data.normalize as read: a preset or given values. */
#define LH_NORM_AUTO 0    /* uint8: data.mean/std, else the name guess, else the pixels';
                           * float: per-feature statistics of the train split */
#define LH_NORM_TRAIN 1   /* statistics of the train split (pixels or per feature) */
#define LH_NORM_FASHION 2 /* 0.2860 / 0.3530 */
#define LH_NORM_MNIST 3   /* 0.1307 / 0.3081 */
#define LH_NORM_GIVEN 4   /* {mean, std}: numbers, or per-feature lists for float data */

typedef struct lh_trainer_data {
    int32_t norm;             /* LH_NORM_* */
    float *mean, *std;        /* (features) float data's standardisation, NULL for uint8 */
    int64_t features;         /* floats per sample when float */
    float *batch;             /* (batch, features) host staging for a float batch */
    int32_t *val_index;       /* data.val_split: the train file's held-out rows, ascending */
    int64_t n_val_index, source_rows;
} lh_trainer_data;

/* Read the splits the stage needs (fit: train and validation; validate: validation; test:
 * the test split; predict: data.path's), normalise and put them on the backend. */
int lh_trainer_data_setup(struct lh_trainer *t, lh_error *err);
/* Host gather of float rows idx[0..n) of d into the model's input and targets. */
int lh_trainer_data_batch(struct lh_trainer *t, const lh_dataset *d, const int32_t *idx,
                          int32_t n, lh_error *err);
void lh_trainer_data_free(lh_trainer_data *d);

/* The "data" checkpoint section: data.val_index (I32) and data.mean / data.std (F32). */
int lh_trainer_ckpt_save_data(struct lh_trainer *t, struct lh_safetensors_writer *w,
                              lh_error *err);
int lh_trainer_ckpt_load_data(struct lh_trainer *t, const struct lh_safetensors_file *f,
                              lh_error *err);

#endif
