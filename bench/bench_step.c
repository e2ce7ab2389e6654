/* bench/bench_step.c — one training step of the seed model (the tutorial CNN) at batch 64
 * through a backend's ops table, with a per-op breakdown: the CPU backend for 1 and 2 threads,
 * or a GPU; and the validation forward of one batch.
 *
 * Run:  ./build/bench/bench_step [steps=50] [threads...=1 2]
 *       ./build/bench/bench_step --device=cuda[:N] [steps=50]
 * Each thread count runs twice: with the single ops the trainer calls (conv, relu and maxpool
 * apart) and with the optional fused conv2d_relu_maxpool ops, where the backend has them.
 * On a GPU the ops are queued, so three figures say where a step's time goes: the per-op times
 * wait for the device after each op; "as the trainer" queues a step and waits for its logits and
 * loss (the trainer's one wait per step); "queued" queues all steps and waits once (the device's
 * own pace, the floor that CUDA graphs or asynchronous metrics could approach).
 * Model: conv 1->64 3x3 pad 1 (28x28) + relu + maxpool 2; conv 64->128 3x3 pad 1 (14x14) +
 * relu + maxpool 2; linear 6272->10; softmax-CE; Adam (6 parameter tensors). Inputs come from
 * a synthetic uint8 data set through gather_normalize, as the trainer does. Times are medians
 * over `steps` steps after 5 warm-up steps; the per-op medians need not add up to the step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "kernels/backend.h"

enum { BATCH = 64, DATA = 1024, NOPS = 20, LH_MAX_ARGS = 8 };

static const char *op_names[NOPS]; /* filled by step() */
static int nops;
static int sync_each; /* wait for the device after every op: per-op times on a GPU */

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#define CHECK(call)                                                                              \
    do {                                                                                         \
        if ((call) != 0) {                                                                       \
            fprintf(stderr, "bench_step: %s failed: %s\n", #call, be->last_error(ctx));          \
            exit(1);                                                                             \
        }                                                                                        \
    } while (0)

typedef struct model {
    lh_dmem *images, *labels, *idx, *x, *t;
    lh_dmem *w1, *b1, *y1, *p1, *a1, *w2, *b2, *y2, *p2, *a2, *fw, *fb, *z, *loss, *dz;
    lh_dmem *dp2, *dy2, *dp1, *dy1, *dw1, *db1, *dw2, *db2, *dfw, *dfb;
    lh_dmem *m[6], *v[6];
} model;

static const lh_conv_shape c1 = {BATCH, 1, 28, 28, 64, 3, 3, 1, 1, 28, 28};
static const lh_conv_shape c2 = {BATCH, 64, 14, 14, 128, 3, 3, 1, 1, 14, 14};
static const lh_pool_shape q1 = {BATCH, 64, 28, 28, 2, 2, 14, 14};
static const lh_pool_shape q2 = {BATCH, 128, 14, 14, 2, 2, 7, 7};
static const size_t psize[6] = {64 * 9, 64, 128 * 64 * 9, 128, 10 * 6272, 10};

/* One step; t[i] receives op i's time (ms). train = 0: forward and loss only. fused = 1: the
 * optional conv2d_relu_maxpool ops replace conv + relu + maxpool. */
static void step(const lh_backend *be, lh_backend_ctx *ctx, model *M, int train, int fused,
                 int64_t k, double *t)
{
    double t0 = now_ms(), t1;
    int op = 0;
#define TIMED(name, call)                                                                        \
    do {                                                                                         \
        CHECK(call);                                                                             \
        if (sync_each)                                                                           \
            CHECK(be->sync(ctx));                                                                \
        t1 = now_ms(), op_names[op] = name, t[op++] = t1 - t0, t0 = t1;                          \
    } while (0)
    TIMED("gather_normalize", be->gather_normalize(ctx, M->images, M->labels, M->idx, BATCH, 784,
                                                   0.2860f, 0.3530f, M->x, M->t));
    if (fused) {
        TIMED("conv1+relu+pool fwd",
              be->conv2d_relu_maxpool_forward(ctx, &c1, &q1, M->x, M->w1, M->b1, M->p1, M->a1));
        TIMED("conv2+relu+pool fwd",
              be->conv2d_relu_maxpool_forward(ctx, &c2, &q2, M->p1, M->w2, M->b2, M->p2, M->a2));
    } else {
        TIMED("conv1 fwd", be->conv2d_forward(ctx, &c1, M->x, M->w1, M->b1, M->y1));
        TIMED("relu1 fwd", be->relu_forward(ctx, (int64_t)BATCH * 64 * 784, M->y1, M->y1));
        TIMED("pool1 fwd", be->maxpool_forward(ctx, &q1, M->y1, M->p1, M->a1));
        TIMED("conv2 fwd", be->conv2d_forward(ctx, &c2, M->p1, M->w2, M->b2, M->y2));
        TIMED("relu2 fwd", be->relu_forward(ctx, (int64_t)BATCH * 128 * 196, M->y2, M->y2));
        TIMED("pool2 fwd", be->maxpool_forward(ctx, &q2, M->y2, M->p2, M->a2));
    }
    TIMED("fc fwd", be->linear_forward(ctx, BATCH, 6272, 10, M->p2, M->fw, M->fb, M->z));
    TIMED("softmax_xent",
          be->softmax_xent(ctx, BATCH, 10, M->z, M->t, M->loss, train ? M->dz : NULL));
    if (!train)
        return;
    TIMED("fc bwd", be->linear_backward(ctx, BATCH, 6272, 10, M->p2, M->fw, M->dz, M->dp2,
                                        M->dfw, M->dfb));
    if (fused) {
        TIMED("conv2+relu+pool bwd",
              be->conv2d_relu_maxpool_backward(ctx, &c2, &q2, M->p1, M->w2, M->p2, M->a2, M->dp2,
                                               M->dp1, M->dw2, M->db2));
        TIMED("conv1+relu+pool bwd",
              be->conv2d_relu_maxpool_backward(ctx, &c1, &q1, M->x, M->w1, M->p1, M->a1, M->dp1,
                                               NULL, M->dw1, M->db1));
    } else {
        TIMED("pool2 bwd", be->maxpool_backward(ctx, &q2, M->dp2, M->a2, M->dy2));
        TIMED("relu2 bwd",
              be->relu_backward(ctx, (int64_t)BATCH * 128 * 196, M->y2, M->dy2, M->dy2));
        TIMED("conv2 bwd",
              be->conv2d_backward(ctx, &c2, M->p1, M->w2, M->dy2, M->dp1, M->dw2, M->db2));
        TIMED("pool1 bwd", be->maxpool_backward(ctx, &q1, M->dp1, M->a1, M->dy1));
        TIMED("relu1 bwd",
              be->relu_backward(ctx, (int64_t)BATCH * 64 * 784, M->y1, M->dy1, M->dy1));
        TIMED("conv1 bwd (no dx)",
              be->conv2d_backward(ctx, &c1, M->x, M->w1, M->dy1, NULL, M->dw1, M->db1));
    }
    lh_adam_args a = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 0, k, 1e-3, 0.9, 0.999};
    lh_dmem *p[6] = {M->w1, M->b1, M->w2, M->b2, M->fw, M->fb};
    lh_dmem *g[6] = {M->dw1, M->db1, M->dw2, M->db2, M->dfw, M->dfb};
    for (int i = 0; i < 6; i++)
        CHECK(be->adam_step(ctx, (int64_t)psize[i], &a, p[i], g[i], M->m[i], M->v[i]));
    if (sync_each)
        CHECK(be->sync(ctx));
    t1 = now_ms(), op_names[op] = "adam (6 tensors)", t[op++] = t1 - t0;
    nops = op;
#undef TIMED
}

