/* host/cli/cmd_check_rules.c — the rules of `lhost plugins check` (see cmd_check.c): a fake
 * trainer the plugin talks to, and one function per rule, each judging one loaded plugin. They
 * run in the checker's child processes, so a plugin that crashes or hangs here ends only the
 * child. */
#include "cmd_check.h"

#include <dlfcn.h>
#include <malloc.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dispatch.h"
#include "fmt.h"
#include "instance.h"
#include "metric_run.h"

/* The short name for the many failure returns below. */
#define failf lh_cmd_check_fail

#define EPOCHS 5
#define BIG 4096 /* the long strings' length */


int lh_cmd_check_fail(lh_check_verdict *v, const char *fmt, ...)
{
    va_list ap;
    if (!v->pass)
        return -1; /* the first reason stays */
    va_start(ap, fmt);
    vsnprintf(v->reason, sizeof v->reason, fmt, ap);
    va_end(ap);
    v->pass = 0;
    return -1;
}

/* The fake trainer the plugin talks to: what get_value answers depends on the phase. */
typedef struct fake {
    int32_t phase; /* 0: every key missing, 1: NaN, 2: inf, 3+: ordinary numbers */
    int64_t epoch, step, batch;
    int32_t stops;
} fake;

static int32_t f_get_value(void *u, const char *key, double *out)
{
    const fake *f = u;
    (void)key;
    if (f->phase == 0)
        return LHOST_ENOTFOUND;
    *out = f->phase == 1 ? NAN : f->phase == 2 ? INFINITY : 0.5 + 0.01 * (double)f->epoch;
    return LHOST_OK;
}

static int32_t f_log_value(void *u, const char *k, double v, uint32_t fl)
{
    (void)u, (void)k, (void)v, (void)fl;
    return LHOST_OK;
}

static int32_t f_list_values(void *u, lhost_value_visitor visit, void *vu)
{
    double v;
    if (f_get_value(u, "val_loss", &v) == LHOST_OK)
        visit(vu, "val_loss", v);
    return LHOST_OK;
}

static int32_t f_request_stop(void *u, const char *who, const char *reason)
{
    (void)who, (void)reason;
    ((fake *)u)->stops++;
    return LHOST_OK;
}

static void f_trainer_state(void *u, lhost_trainer_state *o)
{
    const fake *f = u;
    uint32_t size = o->struct_size < sizeof *o ? o->struct_size : (uint32_t)sizeof *o;
    lhost_trainer_state s = {.struct_size = size, .stage = LHOST_STAGE_FIT, .epoch = f->epoch,
                             .global_step = f->step, .batch_idx = f->batch,
                             .num_train_batches = 4, .max_epochs = EPOCHS, .min_epochs = 0,
                             .rank = 0, .world_size = 1, .is_global_zero = 1};
    memcpy(o, &s, size);
}

static int32_t f_get_hparam(void *u, const char *name, double *out)
{
    (void)u;
    if (strcmp(name, "lr") != 0)
        return LHOST_ENOTFOUND;
    *out = 0.01;
    return LHOST_OK;
}

static int32_t f_set_hparam(void *u, const char *name, double v)
{
    (void)u;
    return strcmp(name, "lr") != 0 ? LHOST_ENOTFOUND : isfinite(v) ? LHOST_OK : LHOST_EINVAL;
}

/* A checkpoint without a model: a small file where the plugin asked (the rule runs in a
 * temporary folder), so a checkpointing callback can do its bookkeeping. */
static int32_t f_save_checkpoint(void *u, const char *path, uint32_t flags, lh_error *err)
{
    FILE *f = fopen(path, "wb");
    (void)u, (void)flags;
    if (!f || fputs("lhost plugins check\n", f) < 0) {
        if (f)
            fclose(f);
        return lh_error_set(err, "cannot write %s", path);
    }
    return fclose(f) == 0 ? 0 : lh_error_set(err, "cannot write %s", path);
}

static void f_log(void *u, const char *who, int32_t level, const char *msg)
{
    (void)u, (void)who, (void)level, (void)msg; /* a checker prints verdicts, not chatter */
}

static void fake_env(lh_host_env *env, fake *f)
{
    memset(env, 0, sizeof *env);
    memset(f, 0, sizeof *f);
    env->user = f;
    env->log = f_log;
    env->get_value = f_get_value;
    env->log_value = f_log_value;
    env->list_values = f_list_values;
    env->request_stop = f_request_stop;
    env->trainer_state = f_trainer_state;
    env->save_checkpoint = f_save_checkpoint;
    env->get_hparam = f_get_hparam;
    env->set_hparam = f_set_hparam;
}

