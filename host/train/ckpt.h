/* host/train/ckpt.h — checkpoints: the whole trainer (weights, optimizer, counters, RNG, data
 * order, logged values, metric and callback states) in one safetensors file, each part saved
 * and loaded by its own subsystem as one section (the table in ckpt.c). */
#ifndef LH_CKPT_H
#define LH_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "model.h"

struct lh_trainer;

int lh_ckpt_save(struct lh_trainer *t, const char *path, uint32_t flags, lh_error *err);
/* Restore weights (and with `full`, optimizer, counters, RNG, data order, logged values, metric
 * and callback states) from a checkpoint written by lh_ckpt_save. */
int lh_ckpt_load(struct lh_trainer *t, const char *path, int32_t full, lh_error *err);
/* Read only the model spec (and the saved data dir, if any) of a checkpoint. */
int lh_ckpt_read_spec(const char *path, lh_model_spec *spec, char *data_dir, size_t len,
                      lh_error *err);

#endif
