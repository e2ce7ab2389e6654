/* host/train/metric_run.h — running a metric plugin: the host-side state buffers it declared (one
 * set for the epoch, one for the current batch), reset, update, merge, compute.
 *
 * Per training batch: reset the batch buffers, update them, compute the batch value (logged on
 * step), then merge them into the epoch buffers with each buffer's reduction. The epoch value is
 * computed from the epoch buffers. Checkpoints save the epoch buffers.
 *
 * Two kinds of buffer. A fixed buffer (sum / max / min) has `length` elements, set to `init` by
 * reset and merged element-wise. A cat buffer (LHOST_REDUCE_CAT, ABI 1.1) is a table of rows of
 * `length` elements that update() appends to through the state's append(); reset empties it,
 * a merge appends the other set's rows, and its storage grows by doubling up to the declared
 * max_rows (an append or merge past that fails naming the metric, the buffer and the bound).
 * Merging a batch into the epoch and reducing ranks are the same operation,
 * lh_metric_run_reduce, so the data-parallel code reduces rank states with it. */
#ifndef LH_METRIC_RUN_H
#define LH_METRIC_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "instance.h"
#include "safetensors.h"

/* One set of state buffers. `pub` comes first: append() gets &pub and casts back. Self-contained
 * (it copies what it needs), so the run that made it may move. */
typedef struct lh_metric_set {
    lhost_metric_state pub;
    const lhost_state_decl *decls; /* the run's host-sized copy, n entries */
    uint32_t n;
    char key[96];                  /* the metric's log key, for messages */
    void **buf;                    /* n; 64-byte aligned */
    uint64_t *rows;                /* n; rows held (1 for a fixed buffer) */
    uint64_t *cap;                 /* n; rows allocated (1 for a fixed buffer) */
    char error[320];               /* why the last append failed ("" if none) */
} lh_metric_set;

typedef struct lh_metric_run lh_metric_run;
/* Make `batch` (this process's share of a batch) the whole batch's state, the same on every
 * process: data-parallel training sets it (trainer_dist.c); NULL in a single process. */
typedef int (*lh_metric_sync_fn)(lh_metric_run *r, lh_metric_set *batch, lh_error *err);

struct lh_metric_run {
    lh_instance *inst;
    const lhost_metric_vtable *vt;
    char key[96];                 /* log key without the val_ prefix */
    lhost_state_decl *decls;      /* host-sized copy of the plugin's declarations */
    uint32_t n_decls, n_outputs;
    lh_metric_set epoch, batch;
    double *out;                  /* n_outputs */
    lh_metric_sync_fn sync;       /* set: every update goes through `batch` and is synced */
};

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

/* An empty set (reset) for r's declarations, e.g. one per rank; free with
 * lh_metric_run_set_free. lh_metric_run_init makes r->epoch and r->batch this way. */
int lh_metric_run_set_init(const lh_metric_run *r, lh_metric_set *s, lh_error *err);
void lh_metric_run_set_free(lh_metric_set *s);
void lh_metric_run_set_reset(lh_metric_set *s);
/* Reduce `src` into `dst` (two sets of the same run): fixed buffers element-wise by their
 * reduction, cat buffers by appending src's rows after dst's. Fails, changing nothing, when a
 * cat buffer would exceed its max_rows. */
int lh_metric_run_reduce(lh_metric_set *dst, const lh_metric_set *src, lh_error *err);

/* A set as bytes to send to other processes: per buffer its row count (uint64) then its rows.
 * Returns malloc'ed bytes (*n of them), NULL when out of memory. */
void *lh_metric_run_set_pack(const lh_metric_set *s, int64_t *n);
/* Replace s's contents with bytes lh_metric_run_set_pack made from a set of the same run;
 * fails naming the metric on a malformed buffer or one past a cat buffer's max_rows. */
int lh_metric_run_set_unpack(lh_metric_set *s, const void *bytes, int64_t n, lh_error *err);

/* Checkpoint section of the `n` runs: each one's epoch buffers as "metric.<key>.<buffer>"
 * tensors (dtype as declared; a fixed buffer one dimension, a cat buffer (rows, length)), so a
 * run resumed mid-epoch goes on from the same counts and rows; and, in every checkpoint, the
 * instances as the "metrics" metadata entry {key: {"plugin": name, param: text...}}, enough for
 * `lhost validate` to rebuild them. */
int lh_metric_run_ckpt_save_specs(const lh_metric_run *runs, int32_t n,
                                  lh_safetensors_writer *w, lh_error *err);
int lh_metric_run_ckpt_save(const lh_metric_run *runs, int32_t n, lh_safetensors_writer *w,
                            lh_error *err);
int lh_metric_run_ckpt_load(lh_metric_run *runs, int32_t n, const lh_safetensors_file *f,
                            lh_error *err);

#endif