/* Values for the parameters that have no default (required ones), so create() can run: a
 * number inside the range (3, or the minimum), "val_loss", true, the first choice. */
static int32_t default_kvs(const lhost_plugin_desc *d, lh_kv *kvs, char (*text)[32], int32_t cap)
{
    int32_t n = 0;
    for (uint32_t k = 0; k < d->n_params && n < cap; k++) {
        const lhost_param *p = &d->params[k];
        if (!(p->flags & LHOST_PARAM_REQUIRED))
            continue;
        double v = 3;
        if ((p->flags & LHOST_PARAM_HAS_MIN) && v < p->min)
            v = p->min;
        if ((p->flags & LHOST_PARAM_HAS_MAX) && v > p->max)
            v = p->max;
        if (p->type == LHOST_PARAM_INT)
            snprintf(text[n], 32, "%lld", (long long)ceil(v));
        else if (p->type == LHOST_PARAM_FLOAT)
            snprintf(text[n], 32, "%.17g", v);
        else if (p->type == LHOST_PARAM_BOOL)
            snprintf(text[n], 32, "true");
        else if (p->type == LHOST_PARAM_ENUM && p->choices && p->choices[0])
            snprintf(text[n], 32, "%.31s", p->choices[0]);
        else
            snprintf(text[n], 32, "val_loss");
        kvs[n].key = p->name, kvs[n].value = text[n], kvs[n].where = "lhost plugins check";
        n++;
    }
    return n;
}

/* The number of classes a metric is made for: its num_classes parameter's value, else 3. */
static int32_t classes_of(const lh_instance *inst)
{
    const lhost_plugin_desc *d = lh_instance_desc(inst);
    const lhost_param_values *pv = lh_instance_params(inst);
    for (uint32_t k = 0; k < d->n_params; k++)
        if (strcmp(d->params[k].name, "num_classes") == 0 && d->params[k].type == LHOST_PARAM_INT)
        {
            int64_t c = lhost_param_int(pv, d->params[k].name, 3);
            return c >= 1 && c <= 1000 ? (int32_t)c : 3;
        }
    return 3;
}

static int make(const lh_plugin_row *row, const lh_host_env *env, lh_instance **inst,
                lh_check_verdict *v)
{
    lh_kv kvs[64];
    char text[64][32];
    lh_error err;
    int32_t n = default_kvs(row->desc, kvs, text, 64);
    if (lh_instance_create(row, row->name, kvs, n, env, inst, &err) != 0)
        return failf(v, "create() with the schema's defaults failed: %s", err.msg);
    return 0;
}

/* ---- rules ------------------------------------------------------------------------------ */

