/* plugins/grad_norm/grad_norm.c — Lightning's grad_norm utility as a callback: in
 * on_before_optimizer_step (where Lightning's docs call it) every parameter's gradient p-norm and
 * the p-norm of those norms are logged under Lightning's keys
 *
 *   grad_<p>_norm/<param>   e.g. grad_2.0_norm/fc.weight, grad_inf_norm/conv.bias
 *   grad_<p>_norm_total
 *
 * where <p> is Python's str(float(norm_type)) ("2.0", "1.5", "inf") and "/" the
 * group_separator, on the steps Lightning's logger connector writes (every
 * trainer.log_every_n_steps). The norms come from host->grad_norm, computed as torch does on
 * the model's device (one call per logged step; no gradient leaves the device, only one double
 * per tensor). Config:
 *   callbacks: {grad_norm: {norm_type: 2}} */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lhost/lhost.h>

typedef struct gnorm {
    const lhost_host *host;
    double p;
    char prefix[64]; /* "grad_2.0_norm" */
    char sep[16];
    int32_t n;       /* tensors */
    double *per;     /* n norms */
    char **keys;     /* n + 1 keys, the total last */
} gnorm;

/* Python's repr of a finite double (the shortest text that reads back, exponent outside
 * 1e-4 <= |x| < 1e16, ".0" on whole numbers), or "inf", as f"{float(x)}" prints it. */
static void py_float(double x, char *out, size_t cap)
{
    char e[40], digits[24];
    int prec, exp, nd = 0;
    const char *c;
    if (isinf(x)) {
        snprintf(out, cap, "%sinf", x < 0 ? "-" : "");
        return;
    }
    for (prec = 0; prec < 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec, x);
        if (strtod(e, NULL) == x)
            break;
    }
    for (c = e; *c && *c != 'e'; c++)
        if (*c >= '0' && *c <= '9')
            digits[nd++] = *c;
    digits[nd] = '\0';
    exp = atoi(c + 1);
    if (exp >= -4 && exp < 16) {
        int decimals = nd - 1 - exp > 0 ? nd - 1 - exp : 0;
        snprintf(out, cap, "%.*f%s", decimals, x, decimals ? "" : ".0");
    } else {
        snprintf(out, cap, "%s%c%s%s%se%c%02d", x < 0 ? "-" : "", digits[0], nd > 1 ? "." : "",
                 digits + 1, "", exp < 0 ? '-' : '+', abs(exp));
    }
}

static void gn_destroy(void *self)
{
    gnorm *g = self;
    int32_t i;
    if (g->keys)
        for (i = 0; i <= g->n; i++)
            g->host->free(g->keys[i]);
    g->host->free(g->keys);
    g->host->free(g->per);
    g->host->free(g);
}

static int32_t gn_create(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *p,
                         void **self)
{
    gnorm *g;
    char num[40];
    if (!LHOST_HOST_HAS(host, grad_norm) || !LHOST_HOST_HAS(host, tensor_info)) {
        host->set_error(ctx, "this host has no gradient services (ABI 1.1 or newer needed)");
        return LHOST_ERROR;
    }
    if (!(g = host->alloc(sizeof *g)))
        return LHOST_ENOMEM;
    memset(g, 0, sizeof *g);
    g->host = host;
    g->p = lhost_param_float(p, "norm_type", 2.0);
    if (!(g->p > 0)) { /* the schema's minimum is inclusive; Lightning refuses 0 too */
        host->set_error(ctx, "norm_type: expected a positive number or inf (Lightning's "
                             "grad_norm refuses norm_type <= 0)");
        host->free(g);
        return LHOST_ERROR;
    }
    py_float(g->p, num, sizeof num);
    snprintf(g->prefix, sizeof g->prefix, "grad_%s_norm", num);
    snprintf(g->sep, sizeof g->sep, "%s", lhost_param_string(p, "group_separator", "/"));
    *self = g;
    return LHOST_OK;
}

/* The keys, once: the tensors' names are the host's for the whole run. */
static int32_t make_keys(gnorm *g, lhost_ctx *ctx)
{
    lhost_tensor_info ti;
    int32_t i, rc, n = 0;
    size_t len;
    if ((rc = g->host->tensor_count(ctx, &n)) != LHOST_OK)
        return rc;
    if (!(g->per = g->host->alloc((uint64_t)(n > 0 ? n : 1) * sizeof(double))) ||
        !(g->keys = g->host->alloc((uint64_t)(n + 1) * sizeof(char *))))
        return LHOST_ENOMEM;
    memset(g->keys, 0, (size_t)(n + 1) * sizeof(char *));
    g->n = n;
    for (i = 0; i <= n; i++) {
        const char *name = "";
        if (i < n) {
            memset(&ti, 0, sizeof ti);
            ti.struct_size = sizeof ti;
            if ((rc = g->host->tensor_info(ctx, i, &ti)) != LHOST_OK)
                return rc;
            name = ti.name;
        }
        len = strlen(g->prefix) + strlen(g->sep) + strlen(name) + 8;
        if (!(g->keys[i] = g->host->alloc(len)))
            return LHOST_ENOMEM;
        if (i < n)
            snprintf(g->keys[i], len, "%s%s%s", g->prefix, g->sep, name);
        else
            snprintf(g->keys[i], len, "%s_total", g->prefix);
    }
    return LHOST_OK;
}

static int32_t gn_before_optimizer_step(void *self, lhost_ctx *ctx)
{
    gnorm *g = self;
    lhost_trainer_state st;
    double total = 0, every = 1;
    int32_t i, rc;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    g->host->trainer_state(ctx, &st);
    g->host->get_hparam(ctx, "log_every_n_steps", &every);
    /* Lightning writes on-step values every log_every_n_steps (this is step global_step + 1):
     * on the other steps nothing would be written, so nothing is computed */
    if (every >= 1 && (st.global_step + 1) % (int64_t)every != 0)
        return LHOST_OK;
    if (!g->keys && (rc = make_keys(g, ctx)) != LHOST_OK)
        return rc;
    if ((rc = g->host->grad_norm(ctx, g->p, g->per, &total)) != LHOST_OK)
        return rc;
    for (i = 0; i < g->n; i++)
        g->host->log_value(ctx, g->keys[i], (double)(float)g->per[i], LHOST_LOGF_ON_STEP);
    /* as Lightning logs them: float32 tensors (the total is torch.tensor(norms).norm(p)) */
    g->host->log_value(ctx, g->keys[g->n], (double)(float)total, LHOST_LOGF_ON_STEP);
    return LHOST_OK;
}

static const lhost_param params[] = {
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "norm_type",
     "the p of the p-norm: any positive number, or inf (max |g|)", "2", NULL, 0, 0,
     LHOST_PARAM_HAS_MIN},
    {sizeof(lhost_param), LHOST_PARAM_STRING, "group_separator",
     "between the key's group and the parameter name, as Lightning's", "/", NULL, 0, 0, 0},
};

static const lhost_callback_vtable vtable = {
    .struct_size = sizeof(lhost_callback_vtable),
    .create = gn_create,
    .destroy = gn_destroy,
    .on_before_optimizer_step = gn_before_optimizer_step,
};

static const lhost_plugin_desc desc = {
    sizeof(lhost_plugin_desc), LHOST_KIND_CALLBACK, "org.lhost.grad_norm", "grad_norm", "1.0.0",
    "log each parameter's gradient p-norm and their total (Lightning's grad_norm)", params,
    sizeof params / sizeof params[0], LHOST_PRIORITY_DEFAULT, &vtable,
};

LHOST_PLUGIN_LIBRARY(&desc);
