/* host/nn/optim.h — optimizers over the model's flat parameter buffer (PyTorch semantics):
 * Adam / AdamW (bias correction, eps after sqrt, weight_decay) and SGD (momentum, dampening,
 * nesterov, weight_decay). State lives in device buffers of the same length as the parameters. */
#ifndef LH_OPTIM_H
#define LH_OPTIM_H

#include <stdint.h>

#include "config.h"
#include "error.h"
#include "kernels/backend.h"
#include "model.h"
#include "safetensors.h"

#define LH_OPTIM_ADAM 0
#define LH_OPTIM_ADAMW 1
#define LH_OPTIM_SGD 2

typedef struct lh_optim {
    int32_t type;
    double lr, beta1, beta2, eps, weight_decay, momentum, dampening;
    int32_t nesterov;
    int64_t step;             /* updates done */
    int64_t n;                /* parameters */
    const lh_backend *be;
    lh_backend_ctx *bctx;
    lh_dmem *m, *v;           /* Adam: exp_avg, exp_avg_sq; SGD: m is the momentum_buffer */
} lh_optim;

/* Read `optimizer:` (name: adam | adamw | sgd, lr, betas: [b1, b2], eps, weight_decay,
 * momentum, dampening, nesterov). NULL section = Adam lr 1e-3 (the tutorial). */
int lh_optim_from_cfg(const lh_config_node *sec, lh_optim *o, lh_error *err);
const char *lh_optim_name(const lh_optim *o);

/* The keys lh_optim_from_cfg reads, for `--help`: `row` is called once per key, in the order
 * of the config, with the key ("lr"), its type as help shows it ("FLOAT"), one line of help and
 * its default as a config spells it (read back from lh_optim_from_cfg, so it cannot drift).
 * Returns -1 (err set) only if the defaults cannot be computed. */
typedef void (*lh_optim_key_row)(void *user, const char *key, const char *type,
                                 const char *help, const char *dflt);
int lh_optim_describe(lh_optim_key_row row, void *user, lh_error *err);
int lh_optim_alloc(lh_optim *o, const lh_backend *be, lh_backend_ctx *bctx, int64_t n,
                   lh_error *err);
void lh_optim_free(lh_optim *o);
int lh_optim_step(lh_optim *o, lh_dmem *param, const lh_dmem *grad, lh_error *err);

/* Checkpoint section. The state as PyTorch's optimizer state names it, one F32 tensor per
 * parameter of `m`: "optimizer.exp_avg.<name>" and "optimizer.exp_avg_sq.<name>" for Adam/AdamW,
 * "optimizer.momentum_buffer.<name>" for SGD; the hyper-parameters and the step count as JSON in
 * the "optimizer" metadata entry. Loading checks that the checkpoint's optimizer is this one and
 * restores step and lr (a scheduler may have changed it); the other hyper-parameters stay the
 * config's. SGD checkpoints written before momentum_buffer had its name hold the buffer as
 * "optimizer.exp_avg.<name>" (and an unused exp_avg_sq); those load too. */
int lh_optim_ckpt_save(const lh_optim *o, const lh_model *m, lh_safetensors_writer *w,
                       lh_error *err);
int lh_optim_ckpt_load(lh_optim *o, const lh_model *m, const lh_safetensors_file *f,
                       lh_error *err);

#endif
