/* host/nn/optim.h — optimizers over the model's flat parameter buffer (PyTorch semantics):
 * Adam / AdamW (bias correction, eps after sqrt, weight_decay) and SGD (momentum, dampening,
 * nesterov, weight_decay). State lives in device buffers of the same length as the parameters. */
#ifndef LH_OPTIM_H
#define LH_OPTIM_H

#include <stdint.h>

#include "config.h"
#include "error.h"
#include "kernels/backend.h"

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
    lh_dmem *m, *v;           /* Adam moments (exp_avg, exp_avg_sq); SGD uses m as momentum */
} lh_optim;

/* Read `optimizer:` (name: adam | adamw | sgd, lr, betas: [b1, b2], eps, weight_decay,
 * momentum, dampening, nesterov). NULL section = Adam lr 1e-3 (the tutorial). */
int lh_optim_from_cfg(const lh_config_node *sec, lh_optim *o, lh_error *err);
const char *lh_optim_name(const lh_optim *o);
int lh_optim_alloc(lh_optim *o, const lh_backend *be, lh_backend_ctx *bctx, int64_t n,
                   lh_error *err);
void lh_optim_free(lh_optim *o);
int lh_optim_step(lh_optim *o, lh_dmem *param, const lh_dmem *grad, lh_error *err);
/* Hyper-parameters as JSON (checkpoint metadata); malloc'ed. */
char *lh_optim_to_json(const lh_optim *o);

#endif
