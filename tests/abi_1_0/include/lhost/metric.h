/* lhost/metric.h — the metric vtable (torchmetrics' Metric).
 *
 * A metric keeps no state of its own between update() calls: it declares state buffers (name,
 * dtype, length, reduction) and the host allocates them, zeroes them (reset), reduces them across
 * ranks (sum / max / min) before compute(), and saves them in checkpoints. So a metric never
 * talks to MPI or NCCL, and resume restores its running totals exactly.
 *
 * Lifecycle: create -> state_layout (once) -> { reset by host; update* ; sync by host; compute }*
 * -> destroy. Every function is [main-thread]. The log key is the value of the metric's `name`
 * parameter when its schema has one, else the plugin's short name; in validation the host
 * prefixes "val_". A metric with n_outputs > 1 logs "<key>_<k>" for k = 0..n_outputs-1. */
#ifndef LHOST_METRIC_H
#define LHOST_METRIC_H

#include <stdint.h>

#include "host.h"
#include "params.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* State buffer element types. */
#define LHOST_DTYPE_F64 1
#define LHOST_DTYPE_I64 2
#define LHOST_DTYPE_F32 3
#define LHOST_DTYPE_I32 4

/* How the host combines a buffer across ranks (and across reset-free accumulation). */
#define LHOST_REDUCE_SUM 1
#define LHOST_REDUCE_MAX 2
#define LHOST_REDUCE_MIN 3

/* One state buffer. Plugin-owned; valid until destroy. */
typedef struct lhost_state_decl {
    uint32_t struct_size;
    const char *name;  /* [a-z0-9_]+, unique within the metric */
    int32_t dtype;     /* LHOST_DTYPE_* */
    int32_t reduction; /* LHOST_REDUCE_* */
    uint64_t length;   /* elements */
    double init;       /* value every element takes on reset (0 for sums, -inf for max, ...) */
} lhost_state_decl;

/* The host-allocated buffers, one per declaration, in declaration order, 64-byte aligned.
 * Host-owned; the pointers are valid for the call. */
typedef struct lhost_metric_state {
    uint32_t struct_size;
    uint32_t count;
    void *const *buffers;
} lhost_metric_state;

/* One batch of predictions in host memory, borrowed for the call. */
typedef struct lhost_metric_batch {
    uint32_t struct_size;
    int64_t n;               /* samples */
    int32_t num_classes;     /* columns of `scores` */
    int32_t scores_are_probs; /* 0: logits, 1: probabilities */
    const float *scores;     /* (n, num_classes) row-major */
    const int32_t *targets;  /* (n), each in [0, num_classes) */
} lhost_metric_batch;

typedef struct lhost_metric_vtable {
    uint32_t struct_size; /* sizeof(lhost_metric_vtable) as the plugin knows it */

    /* 1 when a larger value is better (accuracy), 0 when smaller is (a loss). Callbacks whose
     * `mode` is omitted take it from here. */
    int32_t higher_is_better;

    int32_t (*create)(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *params,
                      void **self);
    void (*destroy)(void *self);

    /* Declare the state buffers (plugin-owned array, valid until destroy) and the number of
     * values compute() writes. */
    int32_t (*state_layout)(void *self, const lhost_state_decl **decls, uint32_t *n_decls,
                            uint32_t *n_outputs);

    /* Fold one batch into the buffers. */
    int32_t (*update)(void *self, lhost_ctx *ctx, const lhost_metric_state *state,
                      const lhost_metric_batch *batch);

    /* Write n_outputs values computed from the (reduced) buffers into `out` (host-owned). */
    int32_t (*compute)(void *self, lhost_ctx *ctx, const lhost_metric_state *state, double *out);
} lhost_metric_vtable;

#ifdef __cplusplus
}
#endif

#endif
