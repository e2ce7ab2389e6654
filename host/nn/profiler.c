/* host/nn/profiler.c — the simple profiler: a backend that times the backend it wraps (see
 * profiler.h). One wrapper per op and one report row per op, generated from LH_BACKEND_OPS.
 * Only the closing wait is needed: every op that queues device work goes through a wrapper, so
 * the queue is empty when the next one starts its clock. */
#include "profiler.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

typedef struct lh_prof {
    lh_backend table;      /* this wrapper's ops; optional ones stay NULL where the inner's are */
    const lh_backend *be;  /* the wrapped backend */
    lh_backend_ctx *ctx;
    double t0;             /* when wrapped */
    int64_t calls[LH_BACKEND_OP_COUNT];
    double total[LH_BACKEND_OP_COUNT]; /* seconds */
} lh_prof;

static lh_prof *P(lh_backend_ctx *c)
{
    return (lh_prof *)(void *)c;
}

static int prof_end(lh_prof *p, int op, double t0, int rc)
{
    p->be->sync(p->ctx);
    p->calls[op]++;
    p->total[op] += lh_clock_now() - t0;
    return rc;
}

/* prof_<op>: time the wrapped backend's <op>, for every op in LH_BACKEND_OPS. The locals'
 * trailing underscores keep them apart from the ops' parameter names (dropout's p, ...). */
#define PROF_OP(name, kind, params, args)                                                        \
    static int prof_##name(lh_backend_ctx *ctx, LH_BACKEND_UNPAREN params)                       \
    {                                                                                            \
        lh_prof *prof_ = P(ctx);                                                                 \
        double t0_ = lh_clock_now();                                                             \
        return prof_end(prof_, LH_BACKEND_OP_##name, t0_,                                        \
                        prof_->be->name(prof_->ctx, LH_BACKEND_UNPAREN args));                   \
    }
LH_BACKEND_OPS(PROF_OP)
#undef PROF_OP

/* ---- untimed: lifetime, memory, errors ---------------------------------------------------- */

static void prof_close(lh_backend_ctx *ctx)
{
    lh_prof *p = P(ctx);
    p->be->close(p->ctx);
    free(p);
}

static int prof_configure(lh_backend_ctx *ctx, int32_t conv_algorithm, int32_t precision)
{
    return P(ctx)->be->configure(P(ctx)->ctx, conv_algorithm, precision);
}

static const char *prof_last_error(lh_backend_ctx *ctx)
{
    return P(ctx)->be->last_error(P(ctx)->ctx);
}

static const char *prof_describe(lh_backend_ctx *ctx)
{
    return P(ctx)->be->describe(P(ctx)->ctx);
}

static lh_dmem *prof_alloc(lh_backend_ctx *ctx, size_t bytes)
{
    return P(ctx)->be->alloc(P(ctx)->ctx, bytes);
}

static void prof_free(lh_backend_ctx *ctx, lh_dmem *m)
{
    P(ctx)->be->free(P(ctx)->ctx, m);
}

static int prof_sync(lh_backend_ctx *ctx)
{
    return P(ctx)->be->sync(P(ctx)->ctx);
}

/* The collectives, untimed (the trainer times the gradient all-reduce itself). */
static int prof_comm_id(lh_backend_ctx *ctx, void *id)
{
    return P(ctx)->be->comm_id(P(ctx)->ctx, id);
}

static int prof_comm_init(lh_backend_ctx *ctx, const void *id, int32_t rank, int32_t world)
{
    return P(ctx)->be->comm_init(P(ctx)->ctx, id, rank, world);
}

static int prof_comm_allreduce_sum(lh_backend_ctx *ctx, lh_dmem *buf, int64_t n)
{
    return P(ctx)->be->comm_allreduce_sum(P(ctx)->ctx, buf, n);
}

static int prof_comm_wait(lh_backend_ctx *ctx, double timeout_s)
{
    return P(ctx)->be->comm_wait(P(ctx)->ctx, timeout_s);
}

