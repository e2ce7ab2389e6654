/* host/nn/model_weights.h — model.init_weights: start from weights in a safetensors file, as
 * PyTorch's model.load_state_dict(torch-saved state_dict, strict) does.
 *
 * The file holds tensors under the model's state_dict names ("conv1.0.weight", "fc.bias", and
 * a batchnorm's running statistics and num_batches_tracked), each of the parameter's dtype (F32,
 * I64 for the batch counts) and exact shape: what
 *   safetensors.torch.save_file(model.state_dict(), FILE)
 * writes for the same model in PyTorch. An lhost checkpoint (.ckpt) works too: its weights are
 * taken and the rest of it (optimizer, trainer state) is left alone, so fine-tuning starts from
 * a trained model with a fresh optimizer, epoch 0 and the config's data.
 *
 * Strict (the default, PyTorch's strict=True): every key of the model must be in the file and
 * every tensor of the file (a checkpoint's other sections apart) must be a key of the model; the
 * error names the missing and the unexpected keys, all of them, on one line. Not strict
 * (model.init_strict: false, for a new head under a new name): missing keys keep the seeded
 * init and unexpected tensors are skipped, and the report says which. A dtype or shape that
 * differs is an error either way, as in PyTorch. */
#ifndef LH_MODEL_WEIGHTS_H
#define LH_MODEL_WEIGHTS_H

#include <stdint.h>

#include "error.h"
#include "model.h"

typedef struct lh_model_weights_report {
    int32_t loaded;       /* tensors taken from the file */
    int32_t n_missing;    /* keys of the model the file lacks (non-strict: kept their init) */
    int32_t n_unexpected; /* tensors of the file that are no key of the model (skipped) */
    char missing[400];    /* "\"fc.weight\", \"fc.bias\"", cut with ", ..." when long */
    char unexpected[400];
} lh_model_weights_report;

/* Load `path` into m's parameters and buffers on the device. rep (may be NULL) says what was
 * taken. Errors start with the path: "FILE: missing key(s) \"fc.bias\"; ...". */
int lh_model_load_weights(lh_model *m, const char *path, int32_t strict,
                          lh_model_weights_report *rep, lh_error *err);

#endif
