/* bench/bench_metrics.c — cost of one metric update() from metrics.so on a training batch of
 * 64 samples x 10 classes (the tutorial's batch), per metric, as a fraction of a training step.
 *
 * Run: cmake --build build --target bench_metrics metrics && build/bench/bench_metrics [step_ms]
 * step_ms (default 23) is the measured time of one training step to compare against. Prints, per
 * metric, the best of 5 timed runs of ITERS updates (ns per update) and that time / step. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lhost/lhost.h"

#define N 64
#define C 10
#define ITERS 50000
#define RUNS 5

static void quiet_error(lhost_ctx *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "bench_metrics: plugin error: %s\n", msg);
}

static const lhost_host host = {.struct_size = sizeof(lhost_host),
                                .abi = LHOST_ABI_VERSION_INIT,
                                .name = "bench_metrics",
                                .version = "0",
                                .set_error = quiet_error};

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Values for desc's schema: the defaults, with num_classes = C and top_k / average overridden
 * when given (NULL = default). */
static void make_values(const lhost_plugin_desc *d, const char *top_k, const char *average,
                        lhost_value *v, lhost_param_values *pv)
{
    uint32_t k, j;
    for (k = 0; k < d->n_params; k++) {
        const lhost_param *p = &d->params[k];
        const char *text = p->default_value;
        if (strcmp(p->name, "top_k") == 0 && top_k)
            text = top_k;
        if (strcmp(p->name, "average") == 0 && average)
            text = average;
        memset(&v[k], 0, sizeof v[k]);
        v[k].struct_size = sizeof v[k];
        v[k].type = p->type;
        v[k].name = p->name;
        v[k].is_set = text != NULL;
        v[k].s = text;
        if (text && p->type == LHOST_PARAM_ENUM)
            for (j = 0; p->choices[j]; j++)
                if (strcmp(p->choices[j], text) == 0)
                    v[k].i = j;
        if (text && (p->type == LHOST_PARAM_INT || p->type == LHOST_PARAM_FLOAT)) {
            v[k].f = strtod(text, NULL);
            v[k].i = (int64_t)v[k].f;
        }
    }
    pv->struct_size = sizeof *pv;
    pv->count = d->n_params;
    pv->values = v;
}

static double bench_one(const lhost_plugin_desc *d, const char *top_k, const char *average,
                        const float *scores, const int32_t *targets)
{
    const lhost_metric_vtable *vt = d->vtable;
    lhost_value v[16];
    lhost_param_values pv;
    const lhost_state_decl *decls;
    uint32_t n_decls, n_out, k;
    void *self, *bufs[8] = {0};
    lhost_metric_state st;
    lhost_metric_batch b = {sizeof b, N, C, 0, scores, targets};
    double best = 1e300;
    int run;
    long i;

    make_values(d, top_k, average, v, &pv);
    if (vt->create(&host, NULL, &pv, &self) != LHOST_OK ||
        vt->state_layout(self, &decls, &n_decls, &n_out) != LHOST_OK || n_decls > 8)
        exit(1);
    for (k = 0; k < n_decls; k++)
        bufs[k] = calloc(decls[k].length, 8);
    st.struct_size = sizeof st;
    st.count = n_decls;
    st.buffers = bufs;
    for (run = 0; run < RUNS; run++) {
        double t0 = now_ns(), dt;
        for (i = 0; i < ITERS; i++)
            if (vt->update(self, NULL, &st, &b) != LHOST_OK)
                exit(1);
        dt = (now_ns() - t0) / ITERS;
        if (dt < best)
            best = dt;
    }
    for (k = 0; k < n_decls; k++)
        free(bufs[k]);
    vt->destroy(self);
    return best;
}

int main(int argc, char **argv)
{
    const char *path = LH_REF_PLUGIN_DIR "/metrics.so";
    double step_ms = argc > 1 ? atof(argv[1]) : 23.0;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    lhost_entry_fn entry;
    lhost_version ver = LHOST_ABI_VERSION_INIT;
    const lhost_library *lib;
    static float scores[N * C]; /* (N, C) */
    static int32_t targets[N];
    unsigned seed = 1;
    uint32_t k;
    int i;

    if (!h) {
        fprintf(stderr, "bench_metrics: %s\n", dlerror());
        return 1;
    }
    *(void **)&entry = dlsym(h, LHOST_ENTRY_SYMBOL);
    lib = entry ? entry(&ver, &host) : NULL;
    if (!lib)
        return 1;
    for (i = 0; i < N * C; i++) {
        seed = seed * 1103515245u + 12345u;
        scores[i] = (float)((seed >> 16) & 0x7fff) / 32768.0f * 8.0f - 4.0f;
    }
    for (i = 0; i < N; i++)
        targets[i] = (i * 7) % C;

    printf("metric update cost: batch %d x %d logits, best of %d x %d updates, step %.1f ms\n",
           N, C, RUNS, ITERS, step_ms);
    printf("%-28s %12s %14s\n", "metric", "ns/update", "% of step");
    for (k = 0; k < lib->n_plugins; k++) {
        const lhost_plugin_desc *d = lib->plugins[k];
        double ns = bench_one(d, NULL, NULL, scores, targets);
        printf("%-28s %12.1f %13.5f%%\n", d->name, ns, 100.0 * ns / (step_ms * 1e6));
        if (strcmp(d->name, "accuracy") == 0) {
            ns = bench_one(d, "5", NULL, scores, targets);
            printf("%-28s %12.1f %13.5f%%\n", "accuracy top_k=5", ns,
                   100.0 * ns / (step_ms * 1e6));
        }
    }
    return 0;
}
