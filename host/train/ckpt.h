/* host/train/ckpt.h — checkpoints: the whole trainer (weights, optimizer, counters, RNG, data
 * order, logged values, metric and callback states) in one safetensors file, each part saved
 * and loaded by its own subsystem as one section (the table in ckpt.c). */
#ifndef LH_CKPT_H
#define LH_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "config.h"
#include "model.h"
#include "safetensors.h"

struct lh_trainer;

int lh_ckpt_save(struct lh_trainer *t, const char *path, uint32_t flags, lh_error *err);
/* Restore weights (and with `full`, optimizer, counters, RNG, data order, logged values, metric
 * and callback states) from a checkpoint written by lh_ckpt_save. */
int lh_ckpt_load(struct lh_trainer *t, const char *path, int32_t full, lh_error *err);
/* Read only the model spec (and the saved data dir, if any) of a checkpoint. */
int lh_ckpt_read_spec(const char *path, lh_model_spec *spec, char *data_dir, size_t len,
                      lh_error *err);

/* The config a checkpoint implies, for validate and predict: data.{path, batch_size,
 * num_classes, mean, std} from its hparams (data.path replaced by `data_dir` when given) and
 * the metrics it trained with. *cfg is the caller's (lh_config_free). */
int lh_ckpt_config_read(const char *path, const char *data_dir, lh_config **cfg, lh_error *err);

/* Check the type of every hparam the host reads back (data_path a string; batch_size,
 * num_classes, mean, std numbers) and that hparams is a JSON object; 0 when there is none.
 * Their ranges are checked as a config's when they become one (lh_ckpt_config_read). */
int lh_ckpt_hparams_check(const char *path, const lh_safetensors_file *f, lh_error *err);

#endif
