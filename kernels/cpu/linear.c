/* kernels/cpu/linear.c — fully connected layer, forward and backward, via oneDNN sgemm.
 *
 *   forward   y (N, OUT) = x (N, IN) . w^T + b         threads split the rows of x
 *   backward  dx (N, IN) = dy (N, OUT) . w              threads split the rows of dy
 *             dw (OUT, IN) = dy^T . x                   threads split the IN columns
 *             db (OUT) = column sums of dy              thread 0, rows in order
 * No partial sums cross threads, so every element has one fixed summation order. */
#include "kernels/cpu/cpu.h"

typedef struct lin_job {
    int32_t n, in, out;
    const float *x, *w, *b, *dy;
    float *y, *dx, *dw, *db;
} lin_job;

static void forward_task(void *arg, int tid, int nt)
{
    lin_job *j = arg;
    int64_t lo, hi;
    lh_cpu_split(j->n, tid, nt, &lo, &hi);
    for (int64_t i = lo; i < hi; i++)
        for (int32_t o = 0; o < j->out; o++)
            j->y[i * j->out + o] = j->b ? j->b[o] : 0.0f;
    lh_cpu_sgemm(0, 1, hi - lo, j->out, j->in, 1.0f, j->x + lo * j->in, j->in, j->w, j->in, 1.0f,
                 j->y + lo * j->out, j->out);
}

static void backward_task(void *arg, int tid, int nt)
{
    lin_job *j = arg;
    int64_t lo, hi;
    if (j->dx) {
        lh_cpu_split(j->n, tid, nt, &lo, &hi);
        lh_cpu_sgemm(0, 0, hi - lo, j->in, j->out, 1.0f, j->dy + lo * j->out, j->out, j->w, j->in,
                     0.0f, j->dx + lo * j->in, j->in);
    }
    /* IN columns in 16-float units so threads never share a cache line of dw */
    lh_cpu_split((j->in + 15) / 16, tid, nt, &lo, &hi);
    lo *= 16;
    hi = hi * 16 < j->in ? hi * 16 : j->in;
    if (lo < hi)
        lh_cpu_sgemm(1, 0, j->out, hi - lo, j->n, 1.0f, j->dy, j->out, j->x + lo, j->in, 0.0f,
                     j->dw + lo, j->in);
    if (tid == 0 && j->db) {
        for (int32_t o = 0; o < j->out; o++)
            j->db[o] = 0.0f;
        for (int32_t i = 0; i < j->n; i++)
            for (int32_t o = 0; o < j->out; o++)
                j->db[o] += j->dy[(int64_t)i * j->out + o];
    }
}

/* Layers under ~8 MFLOP (the tutorial's 64 x 6272 x 10 is 4) run on the calling thread: waking
 * the pool costs more than it saves. */
static void run(lh_backend_ctx *ctx, lin_job *j, lh_cpu_task task)
{
    if ((int64_t)j->n * j->in * j->out < (1 << 22))
        task(j, 0, 1);
    else
        lh_cpu_pool_run(ctx->pool, task, j);
}

static int check(lh_backend_ctx *ctx, int32_t n, int32_t in, int32_t out, const char *op)
{
    if (n < 0 || in <= 0 || out <= 0)
        return lh_cpu_fail(ctx, LH_BACKEND_EINVAL, "cpu: %s: bad shape n=%d in=%d out=%d", op,
                           (int)n, (int)in, (int)out);
    return LH_BACKEND_OK;
}

int lh_cpu_linear_forward(lh_backend_ctx *ctx, int32_t n, int32_t in, int32_t out,
                          const lh_dmem *x, const lh_dmem *w, const lh_dmem *b, lh_dmem *y)
{
    int rc = check(ctx, n, in, out, "linear_forward");
    if (rc)
        return rc;
    lin_job j = {.n = n, .in = in, .out = out, .x = CF(x), .w = CF(w), .b = CF(b), .y = F(y)};
    run(ctx, &j, forward_task);
    return LH_BACKEND_OK;
}

int lh_cpu_linear_backward(lh_backend_ctx *ctx, int32_t n, int32_t in, int32_t out,
                           const lh_dmem *x, const lh_dmem *w, const lh_dmem *dy, lh_dmem *dx,
                           lh_dmem *dw, lh_dmem *db)
{
    int rc = check(ctx, n, in, out, "linear_backward");
    if (rc)
        return rc;
    lin_job j = {.n = n, .in = in, .out = out, .x = CF(x), .w = CF(w), .dy = CF(dy),
                 .dx = F(dx), .dw = F(dw), .db = F(db)};
    run(ctx, &j, backward_task);
    return LH_BACKEND_OK;
}
