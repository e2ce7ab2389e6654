/* bench/bench_tensors.c — the cost per call of the ABI 1.1 tensor services on the seed model
 * (conv 1->64, conv 64->128, linear 6272->10: 137,226 parameters in 6 tensors) on the CPU
 * backend: what host->tensor_read / tensor_write / grad_norm / grad_scale / clip_grad_norm /
 * clip_grad_value cost a plugin (each is host/nn/model_tensors.c behind a forwarding call), and
 * an empty hook dispatch (a hook no loaded plugin implements, as the three per-step hooks ABI 1.1
 * added are for 1.0 plugins). Medians over `calls` calls.
 * Run:  ./build/bench/bench_tensors [calls=200] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "config.h"
#include "dispatch.h"
#include "model.h"

static const char seed_model[] =
    "model:\n  layers:\n"
    "    - {type: conv2d, name: conv1.0, out_channels: 64, kernel_size: 3, padding: 1}\n"
    "    - relu\n    - {type: maxpool2d, kernel_size: 2}\n"
    "    - {type: conv2d, name: conv2.0, out_channels: 128, kernel_size: 3, padding: 1}\n"
    "    - relu\n    - {type: maxpool2d, kernel_size: 2}\n"
    "    - flatten\n    - {type: linear, name: fc, out_features: 10}\n";

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec * 1e-3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define TIME(label, call)                                                                      \
    do {                                                                                       \
        for (i = 0; i < calls; i++) {                                                          \
            double t0 = now_us();                                                              \
            if ((call) != 0) {                                                                 \
                fprintf(stderr, "bench_tensors: %s failed: %s\n", label, err.msg);             \
                return 1;                                                                      \
            }                                                                                  \
            times[i] = now_us() - t0;                                                          \
        }                                                                                      \
        qsort(times, (size_t)calls, sizeof *times, cmp_double);                                \
        printf("| %-44s | %10.2f |\n", label, times[calls / 2]);                              \
    } while (0)

int main(int argc, char **argv)
{
    int calls = argc > 1 ? atoi(argv[1]) : 200, i;
    const lh_backend *be = lh_cpu_backend();
    char why[256];
    lh_backend_ctx *ctx = be->open(0, 1, why, sizeof why);
    lh_config *cfg;
    lh_model_spec spec;
    lh_model m;
    lh_error err = {{0}};
    lh_dispatch *d;
    double *times = malloc((size_t)(calls > 0 ? calls : 1) * sizeof *times), total;
    float *buf;
    if (!ctx || calls < 1 || lh_config_load_string(&cfg, "m.yaml", seed_model, &err) ||
        lh_model_spec_from_cfg(lh_config_get(lh_config_root(cfg), "model"), 1, 28, 28, &spec,
                               &err)) {
        fprintf(stderr, "bench_tensors: setup: %s%s\n", ctx ? "" : why, err.msg);
        return 1;
    }
    memset(&m, 0, sizeof m);
    if (lh_model_plan(&m, &spec, &err) || lh_model_alloc(&m, be, ctx, 64, &err) ||
        be->zero(ctx, m.grad, (size_t)m.total_params * 4) ||
        lh_dispatch_create(&d, NULL, 0, &err)) {
        fprintf(stderr, "bench_tensors: %s\n", err.msg);
        return 1;
    }
    buf = malloc((size_t)m.total_params * 4);
    printf("seed model, %lld parameters in %d tensors, CPU backend; median of %d calls\n\n",
           (long long)m.total_params, (int)m.n_params, calls);
    printf("| %-44s | %10s |\n|---|---|\n", "call", "us");
    TIME("hook dispatch, no plugin implements it", lh_dispatch_hook(d, LH_HOOK_AFTER_BACKWARD,
                                                                     NULL, &err));
    TIME("tensor_read fc.weight (62,720 floats)", lh_model_tensor_read(&m, m.param, 4, buf, &err));
    TIME("tensor_read conv1.0.bias (64 floats)", lh_model_tensor_read(&m, m.param, 1, buf, &err));
    TIME("tensor_write fc.weight", lh_model_tensor_write(&m, 4, buf, &err));
    TIME("grad_norm p=2 (all 6 tensors + total)", lh_model_grad_norm(&m, 2.0, NULL, &total, &err));
    TIME("grad_norm p=inf", lh_model_grad_norm(&m, INFINITY, NULL, &total, &err));
    TIME("grad_scale", lh_model_grad_scale(&m, 1.0, &err));
    TIME("clip_grad_norm (no clip needed)", lh_model_clip_grad_norm(&m, 1e9, 2.0, NULL, &err));
    TIME("clip_grad_norm (clips)", lh_model_clip_grad_norm(&m, 0.0, 2.0, NULL, &err));
    TIME("clip_grad_value", lh_model_clip_grad_value(&m, 1.0, &err));
    free(buf);
    free(times);
    lh_dispatch_destroy(d);
    lh_model_free(&m);
    lh_config_free(cfg);
    be->close(ctx);
    return 0;
}
