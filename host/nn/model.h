/* host/nn/model.h — a sequential model: layer specs from the config, shapes, parameters under
 * PyTorch state_dict names, PyTorch's default initialisation, forward and backward through a
 * backend (kernels/backend.h). The kinds of layer are listed in layer_kinds.h; what each does
 * lives in its own layer_<kind>.c behind the table in layer.h.
 *
 * Parameters and gradients each live in one flat device buffer, in layer order, weight before
 * bias, so the optimizer, checkpoints and (later) an all-reduce see one array. */
#ifndef LH_MODEL_H
#define LH_MODEL_H

#include <stdint.h>

#include "config.h"
#include "error.h"
#include "kernels/backend.h"
#include "layer_kinds.h"
#include "rng.h"

#define LH_MAX_LAYERS 64
#define LH_MAX_PARAMS (2 * LH_MAX_LAYERS)
/* The most elements one activation (per sample), one parameter tensor or all parameters
 * together may have: 2^40 floats (4 TiB) is past any device, and keeps every byte count that
 * multiplies them by the batch size and 4 far from wrapping. */
#define LH_MAX_NUMEL (INT64_C(1) << 40)

typedef struct lh_layer_spec {
    int32_t type;       /* LH_LAYER_* (layer_kinds.h) */
    char name[64];      /* state_dict prefix ("conv1.0", "fc"); default: the layer index */
    union {             /* the kind's config, named after the kind: l->conv2d.kernel */
#define LH_LAYER_CFG_MEMBER_(ID, name, cfg) cfg name;
        LH_LAYER_MAP(LH_LAYER_CFG_MEMBER_)
#undef LH_LAYER_CFG_MEMBER_
    };
} lh_layer_spec;

typedef struct lh_model_spec {
    int32_t in_c, in_h, in_w;
    int32_t n_layers;
    lh_layer_spec layers[LH_MAX_LAYERS];
} lh_model_spec;

/* Read `model:` of the config (a list under model.layers, optional model.input_shape [C,H,W]);
 * check every shape and report mismatches naming the layer and the expected value. */
int lh_model_spec_from_cfg(const lh_config_node *model, int32_t in_c, int32_t in_h, int32_t in_w,
                           lh_model_spec *out, lh_error *err);
/* The spec as compact JSON (for checkpoints) and back. The returned string is malloc'ed. */
char *lh_model_spec_to_json(const lh_model_spec *spec);
int lh_model_spec_from_json(const char *json, lh_model_spec *out, lh_error *err);

/* One parameter tensor. */
typedef struct lh_param_info {
    char name[80];    /* "conv1.0.weight" */
    int32_t ndim;
    int64_t shape[4];
    int64_t offset;   /* in floats, into the flat buffer */
    int64_t numel;
    int64_t fan_in;   /* lh_model_init draws U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
    int32_t init_const; /* 1: lh_model_init sets init_value instead (no draw) */
    float init_value;
} lh_param_info;

/* One buffer tensor (nn.Module.register_buffer): model state that is no parameter, so the
 * optimizer never sees it (batchnorm's running statistics). Persistent ones are saved in
 * checkpoints under their state_dict names. */
typedef struct lh_buffer_info {
    char name[80];    /* "bn1.running_mean" */
    int64_t numel;    /* a vector: shape (numel) */
    int64_t offset;   /* in floats, into m->buf */
    float init;       /* lh_model_init's value for every element */
    int32_t persistent;
} lh_buffer_info;

typedef struct lh_layer_plan {
    int32_t c, h, w;           /* output shape per sample */
    int32_t flat;              /* 1: the output is a vector of c features (lh_layer_shape) */
    int32_t fused;             /* 1: first layer of a group the backend runs as one op (a fusion,
                                * layer.h; set by lh_model_alloc); 2: a later layer in it */
    int32_t fusion;            /* fused == 1: its index in lh_layer_fusions() */
    int64_t out_numel;         /* per sample */
    int32_t param0, n_param;   /* the layer's tensors: params[param0 .. param0 + n_param) */
    int32_t buf0, n_buf;       /* its buffers: buffers[buf0 .. buf0 + n_buf) */
    int64_t aux_numel;         /* per sample, for kinds with .aux; 0: out_numel */
    int32_t block_end;         /* > 0: the residual layer whose body starts at this layer */
} lh_layer_plan;

typedef struct lh_model {
    lh_model_spec spec;
    lh_layer_plan plan[LH_MAX_LAYERS];
    int32_t n_params;
    lh_param_info params[LH_MAX_PARAMS];
    int64_t total_params;      /* floats */
    int32_t num_outputs;       /* logits per sample */
    int32_t n_buffers;
    lh_buffer_info buffers[LH_MAX_PARAMS];
    int64_t total_buffers;     /* floats */
    /* Per layer of a kind with .counts_batches: nn.BatchNorm's num_batches_tracked, counted
     * on the host by forward while training, saved as an I64 scalar. */
    int64_t batches_tracked[LH_MAX_LAYERS];
    /* 1 while lh_model_update_bn runs: batch norm's momentum is None (a cumulative average,
     * factor 1 / num_batches_tracked), as torch.optim.swa_utils.update_bn sets it. */
    int32_t bn_cumulative;

    const lh_backend *be;
    lh_backend_ctx *bctx;
    int32_t max_batch;
    lh_dmem *param;            /* (total_params) float */
    lh_dmem *grad;             /* (total_params) float */
    /* Called by lh_model_backward as soon as grad[first, total_params) is final (backward
     * runs from the last layer, so first only decreases within one backward); non-zero stops
     * backward. NULL: nobody listens. Data-parallel training starts all-reducing the finished
     * part under the rest of backward with it (host/train/trainer_dist.c). */
    int (*grads_ready)(void *arg, int64_t first, lh_error *err);
    void *grads_ready_arg;
    lh_dmem *buf;              /* (total_buffers) float */
    lh_dmem *input;            /* (max_batch, in_c*in_h*in_w) float */
    lh_dmem *targets;          /* (max_batch) int32 */
    lh_dmem *act[LH_MAX_LAYERS];   /* layer outputs (max_batch, out_numel) */
    lh_dmem *aux[LH_MAX_LAYERS];   /* kept for backward: maxpool argmax (int32), dropout mask */
    lh_dmem *dbuf[2];          /* ping-pong gradient buffers of the largest activation */
    lh_dmem *loss;             /* 1 float */
    lh_dmem *dlogits;          /* (max_batch, num_outputs) */
} lh_model;

