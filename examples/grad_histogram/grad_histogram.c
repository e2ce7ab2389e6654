/* examples/grad_histogram/grad_histogram.c — a callback that uses the ABI 1.1 tensor services:
 * in on_before_optimizer_step (where Lightning users log gradient histograms and norms) it reads
 * every parameter's gradient into its own memory and logs, per parameter, the fraction of
 * elements whose log10 |g| falls in each of `bins` equal bins over [lo, hi) (values below lo
 * count in bin 0, at or above hi in the last), and the largest |g|:
 *
 *   grad_hist/<param>/<k>   k = 0 .. bins-1, fractions summing to 1
 *   grad_absmax/<param>
 *
 * every `every_n_steps` optimizer steps (the row metrics.csv writes then). Nothing is copied on
 * the other steps. Build: see CMakeLists.txt / Makefile; config:
 *   callbacks: {grad_histogram: {bins: 4, lo: -8, hi: 0, every_n_steps: 20}} */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lhost/lhost.h>

typedef struct hist {
    const lhost_host *host;
    int32_t bins;
    double lo, hi;
    int64_t every;
    float *buf;       /* the largest gradient, reused */
    uint64_t buf_len;
} hist;

static int32_t gh_create(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *p,
                         void **self)
{
    hist *h;
    /* The tensor services are since ABI 1.1: say so on an older host instead of crashing. */
    if (!LHOST_HOST_HAS(host, tensor_read) || !LHOST_HOST_HAS(host, tensor_info)) {
        host->set_error(ctx, "this host has no tensor services (ABI 1.1 or newer needed)");
        return LHOST_ERROR;
    }
    if (!(h = host->alloc(sizeof *h)))
        return LHOST_ENOMEM;
    memset(h, 0, sizeof *h);
    h->host = host;
    h->bins = (int32_t)lhost_param_int(p, "bins", 4);
    h->lo = lhost_param_float(p, "lo", -8.0);
    h->hi = lhost_param_float(p, "hi", 0.0);
    h->every = lhost_param_int(p, "every_n_steps", 50);
    if (!(h->hi > h->lo)) {
        host->set_error(ctx, "hi must be greater than lo");
        host->free(h);
        return LHOST_ERROR;
    }
    *self = h;
    return LHOST_OK;
}

static void gh_destroy(void *self)
{
    hist *h = self;
    h->host->free(h->buf);
    h->host->free(h);
}

/* One parameter: its gradient into h->buf, then the bins and the max. */
static int32_t log_tensor(hist *h, lhost_ctx *ctx, int32_t i)
{
    lhost_tensor_info ti;
    double counts[64] = {0}, absmax = 0;
    char key[160];
    int64_t k;
    int32_t b, rc;
    memset(&ti, 0, sizeof ti);
    ti.struct_size = sizeof ti;
    if ((rc = h->host->tensor_info(ctx, i, &ti)) != LHOST_OK)
        return rc;
    if ((uint64_t)ti.numel > h->buf_len) {
        h->host->free(h->buf);
        if (!(h->buf = h->host->alloc((uint64_t)ti.numel * 4)))
            return LHOST_ENOMEM;
        h->buf_len = (uint64_t)ti.numel;
    }
    if ((rc = h->host->tensor_read(ctx, i, LHOST_TENSOR_GRAD, h->buf, (uint64_t)ti.numel)) !=
        LHOST_OK)
        return rc; /* the host recorded why */
    for (k = 0; k < ti.numel; k++) {
        double a = fabs((double)h->buf[k]);
        double pos = a > 0 ? (log10(a) - h->lo) / (h->hi - h->lo) * h->bins : -1;
        b = pos < 0 ? 0 : pos >= h->bins ? h->bins - 1 : (int32_t)pos;
        counts[b] += 1;
        if (a > absmax)
            absmax = a;
    }
    for (b = 0; b < h->bins; b++) {
        snprintf(key, sizeof key, "grad_hist/%s/%d", ti.name, (int)b);
        h->host->log_value(ctx, key, counts[b] / (double)ti.numel, LHOST_LOGF_ON_STEP);
    }
    snprintf(key, sizeof key, "grad_absmax/%s", ti.name);
    h->host->log_value(ctx, key, absmax, LHOST_LOGF_ON_STEP);
    return LHOST_OK;
}

static int32_t gh_before_optimizer_step(void *self, lhost_ctx *ctx)
{
    hist *h = self;
    lhost_trainer_state st;
    int32_t n = 0, i, rc;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    h->host->trainer_state(ctx, &st);
    /* global_step counts steps taken: this is step global_step + 1, logged in its row. */
    if ((st.global_step + 1) % h->every != 0)
        return LHOST_OK;
    if ((rc = h->host->tensor_count(ctx, &n)) != LHOST_OK)
        return rc;
    for (i = 0; i < n; i++)
        if ((rc = log_tensor(h, ctx, i)) != LHOST_OK)
            return rc;
    return LHOST_OK;
}

static const lhost_param params[] = {
    {sizeof(lhost_param), LHOST_PARAM_INT, "bins", "histogram bins over [lo, hi) in log10 |g|",
     "4", NULL, 1, 64, LHOST_PARAM_HAS_MIN | LHOST_PARAM_HAS_MAX},
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "lo", "log10 of the smallest binned |g|", "-8",
     NULL, 0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "hi", "log10 of the largest binned |g|", "0", NULL,
     0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_INT, "every_n_steps", "log every N optimizer steps", "50",
     NULL, 1, 0, LHOST_PARAM_HAS_MIN},
};

static const lhost_callback_vtable vtable = {
    .struct_size = sizeof(lhost_callback_vtable),
    .create = gh_create,
    .destroy = gh_destroy,
    .on_before_optimizer_step = gh_before_optimizer_step, /* since ABI 1.1 */
};

static const lhost_plugin_desc desc = {
    sizeof(lhost_plugin_desc), LHOST_KIND_CALLBACK, "org.lhost.examples.grad_histogram",
    "grad_histogram", "1.0.0", "log a histogram of each parameter's gradient (log10 |g|)",
    params, sizeof params / sizeof params[0], LHOST_PRIORITY_DEFAULT, &vtable,
};

static const lhost_plugin_desc *const plugins[] = {&desc};
static const lhost_library library = {sizeof(lhost_library), LHOST_ABI_VERSION_INIT, NULL, 1,
                                      plugins};

LHOST_EXPORT const lhost_library *lhost_plugin_entry(const lhost_version *abi,
                                                     const lhost_host *host)
{
    return &library;
}
