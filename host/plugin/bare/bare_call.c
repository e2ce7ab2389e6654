/* host/plugin/bare/bare_call.c — the host side of a bare plugin's calls: the synthesized
 * create/destroy, one trampoline per hook (generated from LH_HOOK_MAP) that binds the declared
 * arguments by name (trainer fields through host->trainer_state, everything else through
 * host->get_value), calls the plain function through libffi and maps its int to LHOST_OK /
 * LHOST_STOP / LHOST_ERROR; and the metric vtable that keeps a sample-weighted mean of the
 * function's per-batch value in two host-owned F64 SUM buffers. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bare_impl.h"
#include "dispatch.h"
#include "instance.h"

/* One plugin instance: made by the create() closure, freed by destroy. */
typedef struct bare_inst {
    const lh_bare_lib *lib;
    const lh_bare_fn *fn; /* metric instances: the function to call */
    const lhost_host *host;
    lhost_ctx *ctx;
} bare_inst;

/* Storage for one argument value; libffi reads it through avalues[i]. */
typedef union bare_slot {
    int32_t i32;
    int64_t i64;
    double f64;
    float f32;
    uint8_t b;
    const char *s;
    const void *p;
} bare_slot;

static int32_t fail(const bare_inst *in, lhost_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int32_t fail(const bare_inst *in, lhost_ctx *ctx, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (in->host && in->host->set_error)
        in->host->set_error(ctx, msg);
    return LHOST_ERROR;
}

void lh_bare_create_closure(ffi_cif *cif, void *ret, void **args, void *user)
{
    const lh_bare_binding *b = user;
    const lhost_host *host = *(const lhost_host *const *)args[0];
    lhost_ctx *ctx = *(lhost_ctx *const *)args[1];
    void **self = *(void **const *)args[3];
    bare_inst *in = calloc(1, sizeof *in);
    (void)cif;
    if (!in) {
        if (host && host->set_error)
            host->set_error(ctx, "out of memory");
        *(ffi_sarg *)ret = LHOST_ENOMEM;
        return;
    }
    in->lib = b->lib;
    in->fn = b->fn;
    in->host = host;
    in->ctx = ctx;
    *self = in;
    *(ffi_sarg *)ret = LHOST_OK;
}

static void bare_destroy(void *self)
{
    free(self);
}

/* ---- callback hooks ------------------------------------------------------------------- */

/* Integer trainer field -> declared type. */
static int put_int(int64_t v, int32_t type, bare_slot *s)
{
    switch (type) {
    case LH_BT_INT32:
        if (v < INT32_MIN || v > INT32_MAX)
            return -1;
        s->i32 = (int32_t)v;
        return 0;
    case LH_BT_INT64: s->i64 = v; return 0;
    case LH_BT_DOUBLE: s->f64 = (double)v; return 0;
    case LH_BT_FLOAT: s->f32 = (float)v; return 0;
    case LH_BT_BOOL: s->b = v != 0; return 0;
    default: return -1;
    }
}

/* Logged value -> declared type; integers are rounded toward zero and must fit. */
static int put_double(double v, int32_t type, bare_slot *s)
{
    switch (type) {
    case LH_BT_INT32:
        if (!(v > -2147483649.0 && v < 2147483648.0))
            return -1;
        s->i32 = (int32_t)v;
        return 0;
    case LH_BT_INT64:
        if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0))
            return -1;
        s->i64 = (int64_t)v;
        return 0;
    case LH_BT_DOUBLE: s->f64 = v; return 0;
    case LH_BT_FLOAT: s->f32 = (float)v; return 0;
    case LH_BT_BOOL: s->b = v != 0; return 0;
    default: return -1;
    }
}

static const char *stage_name(int32_t stage)
{
    switch (stage) {
    case LHOST_STAGE_FIT: return "fit";
    case LHOST_STAGE_VALIDATE: return "validate";
    case LHOST_STAGE_PREDICT: return "predict";
    default: return "unknown";
    }
}

/* Integer trainer field number f (see lh_bare_fn.field). */
static int64_t trainer_field(const lhost_trainer_state *ts, int32_t f)
{
    switch (f) {
    case 0: return ts->epoch;
    case 1: return ts->global_step;
    case 2: return ts->batch_idx;
    case 3: return ts->rank;
    case 4: return ts->world_size;
    default: return ts->max_epochs;
    }
}

/* Collects "a, b, c" for the "no value logged" message. */
typedef struct key_list {
    char buf[512];
    size_t at;
    int32_t n;
} key_list;

