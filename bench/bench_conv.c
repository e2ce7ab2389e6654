/* bench/bench_conv.c — the tutorial's two conv+relu+maxpool blocks (batch 64) on the CPU
 * backend under each trainer.conv_algorithm, lhost's own Winograd with its output tile forced
 * to 2x2 and to 4x4 (wino-f2, wino-f4: the A/B behind conv_wino.c's rule; where oneDNN has a
 * Winograd kernel they run oneDNN's), and direct under bf16-mixed (skipped, saying so, on a CPU
 * the backend refuses it on): forward and backward, median and min ms.
 *
 * Run:  ./build/bench/bench_conv [reps=20] [threads=0] [algorithms=all, e.g. wino-f2,wino-f4]
 * conv1: 1->64, 28x28; conv2: 64->128, 14x14; 3x3 pad 1, maxpool 2. Inputs are fixed
 * pseudo-random values; each algorithm gets its own backend context (its own plan cache), and
 * the algorithms take turns rep by rep so a change in the machine's load hits all alike. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/backend.h"
#include "kernels/cpu/cpu.h"

enum { NALG = 7, MAXREPS = 200 };
static const char *const alg_names[NALG] = {"gemm",    "auto",    "direct", "winograd",
                                            "wino-f2", "wino-f4", "bf16"};
/* the last one: direct under trainer.precision bf16-mixed */
static const int32_t algs[NALG] = {LH_CONV_ALGO_GEMM,     LH_CONV_ALGO_AUTO,
                                   LH_CONV_ALGO_DIRECT,   LH_CONV_ALGO_WINOGRAD,
                                   LH_CONV_ALGO_WINOGRAD, LH_CONV_ALGO_WINOGRAD,
                                   LH_CONV_ALGO_DIRECT};
static const int32_t tiles[NALG] = {0, 0, 0, 0, 2, 4, 0}; /* ctx->wino_tile */

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return 1e3 * (double)t.tv_sec + 1e-6 * (double)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct block {
    const char *name;
    lh_conv_shape s;
    lh_pool_shape ps;
    float *x, *w, *b, *p, *dp, *dx, *dw, *db;
    int32_t *argmax;
} block;

static float *filled(size_t n, unsigned seed)
{
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        v[i] = (float)((seed >> 8) % 2001) / 1000.0f - 1.0f;
    }
    return v;
}