static lh_dmem *buf(const lh_backend *be, lh_backend_ctx *ctx, size_t bytes)
{
    lh_dmem *d = be->alloc(ctx, bytes);
    if (!d) {
        fprintf(stderr, "bench_step: out of memory\n");
        exit(1);
    }
    return d;
}

/* Deterministic small-magnitude fill, like PyTorch's default init scale. */
static void fill(const lh_backend *be, lh_backend_ctx *ctx, lh_dmem *d, size_t n, float scale,
                 unsigned seed)
{
    float *h = malloc(n * sizeof *h);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        h[i] = ((float)(seed >> 8) / 16777216.0f - 0.5f) * 2 * scale;
    }
    be->upload(ctx, d, h, n * sizeof *h);
    free(h);
}

/* Open the backend: the CPU one with `threads`, or the one `device` names (cuda[:N]). */
static const lh_backend *open_backend(const char *device, int threads, lh_backend_ctx **ctx)
{
    const lh_backend *be = lh_cpu_backend();
    lh_error err = {{0}};
    char msg[256];
    if (device) {
        if (lh_backend_select(device, threads, &be, ctx, &err) == 0)
            return be;
        fprintf(stderr, "bench_step: %s\n", err.msg);
        exit(1);
    }
    if (!(*ctx = be->open(0, threads, msg, sizeof msg))) {
        fprintf(stderr, "bench_step: %s\n", msg);
        exit(1);
    }
    return be;
}