static int32_t add_key(void *user, const char *key, double value)
{
    key_list *kl = user;
    int w;
    (void)value;
    if (kl->at + 4 >= sizeof kl->buf)
        return 1;
    w = snprintf(kl->buf + kl->at, sizeof kl->buf - kl->at, "%s%s", kl->n ? ", " : "", key);
    if (w < 0 || (size_t)w >= sizeof kl->buf - kl->at - 4) {
        snprintf(kl->buf + kl->at, sizeof kl->buf - kl->at, "%s...", kl->n ? ", " : "");
        kl->at = sizeof kl->buf;
        return 1;
    }
    kl->at += (size_t)w;
    kl->n++;
    return 0;
}

/* A logged-value argument: host->get_value under the argument's name, converted. */
static int32_t bind_value(const bare_inst *in, lhost_ctx *ctx, const char *hname,
                          const lh_bare_arg *a, bare_slot *slot)
{
    const lhost_host *host = in->host;
    double v = 0;
    if (!host->get_value || host->get_value(ctx, a->name, &v) != LHOST_OK) {
        key_list kl;
        memset(&kl, 0, sizeof kl);
        if (host->list_values)
            host->list_values(ctx, add_key, &kl);
        return fail(in, ctx, "%s: argument '%s': no value logged under that name "
                    "(logged: %s)", hname, a->name, kl.n ? kl.buf : "nothing yet");
    }
    if (put_double(v, a->type, slot))
        return fail(in, ctx, "%s: argument '%s': value %g does not fit %s", hname, a->name, v,
                    lh_bare_type_name(a->type));
    return LHOST_OK;
}

/* A trainer-field argument (field number f) from the trainer state `ts`, converted. */
static int32_t bind_field(const bare_inst *in, lhost_ctx *ctx, const char *hname,
                          const lh_bare_arg *a, int32_t f, const lhost_trainer_state *ts,
                          bare_slot *slot)
{
    if (a->type == LH_BT_STRING) /* the parser allows const char * only for stage */
        slot->s = stage_name(ts->stage);
    else if (put_int(trainer_field(ts, f), a->type, slot))
        return fail(in, ctx, "%s: argument '%s': %lld does not fit %s", hname, a->name,
                    (long long)trainer_field(ts, f), lh_bare_type_name(a->type));
    return LHOST_OK;
}

/* The plain function's int as a hook status: 0 continue, 1 stop (through request_stop too),
 * < 0 error. */
static int32_t hook_status(const bare_inst *in, lhost_ctx *ctx, const lh_bare_decl *d, int32_t r)
{
    if (r == 0)
        return LHOST_OK;
    if (r == 1) {
        if (in->host->request_stop) {
            char why[300];
            snprintf(why, sizeof why, "%s.%s returned 1", in->lib->stem, d->symbol);
            in->host->request_stop(ctx, why);
        }
        return LHOST_STOP;
    }
    if (r < 0)
        return fail(in, ctx, "%s returned %d", d->symbol, r);
    return fail(in, ctx, "%s returned %d (expected 0, 1 or < 0)", d->symbol, r);
}

/* Every trampoline's body: bind the declared arguments of `hook`'s function, call it. The
 * trainer state is read once, on the first argument that needs it; a hook given batch info
 * (kind BATCH) binds batch_idx to that batch. */
static int32_t call_hook(void *self, lhost_ctx *ctx, int32_t hook, const lhost_batch_info *batch)
{
    const bare_inst *in = self;
    const lhost_host *host = in->host;
    const lh_bare_fn *fn = in->lib->hook_fn[hook];
    const lh_bare_decl *d = fn->decl;
    const char *hname = lh_dispatch_hook_name(hook);
    bare_slot slots[LH_BARE_MAX_ARGS];
    void *avalues[LH_BARE_MAX_ARGS];
    lhost_trainer_state ts;
    int32_t i, have_ts = 0, st;
    ffi_sarg rc = 0;

    for (i = 0; i < d->n_args; i++) {
        const lh_bare_arg *a = &d->args[i];
        avalues[i] = &slots[i];
        if (fn->field[i] >= 0 && !have_ts) {
            memset(&ts, 0, sizeof ts);
            ts.struct_size = sizeof ts;
            if (!host->trainer_state || host->trainer_state(ctx, &ts) != LHOST_OK)
                return fail(in, ctx, "%s: argument '%s': this host gives no trainer state",
                            hname, a->name);
            if (batch)
                ts.batch_idx = batch->batch_idx;
            have_ts = 1;
        }
        st = fn->field[i] >= 0 ? bind_field(in, ctx, hname, a, fn->field[i], &ts, &slots[i])
                               : bind_value(in, ctx, hname, a, &slots[i]);
        if (st != LHOST_OK)
            return st;
    }
    ffi_call((ffi_cif *)&fn->cif, FFI_FN(fn->sym), &rc, avalues);
    return hook_status(in, ctx, d, (int32_t)rc);
}

