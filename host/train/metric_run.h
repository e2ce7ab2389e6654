/* host/train/metric_run.h — running a metric plugin: the host-side state buffers it declared (one
 * set for the epoch, one for the current batch), reset, update, merge, compute.
 *
 * Per training batch: reset the batch buffers, update them, compute the batch value (logged on
 * step), then merge them into the epoch buffers with each buffer's reduction. The epoch value is
 * computed from the epoch buffers. Checkpoints save the epoch buffers. */
#ifndef LH_METRIC_RUN_H
#define LH_METRIC_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "instance.h"
#include "safetensors.h"

typedef struct lh_metric_run {
    lh_instance *inst;
    const lhost_metric_vtable *vt;
    char key[96];                 /* log key without the val_ prefix */
    const lhost_state_decl *decls;
    uint32_t n_decls, n_outputs;
    size_t *bytes;                /* per buffer */
    void **epoch_buf, **batch_buf;
    lhost_metric_state epoch_state, batch_state;
    double *out;                  /* n_outputs */
} lh_metric_run;

int lh_metric_run_init(lh_metric_run *r, lh_instance *inst, lh_error *err);
void lh_metric_run_free(lh_metric_run *r);
void lh_metric_run_reset(lh_metric_run *r);
/* Fold a batch into the epoch state; with batch_value also compute the batch's own value
 * into r->out. */
int lh_metric_run_update(lh_metric_run *r, const lhost_metric_batch *b, int32_t batch_value,
                         lh_error *err);
/* Compute the epoch value into r->out. */
int lh_metric_run_compute(lh_metric_run *r, lh_error *err);
/* Log key of output k with an optional prefix ("val_"): "acc", "val_precision_3". */
void lh_metric_run_name(const lh_metric_run *r, const char *prefix, uint32_t k, char *buf,
                        size_t len);
size_t lh_metric_run_dtype_size(int32_t dtype);

/* Checkpoint section of the `n` runs: each one's epoch buffers as "metric.<key>.<buffer>"
 * tensors (dtype as declared, one dimension), so a run resumed mid-epoch goes on from the same
 * counts; and, in every checkpoint, the instances as the "metrics" metadata entry
 * {key: {"plugin": name, param: text...}}, enough for `lhost validate` to rebuild them. */
int lh_metric_run_ckpt_save_specs(const lh_metric_run *runs, int32_t n,
                                  lh_safetensors_writer *w, lh_error *err);
int lh_metric_run_ckpt_save(const lh_metric_run *runs, int32_t n, lh_safetensors_writer *w,
                            lh_error *err);
int lh_metric_run_ckpt_load(lh_metric_run *runs, int32_t n, const lh_safetensors_file *f,
                            lh_error *err);

#endif
