/* host/nn/model_ckpt.h — the model's checkpoint section: its weights as F32 tensors under
 * PyTorch state_dict names ("conv1.0.weight", shaped as PyTorch shapes them, so
 * model.load_state_dict reads them) and its spec as the "model_spec" metadata entry.
 *
 * The same layout serves any device buffer shaped like the parameters (the optimizer's state):
 * one tensor per parameter, named <prefix><parameter name>. */
#ifndef LH_MODEL_CKPT_H
#define LH_MODEL_CKPT_H

#include <stddef.h>

#include "error.h"
#include "kernels/backend.h"
#include "model.h"
#include "safetensors.h"

/* Weights and "model_spec" into `w` (downloaded from the model's backend). */
int lh_model_ckpt_save(const lh_model *m, lh_safetensors_writer *w, lh_error *err);
/* Weights from `f` onto the device, after checking that the checkpoint's spec is m's. */
int lh_model_ckpt_load(lh_model *m, const lh_safetensors_file *f, lh_error *err);
/* The weights, persistent buffers and batch counts of `f` onto the device, each checked for
 * dtype and shape, without looking at its spec (model.init_weights, model_weights.h). With
 * `partial` 0 every one must be there; with 1 those f lacks keep their values. */
int lh_model_ckpt_load_weights(lh_model *m, const lh_safetensors_file *f, int32_t partial,
                               lh_error *err);
/* The model's state_dict keys: how many, and the k-th (0 <= k < n; NULL past the end), which
 * may be written into buf[len]. */
int32_t lh_model_ckpt_n_keys(const lh_model *m);
const char *lh_model_ckpt_key(const lh_model *m, int32_t k, char *buf, size_t len);
/* Only the spec, to build the model a checkpoint holds. */
int lh_model_ckpt_read_spec(const lh_safetensors_file *f, lh_model_spec *spec, lh_error *err);

/* `buf` (m->total_params floats on m's backend) as one tensor per parameter named
 * <prefix><name>, and back. */
int lh_model_ckpt_save_buffer(const lh_model *m, const lh_dmem *buf, const char *prefix,
                              lh_safetensors_writer *w, lh_error *err);
int lh_model_ckpt_load_buffer(const lh_model *m, lh_dmem *buf, const char *prefix,
                              const lh_safetensors_file *f, lh_error *err);

#endif
