/* host/train/trainer_dist.c — data-parallel training (see trainer_dist.h); the collectives are
 * host/dist's, so nothing here knows MPI. */
#include "trainer_dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"
#include "signals.h"

static int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

/* Validation batches of B in the whole world (each rank takes every world-th). */
static int64_t val_batches_total(const lh_trainer *t)
{
    return ceil_div(t->val.count, t->opts.batch_size); /* limits per rank: lh_loop_setup */
}

/* Reduce every rank's share of the batch into `batch`, in rank order (so a cat buffer holds
 * the rows in the global batch's order). */
static int metric_sync(lh_metric_run *r, lh_metric_set *batch, lh_error *err)
{
    int32_t world = lh_dist_world(), k;
    int64_t n, *counts = calloc((size_t)world, sizeof *counts), off = 0;
    void *mine = lh_metric_run_set_pack(batch, &n), *all = NULL;
    lh_metric_set tmp;
    int rc = -1;
    memset(&tmp, 0, sizeof tmp);
    if (!mine || !counts) {
        lh_error_set(err, "metric %s: out of memory", r->key);
        goto done;
    }
    if (lh_dist_allgatherv(mine, n, &all, counts, "metric states", err) ||
        lh_metric_run_set_init(r, &tmp, err))
        goto done;
    lh_metric_run_set_reset(batch);
    for (k = 0; k < world; k++) {
        if (lh_metric_run_set_unpack(&tmp, (char *)all + off, counts[k], err) ||
            lh_metric_run_reduce(batch, &tmp, err))
            goto done;
        off += counts[k];
    }
    rc = 0;
done:
    lh_metric_run_set_free(&tmp);
    free(mine);
    free(all);
    free(counts);
    return rc;
}

/* A backend with collectives of its own (NCCL on CUDA) all-reduces the gradients on the
 * devices: rank 0 makes the communicator's id, MPI carries it to every rank (with whether rank
 * 0 could make it, so no rank waits on one that failed), and every rank joins. */
static int comm_setup(lh_trainer *t, lh_error *err)
{
    struct {
        int32_t ok;
        unsigned char id[LH_COMM_ID_BYTES];
    } m;
    const lh_backend *be = t->be;
    lh_error mine; /* a failed broadcast must not overwrite why rank 0 failed before it */
    memset(&m, 0, sizeof m);
    if (lh_dist_rank() == 0) {
        m.ok = be->comm_id(t->bctx, m.id) == 0;
        if (!m.ok)
            lh_error_set(err, "%s backend: communicator id: %s", be->name,
                         be->last_error(t->bctx));
    }
    if (lh_dist_bcast(&m, (int64_t)sizeof m, "the communicator id", m.ok ? err : &mine))
        return -1;
    if (!m.ok)
        return lh_dist_rank() == 0 ? -1
                                   : lh_error_set(err, "rank 0 could not make the %s backend's "
                                                  "communicator id", be->name);
    if (be->comm_init(t->bctx, m.id, lh_dist_rank(), lh_dist_world()))
        return lh_error_set(err, "%s backend: joining the communicator as rank %d of %d: %s",
                            be->name, (int)lh_dist_rank(), (int)lh_dist_world(),
                            be->last_error(t->bctx));
    return 0;
}

/* Whether this trainer's gradients go through the backend's collectives (comm_setup ran). */
static int device_grads(const lh_trainer *t)
{
    return t->stage == LHOST_STAGE_FIT && t->be->comm_allreduce_sum != NULL;
}

/* ---- the gradient all-reduce overlapped with backward (LHOST_DIST_OVERLAP=1) --------------
 * Buckets are the layers' gradient tensors (in layer order in the flat buffer). Backward says
 * where the finished part of the gradient starts (model.grads_ready); each bucket inside it is
 * downloaded, weighted by the rank's share and its all-reduce started, the last layer's first,
 * while backward goes on with the earlier layers. After backward the trainer waits for all of
 * them and uploads the sum. A rank without samples in the step starts the same buckets, zeros,
 * in the same order, so every rank issues the same collectives. The weighting is the flat
 * path's float multiply, so both give the same bits. */