static void bench(const char *device, int threads, int steps, int fused)
{
    lh_backend_ctx *ctx;
    const lh_backend *be = open_backend(device, threads, &ctx);
    if (fused && !be->conv2d_relu_maxpool_forward) {
        printf("\n%s: no fused conv2d_relu_maxpool ops\n", be->describe(ctx));
        be->close(ctx);
        return;
    }
    int gpu = be != lh_cpu_backend();
    model M;
    size_t f = sizeof(float);
    M.images = buf(be, ctx, (size_t)DATA * 784);
    M.labels = buf(be, ctx, DATA);
    M.x = buf(be, ctx, BATCH * 784 * f);
    M.t = buf(be, ctx, BATCH * 4);
    M.y1 = buf(be, ctx, (size_t)BATCH * 64 * 784 * f);
    M.dy1 = buf(be, ctx, (size_t)BATCH * 64 * 784 * f);
    M.p1 = buf(be, ctx, (size_t)BATCH * 64 * 196 * f);
    M.dp1 = buf(be, ctx, (size_t)BATCH * 64 * 196 * f);
    M.a1 = buf(be, ctx, (size_t)BATCH * 64 * 196 * 4);
    M.y2 = buf(be, ctx, (size_t)BATCH * 128 * 196 * f);
    M.dy2 = buf(be, ctx, (size_t)BATCH * 128 * 196 * f);
    M.p2 = buf(be, ctx, (size_t)BATCH * 6272 * f);
    M.dp2 = buf(be, ctx, (size_t)BATCH * 6272 * f);
    M.a2 = buf(be, ctx, (size_t)BATCH * 6272 * 4);
    M.z = buf(be, ctx, BATCH * 10 * f);
    M.dz = buf(be, ctx, BATCH * 10 * f);
    M.loss = buf(be, ctx, f);
    lh_dmem **params[6] = {&M.w1, &M.b1, &M.w2, &M.b2, &M.fw, &M.fb};
    lh_dmem **grads[6] = {&M.dw1, &M.db1, &M.dw2, &M.db2, &M.dfw, &M.dfb};
    const float scale[6] = {1.0f / 3, 1.0f / 3, 1.0f / 24, 1.0f / 24, 1.0f / 79, 1.0f / 79};
    for (int i = 0; i < 6; i++) {
        *params[i] = buf(be, ctx, psize[i] * f);
        *grads[i] = buf(be, ctx, psize[i] * f);
        M.m[i] = buf(be, ctx, psize[i] * f);
        M.v[i] = buf(be, ctx, psize[i] * f);
        fill(be, ctx, *params[i], psize[i], scale[i], 11u + (unsigned)i);
    }
    /* Every step's sample indices go up at once, as the trainer uploads an epoch's order. */
    const int warm = 5, nidx = (warm + steps) * BATCH;
    lh_dmem *idx_all = buf(be, ctx, (size_t)nidx * 4);
    int32_t *idx = malloc((size_t)nidx * 4);
    for (int i = 0; i < nidx; i++)
        idx[i] = (int32_t)(((i / BATCH) * BATCH + (i % BATCH) * 7) % DATA);
    be->upload(ctx, idx_all, idx, (size_t)nidx * 4);
    free(idx);
    unsigned char *img = malloc((size_t)DATA * 784), lab[DATA];
    for (size_t i = 0; i < (size_t)DATA * 784; i++)
        img[i] = (unsigned char)((i * 2654435761u) >> 24);
    for (int i = 0; i < DATA; i++)
        lab[i] = (unsigned char)(i % 10);
    be->upload(ctx, M.images, img, (size_t)DATA * 784);
    be->upload(ctx, M.labels, lab, DATA);
    free(img);

    double *per_op = calloc((size_t)steps * NOPS, sizeof(double));
    double *total = calloc((size_t)steps, sizeof(double)), t[NOPS];
    sync_each = gpu;
    for (int s = -warm; s < steps; s++) {
        M.idx = lh_dmem_at(idx_all, (size_t)(s + warm) * BATCH * 4);
        double t0 = now_ms();
        step(be, ctx, &M, 1, fused, s + warm + 1, t);
        double dt = now_ms() - t0;
        if (s >= 0) {
            total[s] = dt;
            for (int o = 0; o < nops; o++)
                per_op[o * steps + s] = t[o];
        }
    }
    sync_each = 0;
    float loss;
    be->download(ctx, &loss, M.loss, sizeof loss);
    double mn = total[0], mx = total[0];
    for (int s = 0; s < steps; s++)
        mn = total[s] < mn ? total[s] : mn, mx = total[s] > mx ? total[s] : mx;
    printf("\n%s; %s\n", be->describe(ctx),
           fused ? "fused conv2d_relu_maxpool ops" : "single ops (conv, relu, maxpool apart)");
    double med = median(total, steps);
    printf("train step, batch %d%s: median %.3f ms (min %.3f, max %.3f over %d steps; "
           "last loss %.4f)\n",
           BATCH, gpu ? ", waiting after every op" : "", med, mn, mx, steps, (double)loss);
    printf("  -> 938 steps/epoch: %.2f s (compute only)\n", med * 938 / 1e3);
    for (int o = 0; o < nops; o++)
        printf("  %-20s %7.3f ms\n", op_names[o], median(per_op + (size_t)o * steps, steps));

    if (gpu) {
        /* As the trainer: queue a step, then one wait for the logits (and the loss). */
        float logits[BATCH * 10];
        double *host = calloc((size_t)steps, sizeof(double));
        for (int s = 0; s < steps; s++) {
            M.idx = lh_dmem_at(idx_all, (size_t)(s + warm) * BATCH * 4);
            double t0 = now_ms();
            step(be, ctx, &M, 1, fused, steps + warm + 1 + s, t);
            host[s] = now_ms() - t0;
            CHECK(be->download(ctx, logits, M.z, sizeof logits));
            CHECK(be->download(ctx, &loss, M.loss, sizeof loss));
            total[s] = now_ms() - t0;
        }
        double tr = median(total, steps);
        printf("train step as the trainer (queue, then wait for logits + loss): median %.3f ms "
               "(host queues it in %.3f ms) -> %.2f s per 938 steps\n",
               tr, median(host, steps), tr * 938 / 1e3);
        /* Queued: all steps back to back, one wait. */
        CHECK(be->sync(ctx));
        double t0 = now_ms();
        for (int s = 0; s < steps; s++) {
            M.idx = lh_dmem_at(idx_all, (size_t)(s + warm) * BATCH * 4);
            step(be, ctx, &M, 1, fused, 2 * steps + warm + 1 + s, t);
        }
        CHECK(be->sync(ctx));
        double q = (now_ms() - t0) / steps;
        printf("train step queued (%d steps, one wait): %.3f ms each -> %.2f s per 938 steps; "
               "the trainer's wait costs %.0f %%\n",
               steps, q, q * 938 / 1e3, 100.0 * (tr - q) / tr);
        free(host);
    }

    for (int s = 0; s < steps; s++) {
        M.idx = lh_dmem_at(idx_all, (size_t)s * BATCH * 4);
        double t0 = now_ms();
        step(be, ctx, &M, 0, fused, 1, t);
        if (gpu)
            CHECK(be->download(ctx, &loss, M.loss, sizeof loss));
        total[s] = now_ms() - t0;
    }
    double vmed = median(total, steps);
    printf("validation forward, batch %d: median %.3f ms -> 157 batches (10k): %.2f s\n", BATCH,
           vmed, vmed * 157 / 1e3);
    free(per_op);
    free(total);
    be->close(ctx);
}

int main(int argc, char **argv)
{
    const char *device = NULL;
    if (argc > 1 && strncmp(argv[1], "--device=", 9) == 0)
        device = argv[1] + 9, argc--, argv++;
    int steps = argc > 1 ? atoi(argv[1]) : 50;
    if (steps < 1 || (device && argc > 2)) {
        fprintf(stderr, "usage: bench_step [steps >= 1] [threads...] | "
                        "bench_step --device=cuda[:N] [steps >= 1]\n");
        return 2;
    }
    int threads[LH_MAX_ARGS] = {1, 2}, nt = device ? 1 : 2;
    if (argc > 2)
        for (nt = 0; nt + 2 < argc && nt < LH_MAX_ARGS; nt++)
            threads[nt] = atoi(argv[nt + 2]);
    for (int fused = 0; fused < 2; fused++)
        for (int i = 0; i < nt; i++)
            bench(device, threads[i], steps, fused);
    return 0;
}