/* Plan shapes (no memory). Fails on shape errors. */
int lh_model_plan(lh_model *m, const lh_model_spec *spec, lh_error *err);
/* Allocate device memory for batches up to max_batch. */
int lh_model_alloc(lh_model *m, const lh_backend *be, lh_backend_ctx *bctx, int32_t max_batch,
                   lh_error *err);
void lh_model_free(lh_model *m);

/* PyTorch's default init: kaiming_uniform(a=sqrt(5)) weights = U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
 * biases the same bound (each tensor's fan_in is chosen by its layer kind); drawn on the host
 * from `rng` in parameter order, then uploaded; buffers take their init values. */
int lh_model_init(lh_model *m, lh_rng *rng, lh_error *err);

/* Buffers back to their init values and batch counts to 0 (part of lh_model_init). */
int lh_model_reset_buffers(lh_model *m, lh_error *err);

/* Forward n samples already in m->input; training enables dropout (seeded by dropout_seed).
 * Logits end in m->act[n_layers-1]. */
int lh_model_forward(lh_model *m, int32_t n, int32_t training, uint64_t dropout_seed,
                     lh_error *err);
/* Mean cross-entropy of the logits against m->targets into m->loss (and dlogits if want_grad). */
int lh_model_loss(lh_model *m, int32_t n, int32_t want_grad, lh_error *err);
/* Backward from m->dlogits into m->grad (overwritten). */
int lh_model_backward(lh_model *m, int32_t n, lh_error *err);
const lh_dmem *lh_model_logits(const lh_model *m);

/* ---- tensors one at a time (model_tensors.c) ------------------------------------------------
 * `i` is a parameter index (0..n_params-1, checked by the caller); `buf` is m->param, m->grad
 * or an optimizer state laid out like them. Host buffers hold params[i].numel floats. */
int lh_model_tensor_find(const lh_model *m, const char *name); /* index or -1 */
int lh_model_tensor_read(const lh_model *m, const lh_dmem *buf, int32_t i, float *dst,
                         lh_error *err);
int lh_model_tensor_write(lh_model *m, int32_t i, const float *src, lh_error *err);
/* torch.nn.utils.clip_grad_norm_'s norms: per_tensor (n_params, may be NULL) and the total,
 * the p-norm of the per-tensor p-norms (p = INFINITY: max |g|). */
int lh_model_grad_norm(const lh_model *m, double p, double *per_tensor, double *total,
                       lh_error *err);
int lh_model_grad_scale(lh_model *m, double factor, lh_error *err);
/* clip_grad_norm_(max_norm, norm_type=p): gradients times max_norm / (total + 1e-6) when that
 * is below 1; *total (may be NULL) is the norm before clipping. */
int lh_model_clip_grad_norm(lh_model *m, double max_norm, double p, double *total,
                            lh_error *err);
/* clip_grad_value_: every gradient clamped to [-clip_value, clip_value]. */
int lh_model_clip_grad_value(lh_model *m, double clip_value, lh_error *err);

/* ---- buffers one at a time (model_tensors.c) ------------------------------------------------
 * The model's torch buffers as nn.Module.buffers() and state_dict list them: per layer its
 * persistent buffers (float vectors in m->buf: running_mean, running_var), then
 * num_batches_tracked (an int64 scalar kept on the host) where the kind counts batches. */
typedef struct lh_model_buffer {
    char name[80];       /* "bn1.running_mean", "bn1.num_batches_tracked" */
    int32_t is_count;    /* 1: num_batches_tracked (int64, numel 1); 0: float */
    int32_t layer;
    int64_t numel;
    int64_t offset;      /* floats into m->buf (is_count 0) */
} lh_model_buffer;
int32_t lh_model_buffer_count(const lh_model *m);
/* Buffer `index` (0..count-1) into *out; -1 when out of range. */
int lh_model_buffer_get(const lh_model *m, int32_t index, lh_model_buffer *out);
/* Copy buffer `index` out (numel floats, or one int64) or in. */
int lh_model_buffer_read(const lh_model *m, int32_t index, void *dst, lh_error *err);
int lh_model_buffer_write(lh_model *m, int32_t index, const void *src, lh_error *err);
/* torch.optim.swa_utils.update_bn's start and end: running statistics back to 0 / 1 and the
 * batch counts to 0, then m->bn_cumulative on (start = 1); off again (start = 0). Whoever
 * calls it runs the training forward passes in between. */
int lh_model_update_bn(lh_model *m, int32_t start, lh_error *err);

/* Print a summary like Lightning's ModelSummary into `out` (FILE *). */
void lh_model_summary(const lh_model *m, void *out);

#endif