static struct {
    float *host;                  /* (total_params): the gradient on its way */
    int64_t start[LH_MAX_LAYERS]; /* bucket k's first float; descending: last layer first */
    int32_t n_buckets, next;      /* buckets; the next one to start */
    float weight;                 /* this step's n / n_global (lh_trainer_dist_train_share) */
} ov;

static int64_t bucket_end(const lh_trainer *t, int32_t k)
{
    return k == 0 ? t->model.total_params : ov.start[k - 1];
}

/* Start bucket k's all-reduce: its gradient weighted, or zeros when `zero`. */
static int bucket_start(lh_trainer *t, int32_t k, int zero, lh_error *err)
{
    int64_t off = ov.start[k], len = bucket_end(t, k) - off, i;
    float *h = ov.host + off;
    if (zero)
        memset(h, 0, (size_t)len * sizeof *h);
    else if (t->be->download(t->bctx, h, lh_dmem_at(t->model.grad, (size_t)off * 4),
                             (size_t)len * 4))
        return lh_error_set(err, "%s backend: download: %s", t->be->name,
                            t->be->last_error(t->bctx));
    else
        for (i = 0; i < len; i++)
            h[i] *= ov.weight;
    return lh_dist_iallreduce_f32(h, len, "the gradients", err);
}

static int overlap_ready(void *arg, int64_t first, lh_error *err)
{
    lh_trainer *t = arg;
    while (ov.next < ov.n_buckets && ov.start[ov.next] >= first)
        if (bucket_start(t, ov.next++, 0, err))
            return -1;
    return 0;
}

static int overlap_setup(lh_trainer *t, lh_error *err)
{
    const char *env = getenv("LHOST_DIST_OVERLAP");
    int32_t i;
    if (env && env[0] && strcmp(env, "0") != 0 && strcmp(env, "1") != 0)
        return lh_error_set(err, "LHOST_DIST_OVERLAP: expected 0 (one all-reduce after "
                            "backward) or 1 (per layer, under backward), got \"%s\"", env);
    if (!env || strcmp(env, "1") != 0)
        return 0; /* the flat all-reduce after backward: no slower here (bench/README.md) */
    free(ov.host);
    memset(&ov, 0, sizeof ov);
    if (!(ov.host = malloc((size_t)(t->model.total_params ? t->model.total_params : 1) * 4)))
        return lh_error_set(err, "out of memory for the gradient all-reduce");
    for (i = t->model.spec.n_layers - 1; i >= 0; i--)
        if (t->model.plan[i].n_param > 0)
            ov.start[ov.n_buckets++] = t->model.params[t->model.plan[i].param0].offset;
    t->model.grads_ready = overlap_ready;
    t->model.grads_ready_arg = t;
    return 0;
}

/* After backward: the buckets it did not start (all of them without samples), the wait, the
 * sum back on the device. */
static int overlap_finish(lh_trainer *t, int32_t n, lh_error *err)
{
    int rc = 0;
    while (!rc && ov.next < ov.n_buckets)
        rc = bucket_start(t, ov.next++, n == 0, err);
    ov.next = 0;
    if (lh_dist_wait_all("the gradients", err) || rc)
        return -1;
    if (t->be->upload(t->bctx, t->model.grad, ov.host, (size_t)t->model.total_params * 4))
        return lh_error_set(err, "%s backend: upload: %s", t->be->name,
                            t->be->last_error(t->bctx));
    return 0;
}