static void block_init(block *bl, const char *name, int c, int hw, int k)
{
    bl->name = name;
    bl->s = (lh_conv_shape){.n = 64, .c = c, .h = hw, .w = hw, .k = k, .r = 3, .s = 3,
                            .stride = 1, .pad = 1, .oh = hw, .ow = hw};
    bl->ps = (lh_pool_shape){.n = 64, .c = k, .h = hw, .w = hw, .size = 2, .stride = 2,
                             .oh = hw / 2, .ow = hw / 2};
    size_t nx = (size_t)64 * c * hw * hw, nw = (size_t)k * c * 9, np = (size_t)64 * k * hw * hw / 4;
    bl->x = filled(nx, 1), bl->w = filled(nw, 2), bl->b = filled((size_t)k, 3);
    bl->dp = filled(np, 4), bl->p = filled(np, 5), bl->dx = filled(nx, 6);
    bl->dw = filled(nw, 7), bl->db = filled((size_t)k, 8);
    bl->argmax = calloc(np, sizeof(int32_t));
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 20, threads = argc > 2 ? atoi(argv[2]) : 0;
    const char *only = argc > 3 ? argv[3] : NULL; /* comma-separated names, or all */
    const lh_backend *be = lh_cpu_backend();
    lh_backend_ctx *ctx[NALG] = {0};
    block blocks[2];
    char err[256];
    if (reps < 1 || reps > MAXREPS) {
        fprintf(stderr, "bench_conv: reps: expected 1 to %d, got %d\n", MAXREPS, reps);
        return 2;
    }
    block_init(&blocks[0], "conv1", 1, 28, 64);
    block_init(&blocks[1], "conv2", 64, 14, 128);
    for (int a = 0; a < NALG; a++) {
        size_t len = strlen(alg_names[a]);
        const char *at = only ? strstr(only, alg_names[a]) : NULL;
        if (only && !(at && (at == only || at[-1] == ',') && (at[len] == ',' || !at[len])))
            continue;
        int32_t prec = a == NALG - 1 ? LH_PRECISION_BF16_MIXED : LH_PRECISION_32;
        if ((ctx[a] = be->open(0, threads, err, sizeof err)) && prec != LH_PRECISION_32 &&
            be->configure(ctx[a], algs[a], prec)) { /* a CPU without bf16 kernels refuses it */
            printf("%s: skipped: %s\n", alg_names[a], be->last_error(ctx[a]));
            be->close(ctx[a]);
            ctx[a] = NULL;
            continue;
        }
        if (!ctx[a] || be->configure(ctx[a], algs[a], prec)) {
            fprintf(stderr, "bench_conv: %s: %s\n", alg_names[a], ctx[a] ? be->last_error(ctx[a])
                                                                        : err);
            return 1;
        }
        ctx[a]->wino_tile = tiles[a];
    }
    int base = 0; /* the ratios' reference: gemm, or the first one run */
    while (base < NALG && !ctx[base])
        base++;
    if (base == NALG) {
        fprintf(stderr, "bench_conv: no algorithm named in \"%s\"\n", only);
        return 2;
    }
    printf("%s; %d reps, median (min) ms\n", be->describe(ctx[base]), reps);
    for (int bi = 0; bi < 2; bi++) {
        block *bl = &blocks[bi];
        static double fwd[NALG][MAXREPS], bwd[NALG][MAXREPS];
        for (int r = -2; r < reps; r++) /* two warm-up rounds (plans, auto's measurement) */
            for (int a = 0; a < NALG; a++) {
                if (!ctx[a])
                    continue;
                lh_dmem *dx = bi ? (lh_dmem *)bl->dx : NULL;
                double t0 = now_ms();
                if (be->conv2d_relu_maxpool_forward(ctx[a], &bl->s, &bl->ps, (lh_dmem *)bl->x,
                                                    (lh_dmem *)bl->w, (lh_dmem *)bl->b,
                                                    (lh_dmem *)bl->p, (lh_dmem *)bl->argmax)) {
                    fprintf(stderr, "bench_conv: %s\n", be->last_error(ctx[a]));
                    return 1;
                }
                double t1 = now_ms();
                if (be->conv2d_relu_maxpool_backward(ctx[a], &bl->s, &bl->ps, (lh_dmem *)bl->x,
                                                     (lh_dmem *)bl->w, (lh_dmem *)bl->p,
                                                     (lh_dmem *)bl->argmax, (lh_dmem *)bl->dp,
                                                     dx, (lh_dmem *)bl->dw, (lh_dmem *)bl->db)) {
                    fprintf(stderr, "bench_conv: %s\n", be->last_error(ctx[a]));
                    return 1;
                }
                if (r >= 0)
                    fwd[a][r] = t1 - t0, bwd[a][r] = now_ms() - t1;
            }
        for (int a = 0; a < NALG; a++) {
            if (!ctx[a])
                continue;
            qsort(fwd[a], (size_t)reps, sizeof(double), cmp_d);
            qsort(bwd[a], (size_t)reps, sizeof(double), cmp_d);
            printf("%-6s %-9s forward %7.2f (%7.2f)  backward %7.2f (%7.2f)  (x%.2f of %s)\n",
                   bl->name, alg_names[a], fwd[a][reps / 2], fwd[a][0], bwd[a][reps / 2],
                   bwd[a][0], (fwd[a][reps / 2] + bwd[a][reps / 2]) /
                                  (fwd[base][reps / 2] + bwd[base][reps / 2]),
                   alg_names[base]);
        }
    }
    for (int a = 0; a < NALG; a++)
        if (ctx[a])
            be->close(ctx[a]);
    return 0;
}