static int name_ok(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

static int rule_descriptor(const lh_plugin_row *row, lh_check_verdict *v)
{
    const lhost_plugin_desc *d = row->desc;
    if (!d->id || !strchr(d->id, '.'))
        return failf(v, "id \"%s\": expected reverse-DNS (org.example.name)", d->id ? d->id : "");
    if (!name_ok(d->name))
        return failf(v, "name \"%s\": expected [a-z0-9_]+, the key a config uses",
                     d->name ? d->name : "");
    if (!d->version || !*d->version)
        return failf(v, "version: empty");
    if (!d->description || !*d->description)
        return failf(v, "description: empty (one line, shown by lhost plugins --verbose)");
    if (strlen(d->description) > 1000)
        return failf(v, "description: %zu characters; one line expected", strlen(d->description));
    if (d->kind < LHOST_KIND_CALLBACK || d->kind > LHOST_KIND_LOGGER)
        return failf(v, "kind %d: expected callback, metric or logger", (int)d->kind);
    if (d->priority < -1000000 || d->priority > 1000000)
        return failf(v, "priority %d: expected within +-1000000", (int)d->priority);
    if (!d->vtable)
        return failf(v, "vtable: NULL");
    if (d->kind == LHOST_KIND_CALLBACK) {
        const lhost_callback_vtable *t = d->vtable;
        if (!t->create || !t->destroy)
            return failf(v, "callback vtable: create and destroy are required");
        if (!t->state_save != !t->state_restore)
            return failf(v, "callback vtable: state_save and state_restore come as a pair");
    } else if (d->kind == LHOST_KIND_METRIC) {
        const lhost_metric_vtable *t = d->vtable;
        if (!t->create || !t->destroy || !t->state_layout || !t->update || !t->compute)
            return failf(v, "metric vtable: create, destroy, state_layout, update and compute "
                            "are required");
        if (t->higher_is_better != 0 && t->higher_is_better != 1)
            return failf(v, "metric vtable: higher_is_better %d: expected 0 or 1",
                         (int)t->higher_is_better);
    } else {
        const lhost_logger_vtable *t = d->vtable;
        if (!t->create || !t->destroy)
            return failf(v, "logger vtable: create and destroy are required");
    }
    for (uint32_t k = 0; k < d->n_params; k++)
        if (!d->params[k].help || !*d->params[k].help)
            return failf(v, "parameter '%s': no help text", d->params[k].name);
    return 0;
}

static int rule_schema(const lh_plugin_row *row, lh_check_verdict *v)
{
    lh_host_env env;
    fake f;
    lh_instance *inst;
    fake_env(&env, &f);
    if (make(row, &env, &inst, v))
        return -1;
    lh_instance_destroy(inst);
    return 0;
}

/* A hook's outcome: a legal status, and a message with every failure. */
static int judge(int32_t rc, const lh_error *err, lh_check_verdict *v)
{
    if (rc == LHOST_OK || rc == LHOST_STOP)
        return 0;
    if (strstr(err->msg, "failed without a message") || strstr(err->msg, "returned status"))
        return failf(v, "%s", err->msg);
    return 0; /* a hook may refuse (a missing monitor key) when it says why */
}

/* Edge batches with the 1.1 views filled (class 0 everywhere: one class), so a plugin that
 * reads targets or indices sees valid host memory. */
static const int32_t zeros[32];
#define CHECK_BATCH(idx, n, l)                                                                 \
    {.struct_size = sizeof(lhost_batch_info), .batch_idx = idx, .batch_size = n, .loss = l,   \
     .stage = LHOST_STAGE_FIT, .num_classes = 10, .input_ndim = 4,                            \
     .input_shape = {n, 1, 28, 28}, .targets = zeros, .sample_index = zeros}
static const lhost_batch_info batches[] = {
    CHECK_BATCH(0, 0, NAN), /* empty, NaN loss */
    CHECK_BATCH(1, 1, INFINITY),
    CHECK_BATCH(2, 32, 0.5),
    CHECK_BATCH(3, 32, 0.25),
};

/* One record of what a callback did, to compare two instances' behaviour. */
typedef struct record {
    char text[8192];
    size_t len;
} record;

static void note(record *r, const char *what, int32_t rc, const lh_error *err)
{
    if (r && r->len < sizeof r->text)
        r->len += (size_t)snprintf(r->text + r->len, sizeof r->text - r->len, "%s=%d:%s;", what,
                                   (int)rc, rc == LHOST_ERROR ? err->msg : "");
}

/* Epochs [from, to) of a fit through the hook table: the first hook once before, the last once
 * after (when `ends`), the ones between per epoch in table order, BATCH-kind ones per batch. */
static int run_epochs(lh_dispatch *d, fake *f, int64_t from, int64_t to, int ends, record *rec,
                      lh_check_verdict *v)
{
    lh_error err;
    int32_t rc;
    if (ends) {
        err.msg[0] = '\0';
        rc = lh_dispatch_hook(d, 0, NULL, &err);
        note(rec, lh_dispatch_hook_name(0), rc, &err);
        if (judge(rc, &err, v))
            return -1;
    }
    for (f->epoch = from; f->epoch < to; f->epoch++) {
        f->phase = (int32_t)f->epoch;
        for (int32_t k = 1; k < LH_HOOK_COUNT - 1; k++) {
            int32_t nb = lh_dispatch_hook_kind(k) == LH_HOOK_KIND_BATCH ? 4 : 1;
            for (int32_t b = 0; b < nb; b++) {
                f->batch = b, f->step += lh_dispatch_hook_kind(k) == LH_HOOK_KIND_BATCH;
                err.msg[0] = '\0';
                rc = lh_dispatch_hook(d, k, &batches[b], &err);
                note(rec, lh_dispatch_hook_name(k), rc, &err);
                if (judge(rc, &err, v))
                    return -1;
            }
        }
        f->batch = -1;
    }
    if (ends) {
        err.msg[0] = '\0';
        rc = lh_dispatch_hook(d, LH_HOOK_COUNT - 1, NULL, &err);
        note(rec, lh_dispatch_hook_name(LH_HOOK_COUNT - 1), rc, &err);
        if (judge(rc, &err, v))
            return -1;
    }
    return 0;
}

static int callback_hooks(const lh_plugin_row *row, lh_check_verdict *v)
{
    lh_host_env env;
    fake f;
    lh_instance *inst;
    lh_dispatch *d;
    lh_error err;
    char big[BIG + 1];
    int rc;
    fake_env(&env, &f);
    if (make(row, &env, &inst, v))
        return -1;
    if (lh_dispatch_create(&d, &inst, 1, &err)) {
        lh_instance_destroy(inst);
        return failf(v, "%s", err.msg);
    }
    rc = run_epochs(d, &f, 0, EPOCHS, 1, NULL, v);
    memset(big, 'x', BIG);
    big[BIG] = '\0';
    memcpy(big, "interrupted by SIGINT ", 22);
    lh_dispatch_exception(d, big);
    lh_dispatch_destroy(d);
    lh_instance_destroy(inst);
    return rc;
}

/* Batch `which` of a metric check: 0 empty, 1 one class only, 2 NaN and inf scores, 3+ mixed;
 * `n` samples of `c` classes into scores / targets (caller's arrays of 64 * c and 64). */
static lhost_metric_batch metric_batch(int which, int32_t c, float *scores, int32_t *targets)
{
    lhost_metric_batch b = {sizeof b, 0, c, 0, scores, targets};
    int32_t n = which == 0 ? 0 : which == 1 ? 5 : which == 2 ? 4 : 7 + which;
    for (int32_t i = 0; i < n; i++) {
        targets[i] = which == 1 ? 0 : (i * 7 + which) % c;
        for (int32_t j = 0; j < c; j++)
            scores[i * c + j] = (float)(((i + 3) * (j + 5) * (which + 1)) % 11) / 11.0f - 0.5f;
        if (which == 2)
            scores[i * c] = i % 2 ? NAN : INFINITY;
    }
    b.n = n;
    return b;
}

static int metric_hooks(const lh_plugin_row *row, lh_check_verdict *v)
{
    lh_host_env env;
    fake f;
    lh_instance *inst;
    lh_metric_run r;
    lh_error err;
    int32_t c;
    float *scores;
    int32_t targets[64];
    int rc = 0;
    fake_env(&env, &f);
    if (make(row, &env, &inst, v))
        return -1;
    c = classes_of(inst);
    scores = calloc((size_t)64 * (size_t)c, sizeof *scores);
    if (!scores || lh_metric_run_init(&r, inst, &err)) {
        free(scores);
        lh_instance_destroy(inst);
        return failf(v, "%s", scores ? err.msg : "out of memory");
    }
    for (int epoch = 0; epoch < 2 && !rc; epoch++) {
        lh_metric_run_reset(&r);
        for (int which = 0; which < 5; which++) {
            lhost_metric_batch b = metric_batch(which, c, scores, targets);
            err.msg[0] = '\0';
            if (lh_metric_run_update(&r, &b, 1, &err) && !err.msg[0]) {
                rc = failf(v, "update of batch %d failed without a message", which);
                break;
            }
        }
        err.msg[0] = '\0';
        if (!rc && lh_metric_run_compute(&r, &err) && !err.msg[0])
            rc = failf(v, "compute failed without a message");
    }
    lh_metric_run_free(&r);
    free(scores);
    lh_instance_destroy(inst);
    return rc;
}

static int logger_hooks(const lh_plugin_row *row, lh_check_verdict *v)
{
    lh_host_env env;
    fake f;
    lh_instance *inst;
    const lhost_logger_vtable *vt;
    char dir[] = "/tmp/lhost-check-XXXXXX", big[BIG + 1], cmd[64];
    const char *keys[3] = {"lr", big, "empty"}, *vals[3] = {"0.01", big, ""};
    const char *rkeys[3] = {"loss", "val_acc", big};
    double rvals[3] = {NAN, INFINITY, 0.5};
    lhost_log_row rows[3] = {{sizeof(lhost_log_row), 0, 0, 0, NULL, NULL},
                             {sizeof(lhost_log_row), 0, 1, 3, rkeys, rvals},
                             {sizeof(lhost_log_row), 1, 2, 1, rkeys, rvals + 2}};
    int rc = 0;
    memset(big, 'k', BIG);
    big[BIG] = '\0';
    if (!mkdtemp(dir))
        return failf(v, "cannot make a temporary run folder");
    fake_env(&env, &f);
    if (make(row, &env, &inst, v))
        rc = -1;
    else {
        vt = lh_instance_logger(inst);
        void *self = lh_instance_self(inst);
        if (vt->log_hparams && vt->log_hparams(self, inst, dir, 3, keys, vals) != LHOST_OK &&
            !lh_instance_error(inst)[0])
            rc = failf(v, "log_hparams failed without a message");
        for (int i = 0; i < 3 && !rc; i++)
            if (vt->log_row && vt->log_row(self, inst, &rows[i]) != LHOST_OK &&
                !lh_instance_error(inst)[0])
                rc = failf(v, "log_row failed without a message");
        if (!rc && vt->finalize && vt->finalize(self, inst, "success") != LHOST_OK &&
            !lh_instance_error(inst)[0])
            rc = failf(v, "finalize failed without a message");
        lh_instance_destroy(inst);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "lhost: plugins check: cannot remove %s\n", dir);
    return rc;
}

static int rule_hooks(const lh_plugin_row *row, lh_check_verdict *v)
{
    return row->kind == LHOST_KIND_CALLBACK ? callback_hooks(row, v)
           : row->kind == LHOST_KIND_METRIC ? metric_hooks(row, v)
                                            : logger_hooks(row, v);
}

/* A copy of the instance's saved state. */
static int save(lh_instance *inst, void **bytes, uint64_t *size, lh_check_verdict *v)
{
    const lhost_callback_vtable *vt = lh_instance_callback(inst);
    const void *data = NULL;
    *bytes = NULL, *size = 0;
    if (vt->state_save(lh_instance_self(inst), inst, &data, size) != LHOST_OK)
        return failf(v, "state_save failed: %s", lh_instance_error(inst));
    if (*size && !data)
        return failf(v, "state_save gave %llu bytes at NULL", (unsigned long long)*size);
    if (*size > (1ull << 30))
        return failf(v, "state_save gave %llu bytes", (unsigned long long)*size);
    *bytes = malloc(*size ? (size_t)*size : 1);
    if (*size)
        memcpy(*bytes, data, (size_t)*size);
    return 0;
}

static int rule_state(const lh_plugin_row *row, lh_check_verdict *v)
{
    lh_host_env env_a, env_b;
    fake fa, fb;
    lh_instance *a = NULL, *b = NULL;
    lh_dispatch *da = NULL, *db = NULL;
    lh_error err;
    void *s1 = NULL, *s2 = NULL, *s3 = NULL, *s4 = NULL;
    uint64_t n1, n2, n3, n4;
    static record ra, rb;
    const lhost_callback_vtable *vt = row->desc->vtable;
    int rc = -1;
    if (row->kind != LHOST_KIND_CALLBACK || !vt->state_save) {
        snprintf(v->reason, sizeof v->reason, "%s",
                 row->kind == LHOST_KIND_METRIC ? "metric state is host-owned"
                                                : "no state_save: nothing to round-trip");
        return 0;
    }
    fake_env(&env_a, &fa), fake_env(&env_b, &fb);
    if (make(row, &env_a, &a, v) || make(row, &env_b, &b, v) ||
        lh_dispatch_create(&da, &a, 1, &err) || lh_dispatch_create(&db, &b, 1, &err))
        goto done;
    memset(&ra, 0, sizeof ra), memset(&rb, 0, sizeof rb);
    /* Each instance in a folder of its own, b a copy of a at the save, so files the plugin
     * wrote (checkpoints) are where its state says for both. */
    if (mkdir("a", 0700) != 0 || chdir("a") != 0) {
        failf(v, "cannot make a folder to run in");
        goto done;
    }
    if (run_epochs(da, &fa, 0, 3, 1, NULL, v) || save(a, &s1, &n1, v))
        goto done;
    if (chdir("..") != 0 || system("cp -a a b") != 0 || chdir("b") != 0) {
        failf(v, "cannot copy the folder the plugin wrote");
        goto done;
    }
    if (lh_instance_callback(b)->state_restore(lh_instance_self(b), b, vt->state_version, s1,
                                               n1) != LHOST_OK) {
        failf(v, "state_restore of its own state failed: %s", lh_instance_error(b));
        goto done;
    }
    if (save(b, &s2, &n2, v))
        goto done;
    if (n1 != n2 || (n1 && memcmp(s1, s2, (size_t)n1) != 0)) {
        failf(v, "state_save -> state_restore -> state_save: %llu bytes became %llu different "
                 "ones", (unsigned long long)n1, (unsigned long long)n2);
        goto done;
    }
    fb = fa; /* the restored instance goes on from the same trainer counters */
    if (run_epochs(db, &fb, 3, EPOCHS, 0, &rb, v) || save(b, &s4, &n4, v) ||
        chdir("../a") != 0 || run_epochs(da, &fa, 3, EPOCHS, 0, &ra, v) ||
        save(a, &s3, &n3, v))
        goto done;
    if (strcmp(ra.text, rb.text) != 0 || fa.stops != fb.stops) {
        failf(v, "after a round trip the restored instance behaves differently: %.300s vs "
                 "%.300s", ra.text, rb.text);
        goto done;
    }
    if (n3 != n4 || (n3 && memcmp(s3, s4, (size_t)n3) != 0)) {
        failf(v, "after a round trip and two more epochs the states differ");
        goto done;
    }
    rc = 0;
done:
    free(s1), free(s2), free(s3), free(s4);
    if (da)
        lh_dispatch_destroy(da);
    if (db)
        lh_dispatch_destroy(db);
    if (a)
        lh_instance_destroy(a);
    if (b)
        lh_instance_destroy(b);
    return rc;
}

static int same_outputs(const double *x, const double *y, uint32_t n)
{
    for (uint32_t k = 0; k < n; k++) {
        if (isnan(x[k]) && isnan(y[k]))
            continue;
        if (!(fabs(x[k] - y[k]) <= 1e-9 * fmax(1.0, fabs(x[k]))))
            return 0;
    }
    return 1;
}

static int rule_order(const lh_plugin_row *row, lh_check_verdict *v)
{
    lh_host_env env;
    fake f;
    lh_instance *inst;
    lh_metric_run r;
    lh_metric_set p1, p2;
    lh_error err;
    float *scores;
    int32_t targets[64], c;
    double *full = NULL, *parts = NULL;
    int rc = -1, sets = 0;
    if (row->kind != LHOST_KIND_METRIC) {
        snprintf(v->reason, sizeof v->reason, "not a metric");
        return 0;
    }
    fake_env(&env, &f);
    if (make(row, &env, &inst, v))
        return -1;
    c = classes_of(inst);
    scores = calloc((size_t)64 * (size_t)c, sizeof *scores);
    if (!scores || lh_metric_run_init(&r, inst, &err)) {
        free(scores);
        lh_instance_destroy(inst);
        return failf(v, "%s", scores ? err.msg : "out of memory");
    }
    if (lh_metric_run_set_init(&r, &p1, &err) ||
        (sets = 1, lh_metric_run_set_init(&r, &p2, &err))) {
        failf(v, "%s", err.msg);
        goto done;
    }
    sets = 2;
    full = calloc(r.n_outputs + 1, sizeof *full), parts = calloc(r.n_outputs + 1, sizeof *parts);
    {
        lhost_metric_batch b1 = metric_batch(3, c, scores, targets);
        lhost_metric_batch b2;
        float *s2 = calloc((size_t)64 * (size_t)c, sizeof *s2);
        int32_t t2[64];
        b2 = metric_batch(4, c, s2, t2);
        lh_metric_run_set_reset(&r.epoch);
        if (r.vt->update(lh_instance_self(inst), inst, &r.epoch.pub, &b1) != LHOST_OK ||
            r.vt->update(lh_instance_self(inst), inst, &r.epoch.pub, &b2) != LHOST_OK ||
            r.vt->compute(lh_instance_self(inst), inst, &r.epoch.pub, full) != LHOST_OK ||
            /* the partial states in the other order: the result may not depend on it */
            r.vt->update(lh_instance_self(inst), inst, &p2.pub, &b2) != LHOST_OK ||
            r.vt->update(lh_instance_self(inst), inst, &p1.pub, &b1) != LHOST_OK) {
            failf(v, "update/compute of ordinary batches failed: %s", lh_instance_error(inst));
            free(s2);
            goto done;
        }
        free(s2);
    }
    if (lh_metric_run_reduce(&p1, &p2, &err) ||
        r.vt->compute(lh_instance_self(inst), inst, &p1.pub, parts) != LHOST_OK) {
        failf(v, "reducing two partial states failed: %s", err.msg);
        goto done;
    }
    if (!same_outputs(full, parts, r.n_outputs)) {
        char x[LH_FMT_CAP], y[LH_FMT_CAP];
        failf(v, "two partial states reduced give %s, one state of both batches %s: "
                 "update keeps state outside the declared buffers or a buffer's reduction is "
                 "wrong",
              lh_fmt_double(x, sizeof x, parts[0]), lh_fmt_double(y, sizeof y, full[0]));
        goto done;
    }
    rc = 0;
done:
    if (sets >= 1)
        lh_metric_run_set_free(&p1);
    if (sets >= 2)
        lh_metric_run_set_free(&p2);
    free(full), free(parts), free(scores);
    lh_metric_run_free(&r);
    lh_instance_destroy(inst);
    return rc;
}

/* Create, run, destroy, `n` times: the body of the leaks rule. */
static int cycles(const lh_plugin_row *row, int n, lh_check_verdict *v)
{
    for (int i = 0; i < n; i++) {
        lh_check_verdict ignored = {1, ""};
        if (rule_hooks(row, &ignored) && strncmp(ignored.reason, "create()", 8) == 0)
            return failf(v, "%s", ignored.reason);
    }
    return 0;
}

static int rule_leaks_in_process(const lh_plugin_row *row, lh_check_verdict *v)
{
    struct mallinfo2 m0, m1;
    if (cycles(row, 3, v))
        return -1;
    m0 = mallinfo2();
    if (cycles(row, 20, v))
        return -1;
    m1 = mallinfo2();
    if (m1.uordblks > m0.uordblks + 256 * 1024)
        return failf(v, "the heap grew by %zu bytes over 20 create/run/destroy cycles",
                     m1.uordblks - m0.uordblks);
    snprintf(v->reason, sizeof v->reason, "the heap stayed steady over 20 cycles");
    return 0;
}

/* Call lhost_plugin_entry twice (dlopen, as the registry does): the same plugins both times. */
int lh_cmd_check_entry(const char *path, lh_check_verdict *v)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    lhost_entry_fn entry;
    lhost_version abi = LHOST_ABI_VERSION_INIT;
    const lhost_library *l1, *l2;
    char first[4096] = "";
    size_t len = 0;
    int rc = 0;
    if (!h)
        return failf(v, "cannot load: %s", dlerror());
    *(void **)&entry = dlsym(h, LHOST_ENTRY_SYMBOL);
    if (!entry) {
        dlclose(h);
        snprintf(v->reason, sizeof v->reason, "SDK-free plugin: no entry to call");
        return 0;
    }
    l1 = entry(&abi, lh_services_table());
    for (uint32_t i = 0; l1 && !l1->error && i < l1->n_plugins && i < 256; i++)
        len += (size_t)snprintf(first + len, len < sizeof first ? sizeof first - len : 0, "%s;",
                                l1->plugins[i]->id);
    l2 = entry(&abi, lh_services_table());
    if (!l1 || !l2 || (!l1->error != !l2->error))
        rc = failf(v, "the second call answered differently from the first");
    else {
        char second[4096] = "";
        len = 0;
        for (uint32_t i = 0; !l2->error && i < l2->n_plugins && i < 256; i++)
            len += (size_t)snprintf(second + len, len < sizeof second ? sizeof second - len : 0,
                                    "%s;", l2->plugins[i]->id);
        if (strcmp(first, second) != 0)
            rc = failf(v, "first call: %s second call: %s", first, second);
    }
    dlclose(h);
    return rc;
}

int lh_cmd_check_rule(const char *rule, const lh_plugin_row *row, lh_check_verdict *v)
{
    static const struct {
        const char *name;
        int (*fn)(const lh_plugin_row *row, lh_check_verdict *v);
    } table[] = {{"descriptor", rule_descriptor}, {"schema", rule_schema},
                 {"hooks", rule_hooks},           {"state", rule_state},
                 {"order", rule_order},           {"leaks", rule_leaks_in_process}};
    for (size_t k = 0; k < sizeof table / sizeof table[0]; k++)
        if (strcmp(rule, table[k].name) == 0)
            return table[k].fn(row, v);
    return failf(v, "unknown rule '%s'", rule);
}