int lh_trainer_dist_setup(lh_trainer *t, lh_error *err)
{
    static FILE *devnull;
    int64_t W = lh_dist_world(), B = t->opts.batch_size;
    int32_t i;
    lh_dist_set_timeout(t->opts.dist_timeout);
    if (W == 1)
        return 0;
    if (t->stage == LHOST_STAGE_FIT) {
        t->num_train_batches = ceil_div(t->train.count, W * B);
    }
    t->num_val_batches = ceil_div(val_batches_total(t), W);
    if (t->stage == LHOST_STAGE_FIT) {
        if (device_grads(t) ? comm_setup(t, err) : overlap_setup(t, err))
            return -1;
        if (lh_dist_rank() == 0) {
            if (device_grads(t))
                fprintf(t->out, "Data parallel: %d ranks, gradients all-reduced by the %s "
                        "backend's collectives (NCCL) after backward\n", (int)W, t->be->name);
            else if (t->model.grads_ready == overlap_ready)
                fprintf(t->out, "Data parallel: %d ranks, gradients all-reduced by MPI under "
                        "backward, %d buckets\n", (int)W, (int)ov.n_buckets);
            else
                fprintf(t->out, "Data parallel: %d ranks, gradients all-reduced by MPI after "
                        "backward\n", (int)W);
        }
    }
    for (i = 0; i < t->n_metrics; i++)
        t->metrics[i].sync = t->val_metrics[i].sync = metric_sync;
    if (lh_dist_rank() == 0)
        return 0;
    /* Rank 0 speaks for the job: progress, summaries and loggers; files are its own too
     * (trainer.c, trainer_services.c). */
    if (!devnull && !(devnull = fopen("/dev/null", "w")))
        return lh_error_set(err, "cannot open /dev/null for rank %d's progress",
                            (int)lh_dist_rank());
    t->out = devnull;
    t->tty = 0;
    t->n_loggers = 0;
    return 0;
}

void lh_trainer_dist_train_share(const lh_trainer *t, int64_t b, int64_t *start, int32_t *n,
                                 int64_t *n_global)
{
    int64_t W = lh_dist_world(), r = lh_dist_rank(), B = t->opts.batch_size;
    int64_t first = b * W * B, ng = t->train.count - first < W * B ? t->train.count - first
                                                                   : W * B;
    int64_t base = ng / W, rem = ng % W;
    *n_global = ng;
    *n = (int32_t)(base + (r < rem));
    *start = first + r * base + (r < rem ? r : rem);
    ov.weight = (float)((double)*n / (double)ng); /* what backward's buckets are weighted by */
}

void lh_trainer_dist_val_share(const lh_trainer *t, int64_t b, int64_t *start, int32_t *n)
{
    int64_t B = t->opts.batch_size, k = b * lh_dist_world() + lh_dist_rank();
    *start = k * B;
    *n = k < val_batches_total(t)
             ? (int32_t)(t->val.count - *start < B ? t->val.count - *start : B)
             : 0;
}

/* The gradient all-reduce on the devices (comm_setup), waited for with trainer.dist_timeout. */
static int device_allreduce(lh_trainer *t, int32_t n, int64_t n_global, lh_error *err)
{
    const lh_backend *be = t->be;
    int64_t len = t->model.total_params;
    int rc;
    if (n == 0 ? be->zero(t->bctx, t->model.grad, (size_t)len * 4) != 0
               : lh_model_grad_scale(&t->model, (double)n / (double)n_global, err) != 0)
        return n == 0 ? lh_error_set(err, "%s backend: zero: %s", be->name,
                                     be->last_error(t->bctx))
                      : -1;
    if (be->comm_allreduce_sum(t->bctx, t->model.grad, len))
        return lh_error_set(err, "%s backend: all-reduce of the gradients: %s", be->name,
                            be->last_error(t->bctx));
    rc = be->comm_wait(t->bctx, lh_dist_timeout());
    if (rc == LH_BACKEND_ETIMEDOUT) {
        char msg[600];
        snprintf(msg, sizeof msg, "all-reduce of the gradients: %s (trainer.dist_timeout): "
                 "another rank died or hangs; aborting the job", be->last_error(t->bctx));
        lh_dist_abort(msg);
    }
    if (rc)
        return lh_error_set(err, "%s backend: all-reduce of the gradients: %s", be->name,
                            be->last_error(t->bctx));
    return 0;
}

