/* lhost/logger.h — the logger vtable (Lightning's Logger).
 *
 * The host calls log_row once per logged step and once per epoch with the values of that row, and
 * log_hparams once before training. Every function is [main-thread]. */
#ifndef LHOST_LOGGER_H
#define LHOST_LOGGER_H

#include <stdint.h>

#include "host.h"
#include "params.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One row. Host-owned, borrowed for the call. */
typedef struct lhost_log_row {
    uint32_t struct_size;
    int64_t epoch;
    int64_t step;            /* global step the row belongs to */
    uint32_t count;
    const char *const *keys; /* `count` keys */
    const double *values;    /* `count` values */
} lhost_log_row;

typedef struct lhost_logger_vtable {
    uint32_t struct_size;

    int32_t (*create)(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *params,
                      void **self);
    void (*destroy)(void *self);

    /* `run_dir` is where this run writes (borrowed); `keys`/`values` are the hyper-parameters
     * flattened to text (borrowed). */
    int32_t (*log_hparams)(void *self, lhost_ctx *ctx, const char *run_dir, uint32_t count,
                           const char *const *keys, const char *const *values);
    int32_t (*log_row)(void *self, lhost_ctx *ctx, const lhost_log_row *row);
    /* Flush and close files; `status` is "success" or "failed". */
    int32_t (*finalize)(void *self, lhost_ctx *ctx, const char *status);
} lhost_logger_vtable;

#ifdef __cplusplus
}
#endif

#endif