/* One trampoline per hook, tr_<member>, with its kind's signature: the vtable member the
 * dispatcher calls for this library's declaration of that hook. */
#define TRAMPOLINE_CTX(ID, member)                                                             \
    static int32_t tr_##member(void *self, lhost_ctx *ctx)                                     \
    {                                                                                          \
        return call_hook(self, ctx, LH_HOOK_##ID, NULL);                                       \
    }
#define TRAMPOLINE_BATCH(ID, member)                                                           \
    static int32_t tr_##member(void *self, lhost_ctx *ctx, const lhost_batch_info *batch)      \
    {                                                                                          \
        return call_hook(self, ctx, LH_HOOK_##ID, batch);                                      \
    }
#define TRAMPOLINE(ID, member, KIND) TRAMPOLINE_##KIND(ID, member)
LH_HOOK_MAP(TRAMPOLINE)
#undef TRAMPOLINE
#undef TRAMPOLINE_BATCH
#undef TRAMPOLINE_CTX

void lh_bare_fill_callback_vtable(lh_bare_lib *lib, lhost_callback_vtable *vt)
{
    vt->destroy = bare_destroy;
    /* only the declared hooks: the dispatcher skips NULL members */
#define FILL(ID, member, KIND) vt->member = lib->hook_fn[LH_HOOK_##ID] ? tr_##member : NULL;
    LH_HOOK_MAP(FILL)
#undef FILL
    /* stateless: no on_exception, state_save or state_restore */
}

/* ---- metrics -------------------------------------------------------------------------- */

static const lhost_state_decl metric_state[2] = {
    {.struct_size = sizeof(lhost_state_decl), .name = "sum", .dtype = LHOST_DTYPE_F64,
     .reduction = LHOST_REDUCE_SUM, .length = 1},
    {.struct_size = sizeof(lhost_state_decl), .name = "count", .dtype = LHOST_DTYPE_F64,
     .reduction = LHOST_REDUCE_SUM, .length = 1}};

static int32_t metric_layout(void *self, const lhost_state_decl **decls, uint32_t *n_decls,
                             uint32_t *n_outputs)
{
    (void)self;
    *decls = metric_state;
    *n_decls = 2;
    *n_outputs = 1;
    return LHOST_OK;
}

static int32_t metric_update(void *self, lhost_ctx *ctx, const lhost_metric_state *state,
                             const lhost_metric_batch *batch)
{
    const bare_inst *in = self;
    const lh_bare_decl *d = in->fn->decl;
    double v = 0, *sum, *count;
    int64_t n = batch->n;
    int32_t num_classes = batch->num_classes;
    const float *scores = batch->scores;
    const int32_t *targets = batch->targets;
    void *avalues[4] = {&scores, &targets, &n, &num_classes};
    if (state->count < 2)
        return fail(in, ctx, "metric %s: expected 2 state buffers, got %u", d->metric,
                    state->count);
    if (n <= 0)
        return LHOST_OK;
    ffi_call((ffi_cif *)&in->fn->cif, FFI_FN(in->fn->sym), &v, avalues);
    if (!isfinite(v))
        return fail(in, ctx, "metric %s: %s returned %g for a batch of %lld samples",
                    d->metric, d->symbol, v, (long long)n);
    sum = state->buffers[0];
    count = state->buffers[1];
    sum[0] += v * (double)n;
    count[0] += (double)n;
    return LHOST_OK;
}

static int32_t metric_compute(void *self, lhost_ctx *ctx, const lhost_metric_state *state,
                              double *out)
{
    const double *sum, *count;
    if (state->count < 2)
        return fail(self, ctx, "metric %s: expected 2 state buffers, got %u",
                    ((const bare_inst *)self)->fn->decl->metric, state->count);
    sum = state->buffers[0];
    count = state->buffers[1];
    out[0] = count[0] > 0 ? sum[0] / count[0] : NAN;
    return LHOST_OK;
}

void lh_bare_fill_metric_vtable(lhost_metric_vtable *vt)
{
    vt->destroy = bare_destroy;
    vt->state_layout = metric_layout;
    vt->update = metric_update;
    vt->compute = metric_compute;
}