int lh_trainer_dist_grads(lh_trainer *t, int32_t n, int64_t n_global, lh_error *err)
{
    static float *host;
    static int64_t cap;
    int64_t len = t->model.total_params;
    if (lh_dist_world() == 1)
        return 0;
    if (device_grads(t))
        return device_allreduce(t, n, n_global, err);
    if (t->model.grads_ready == overlap_ready)
        return overlap_finish(t, n, err);
    if (len > cap) {
        float *p = realloc(host, (size_t)len * sizeof *p);
        if (!p)
            return lh_error_set(err, "out of memory for the gradient all-reduce");
        host = p, cap = len;
    }
    /* Each rank's gradient is the mean over its n samples: weight it by n / n_global so the
     * sum is the mean over the global batch. An empty share adds nothing. */
    if (n == 0)
        memset(host, 0, (size_t)len * sizeof *host);
    else if (lh_model_grad_scale(&t->model, (double)n / (double)n_global, err))
        return -1;
    else if (t->be->download(t->bctx, host, t->model.grad, (size_t)len * 4))
        return lh_error_set(err, "%s backend: download: %s", t->be->name,
                            t->be->last_error(t->bctx));
    if (lh_dist_allreduce_f32(host, len, "the gradients", err))
        return -1;
    if (t->be->upload(t->bctx, t->model.grad, host, (size_t)len * 4))
        return lh_error_set(err, "%s backend: upload: %s", t->be->name,
                            t->be->last_error(t->bctx));
    return 0;
}

int lh_trainer_dist_sum(double *v, int32_t n, const char *what, lh_error *err)
{
    return lh_dist_allreduce_f64(v, n, LH_DIST_SUM, what, err);
}

int lh_trainer_dist_sync_stop(lh_trainer *t, lh_error *err)
{
    int sig = lh_signals_pending();
    double f[3];
    if (lh_dist_world() == 1)
        return 0;
    f[0] = t->stop_requested, f[1] = t->stop_now, f[2] = sig;
    if (lh_dist_allreduce_f64(f, 3, LH_DIST_MAX, "the stop flags", err))
        return -1;
    if (f[0] && !t->stop_requested) {
        t->stop_requested = 1;
        snprintf(t->stop_reason, sizeof t->stop_reason, "another rank asked to stop");
    }
    t->stop_now = f[1] != 0;
    if (f[2] && !sig) {
        t->interrupted = (int32_t)f[2];
        return lh_error_set(err, "interrupted by %s on another rank",
                            lh_signals_name((int)f[2]));
    }
    return 0;
}

int lh_trainer_dist_run_dir(lh_trainer *t, lh_error *err)
{
    struct {
        int32_t ok;
        char dir[sizeof t->run_dir];
    } *m;
    int rc = 0;
    if (lh_dist_world() == 1)
        return lh_trainer_make_run_dir(t, err);
    if (!(m = calloc(1, sizeof *m)))
        return lh_error_set(err, "out of memory");
    if (lh_dist_rank() == 0) {
        rc = lh_trainer_make_run_dir(t, err);
        m->ok = rc == 0;
        memcpy(m->dir, t->run_dir, sizeof m->dir);
    }
    /* Sent even when rank 0 failed, so the others learn it rather than wait. */
    if (lh_dist_bcast(m, (int64_t)sizeof *m, "the run directory", err))
        rc = -1;
    else if (lh_dist_rank() != 0 && !m->ok)
        rc = lh_error_set(err, "rank 0 could not create the run directory");
    else if (lh_dist_rank() != 0) {
        memcpy(t->run_dir, m->dir, sizeof t->run_dir);
        snprintf(t->csv_path, sizeof t->csv_path, "%s/metrics.csv", t->run_dir);
    }
    free(m);
    return rc;
}