static lh_dmem *prof_wrap_host(lh_backend_ctx *ctx, const void *host, size_t bytes)
{
    return P(ctx)->be->wrap_host(P(ctx)->ctx, host, bytes);
}

static lh_backend_ctx *prof_open(int32_t device, int32_t threads, char *err, size_t errlen)
{
    snprintf(err, errlen, "the profiler wraps an opened backend (lh_profiler_wrap)");
    return NULL;
}

int lh_profiler_is(const lh_backend *be)
{
    return be && be->open == prof_open;
}

int lh_profiler_wrap(const lh_backend **be, lh_backend_ctx **ctx, lh_error *err)
{
    const lh_backend *in = *be;
    lh_prof *p = calloc(1, sizeof *p);
    lh_backend *t;
    if (!p)
        return lh_error_set(err, "profiler: out of memory");
    p->be = in, p->ctx = *ctx;
    t = &p->table;
    *t = *in; /* the name; and NULL stays NULL for optional ops the backend lacks */
    t->open = prof_open, t->close = prof_close, t->last_error = prof_last_error;
    t->describe = prof_describe, t->alloc = prof_alloc, t->free = prof_free;
    t->sync = prof_sync;
    /* Every op is timed; one the wrapped backend lacks (optional, NULL) stays NULL. */
#define PROF_SET(name, kind, params, args)                                                       \
    t->name = in->name ? prof_##name : NULL;
    LH_BACKEND_OPS(PROF_SET)
#undef PROF_SET
    if (in->wrap_host)
        t->wrap_host = prof_wrap_host;
    if (in->comm_id && in->comm_init && in->comm_allreduce_sum && in->comm_wait) {
        t->comm_id = prof_comm_id, t->comm_init = prof_comm_init;
        t->comm_allreduce_sum = prof_comm_allreduce_sum, t->comm_wait = prof_comm_wait;
    } else {
        t->comm_id = NULL, t->comm_init = NULL, t->comm_allreduce_sum = NULL, t->comm_wait = NULL;
    }
    if (in->configure)
        t->configure = prof_configure;
    p->t0 = lh_clock_now();
    *be = t;
    *ctx = (lh_backend_ctx *)(void *)p;
    return 0;
}

void lh_profiler_report(const lh_backend *be, lh_backend_ctx *ctx, const char *title, FILE *out)
{
    lh_prof *p = P(ctx);
    double wall = lh_clock_now() - p->t0, ops = 0;
    int order[LH_BACKEND_OP_COUNT], n = 0, i, j;
    if (!lh_profiler_is(be))
        return;
    for (i = 0; i < LH_BACKEND_OP_COUNT; i++)
        if (p->calls[i]) {
            ops += p->total[i];
            for (j = n++; j > 0 && p->total[order[j - 1]] < p->total[i]; j--)
                order[j] = order[j - 1];
            order[j] = i;
        }
    fprintf(out, "%s (%s: %s)\n", title, be->name, be->describe(ctx));
    fprintf(out, "%-30s | %18s | %10s | %14s | %10s\n", "Action", "Mean duration (ms)",
            "Num calls", "Total time (s)", "Percentage");
    fprintf(out, "%-30s | %18s | %10s | %14.3f | %9.1f%%\n", "Total", "-", "-", wall, 100.0);
    for (j = 0; j < n; j++) {
        i = order[j];
        fprintf(out, "%-30s | %18.4f | %10lld | %14.3f | %9.1f%%\n", lh_backend_op_name(i),
                p->total[i] * 1e3 / (double)p->calls[i], (long long)p->calls[i], p->total[i],
                wall > 0 ? 100.0 * p->total[i] / wall : 0.0);
    }
    fprintf(out, "%-30s | %18s | %10s | %14.3f | %9.1f%%\n",
            "host (everything else)", "-", "-", wall - ops,
            wall > 0 ? 100.0 * (wall - ops) / wall : 0.0);
}
