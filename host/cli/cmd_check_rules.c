/* host/cli/cmd_check_rules.c — the rules of `lhost plugins check` (see cmd_check.c): one
 * function per rule, each judging one loaded plugin against the checker's host (a tiny real
 * model behind the trainer's services, cmd_check_host.c). They run in the checker's child
 * processes, so a plugin that crashes or hangs here ends only the child. */
#include "cmd_check.h"
#include "cmd_check_host.h"

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

#define EPOCHS LH_CHECK_EPOCHS
#define SAVE_AT 4 /* the state rule saves after epochs 0..3 (swa averages from epoch 3) */
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

/* A host for one instance, on the heap (a trainer struct is large). NULL with v failed. */
static lh_check_host *host_new(lh_check_verdict *v)
{
    lh_check_host *h = malloc(sizeof *h);
    lh_error err;
    if (!h)
        return failf(v, "the checker's host: out of memory"), NULL;
    if (lh_check_host_init(h, &err)) {
        free(h);
        return failf(v, "the checker's host: %s", err.msg), NULL;
    }
    return h;
}

static void host_del(lh_check_host *h)
{
    if (h)
        lh_check_host_free(h), free(h);
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

static int make(const lh_plugin_row *row, const lh_check_host *h, lh_instance **inst,
                lh_check_verdict *v)
{
    const lh_host_env *env = &h->t.env;
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
    lh_check_host *h = host_new(v);
    lh_instance *inst;
    int rc = h ? make(row, h, &inst, v) : -1;
    if (rc == 0)
        lh_instance_destroy(inst);
    host_del(h);
    return rc;
}

/* A callback through a whole fit of `epochs` and a prediction pass (lh_check_host_fit), then
 * on_exception with a 4 KB message. The last epoch's last batch holds NaN and inf inputs, so
 * the model's gradients, weights and logits are NaN from there on. */
static int callback_hooks(const lh_plugin_row *row, lh_check_host *h, int64_t epochs,
                          lh_check_verdict *v)
{
    lh_instance *inst;
    lh_dispatch *d;
    lh_error err;
    char big[BIG + 1];
    int rc;
    if (make(row, h, &inst, v))
        return -1;
    if (lh_dispatch_create(&d, &inst, 1, &err)) {
        lh_instance_destroy(inst);
        return failf(v, "%s", err.msg);
    }
    h->nan_epoch = epochs - 1;
    h->t.opts.max_epochs = epochs; /* what trainer_state says */
    rc = lh_check_host_fit(h, d, 0, epochs, 1, 1, v);
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

static int metric_hooks(const lh_plugin_row *row, lh_check_host *h, lh_check_verdict *v)
{
    lh_instance *inst;
    lh_metric_run r;
    lh_error err;
    int32_t c;
    float *scores;
    int32_t targets[64];
    int rc = 0;
    if (make(row, h, &inst, v))
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

static int logger_hooks(const lh_plugin_row *row, lh_check_host *h, lh_check_verdict *v)
{
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
    if (make(row, h, &inst, v))
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

/* The hooks rule with callbacks run over `epochs`. The leak cycles' are shorter and skip the
 * model's arithmetic (`arithmetic` 0): the plugin makes the same calls and gets the same
 * answers, and under valgrind the first matrix multiply alone (oneDNN's start) takes ~12 s. */
static int hooks(const lh_plugin_row *row, int64_t epochs, int arithmetic, lh_check_verdict *v)
{
    lh_check_host *h = host_new(v);
    int rc;
    if (h)
        h->no_arithmetic = !arithmetic;
    rc = !h                                ? -1
         : row->kind == LHOST_KIND_CALLBACK ? callback_hooks(row, h, epochs, v)
         : row->kind == LHOST_KIND_METRIC   ? metric_hooks(row, h, v)
                                            : logger_hooks(row, h, v);
    host_del(h);
    return rc;
}

static int rule_hooks(const lh_plugin_row *row, lh_check_verdict *v)
{
    return hooks(row, EPOCHS, 1, v);
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

/* A shell step of the state rule (moving the run folder about); -1 with v failed. */
static int sh(const char *cmd, lh_check_verdict *v)
{
    return system(cmd) == 0 ? 0 : failf(v, "cannot run `%s` in the temporary folder", cmd);
}

static int same_bytes(const void *x, uint64_t nx, const void *y, uint64_t ny)
{
    return nx == ny && (nx == 0 || memcmp(x, y, (size_t)nx) == 0);
}

/* Where two records first part, for the reason. */
static void record_diff(const lh_check_record *a, const lh_check_record *b, lh_check_verdict *v)
{
    size_t k = 0, from;
    while (k < a->len && k < b->len && a->text[k] == b->text[k])
        k++;
    from = k > 60 ? k - 60 : 0;
    failf(v, "after a round trip the restored instance behaves differently: the original did "
             "\"%.200s\", the restored one \"%.200s\"", a->text + from, b->text + from);
}

/* One plugin instance with a host of its own and a dispatch over it. */
typedef struct party {
    lh_check_host *h;
    lh_instance *inst;
    lh_dispatch *d;
} party;

static int party_make(const lh_plugin_row *row, party *p, lh_check_verdict *v)
{
    lh_error err;
    memset(p, 0, sizeof *p);
    if (!(p->h = host_new(v)) || make(row, p->h, &p->inst, v))
        return -1;
    if (lh_dispatch_create(&p->d, &p->inst, 1, &err))
        return failf(v, "%s", err.msg);
    return 0;
}

static void party_free(party *p)
{
    if (p->d)
        lh_dispatch_destroy(p->d);
    if (p->inst)
        lh_instance_destroy(p->inst);
    host_del(p->h);
}

/* The state rule. A callback's saved bytes must survive state_restore (save -> restore ->
 * save gives the same bytes), and the restored instance must then behave as the original does
 * when both go on from the same point (every hook's status and message, line and value logged,
 * stop asked and the model's weights, which a plugin may write). The final states' bytes are
 * compared too, where they can be: a control instance runs the original's calls without a round
 * trip, and when its states do not match the original's byte for byte, the state holds
 * something no host input determines (Timer's elapsed wall time, an address) and behaviour is
 * what is compared. All three run in the same folder ("run", moved aside in turn), so paths a
 * plugin keeps are the same for each. */
static int rule_state(const lh_plugin_row *row, lh_check_verdict *v)
{
    static lh_check_record ra, rb;
    const lhost_callback_vtable *vt = row->desc->vtable;
    party a, b, c; /* the original, the restored one, the control */
    lh_error err;
    void *s1 = NULL, *s2 = NULL, *s3 = NULL, *s4 = NULL, *c1 = NULL, *c3 = NULL;
    uint64_t n1, n2, n3, n4, m1, m3;
    int rc = -1, same;
    if (row->kind != LHOST_KIND_CALLBACK || !vt->state_save) {
        snprintf(v->reason, sizeof v->reason, "%s",
                 row->kind == LHOST_KIND_METRIC ? "metric state is host-owned"
                                                : "no state_save: nothing to round-trip");
        return 0;
    }
    memset(&b, 0, sizeof b), memset(&c, 0, sizeof c);
    if (party_make(row, &a, v) || party_make(row, &b, v) || party_make(row, &c, v))
        goto done;
    memset(&ra, 0, sizeof ra), memset(&rb, 0, sizeof rb);
    /* the original and the control: SAVE_AT epochs, a save */
    if (sh("mkdir run", v) || chdir("run") != 0 ||
        lh_check_host_fit(a.h, a.d, 0, SAVE_AT, 1, 0, v) || save(a.inst, &s1, &n1, v) ||
        chdir("..") != 0 || sh("mv run saved && mkdir run", v) || chdir("run") != 0 ||
        lh_check_host_fit(c.h, c.d, 0, SAVE_AT, 1, 0, v) || save(c.inst, &c1, &m1, v) ||
        chdir("..") != 0 || sh("mv run control && cp -a saved run", v) || chdir("run") != 0)
        goto done;
    /* the restored one, in a copy of the original's folder at the save */
    if (lh_instance_callback(b.inst)->state_restore(lh_instance_self(b.inst), b.inst,
                                                    vt->state_version, s1, n1) != LHOST_OK) {
        failf(v, "state_restore of its own state failed: %s", lh_instance_error(b.inst));
        goto done;
    }
    if (save(b.inst, &s2, &n2, v))
        goto done;
    if (!same_bytes(s1, n1, s2, n2)) {
        failf(v, "state_save -> state_restore -> state_save: %llu bytes became %llu different "
                 "ones", (unsigned long long)n1, (unsigned long long)n2);
        goto done;
    }
    if (lh_check_host_copy(b.h, a.h, &err)) { /* the same model and counters as the original */
        failf(v, "the checker's host: %s", err.msg);
        goto done;
    }
    /* a resume's hooks (lhost's order: the states, then on_load_checkpoint, then the fit's
     * start), before the comparison starts; the original goes on without them */
    if (lh_check_host_hook(b.h, b.d, LH_HOOK_LOAD_CHECKPOINT, NULL, v) ||
        lh_check_host_fit(b.h, b.d, SAVE_AT, SAVE_AT, 1, 0, v))
        goto done;
    memcpy(b.h->seen, a.h->seen, sizeof b.h->seen); /* both end with the same hooks left over */
    /* each goes on for two epochs and the end of the fit */
    a.h->rec = &ra, b.h->rec = &rb;
    if (lh_check_host_fit(b.h, b.d, SAVE_AT, EPOCHS, 0, 1, v) || save(b.inst, &s4, &n4, v) ||
        chdir("..") != 0 || sh("rm -rf run && mv saved run", v) || chdir("run") != 0 ||
        lh_check_host_fit(a.h, a.d, SAVE_AT, EPOCHS, 0, 1, v) || save(a.inst, &s3, &n3, v) ||
        chdir("..") != 0 || sh("rm -rf run && mv control run", v) || chdir("run") != 0 ||
        lh_check_host_fit(c.h, c.d, SAVE_AT, EPOCHS, 0, 1, v) || save(c.inst, &c3, &m3, v) ||
        chdir("..") != 0)
        goto done;
    if (ra.hash != rb.hash || ra.total != rb.total) {
        record_diff(&ra, &rb, v);
        goto done;
    }
    if ((same = lh_check_host_same_model(a.h, b.h, &err)) != 1) {
        failf(v, "%s", same < 0 ? err.msg
                                : "after a round trip the restored instance left other weights "
                                  "in the model than the original did");
        goto done;
    }
    if (!same_bytes(s1, n1, c1, m1) || !same_bytes(s3, n3, c3, m3))
        snprintf(v->reason, sizeof v->reason,
                 "behaviour compared: the saved bytes differ between two identical runs (wall "
                 "time or addresses in the state)");
    else if (!same_bytes(s3, n3, s4, n4)) {
        failf(v, "after a round trip and two more epochs the states differ (%llu and %llu "
                 "bytes), though two identical runs save the same bytes",
              (unsigned long long)n3, (unsigned long long)n4);
        goto done;
    }
    rc = 0;
done:
    free(s1), free(s2), free(s3), free(s4), free(c1), free(c3);
    party_free(&a), party_free(&b), party_free(&c);
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

/* Output k of two computes differs: "output 1: 0.5 against 0.625". */
static int first_diff(const double *x, const double *y, uint32_t n)
{
    for (uint32_t k = 0; k < n; k++)
        if (!same_outputs(x + k, y + k, 1))
            return (int)k;
    return -1;
}

/* The cat buffers' rows of s, for the reason ("preds 23 rows"), "" when it has none. */
static void cat_rows(const lh_metric_set *s, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < s->n && len < cap; i++)
        if (s->decls[i].reduction == LHOST_REDUCE_CAT)
            len += (size_t)snprintf(buf + len, cap - len, "%s%s %llu rows", len ? ", " : "",
                                    s->decls[i].name, (unsigned long long)s->rows[i]);
}

#define ORDER_SETS 4 /* p[0] stays empty; p[1..3] one batch each */

/* The order rule: one state updated with three batches (the third of one class only) computes
 * what three partial states of one batch each compute once reduced in the reverse order, an
 * empty state reduced in between (cat buffers then hold the rows in another order than the
 * full state: a cat metric may not depend on it), and again after the reduced state went
 * through pack / unpack as data-parallel ranks send it. */
static int rule_order(const lh_plugin_row *row, lh_check_verdict *v)
{
    static const int which[ORDER_SETS] = {0, 3, 4, 1};
    lh_check_host *h;
    lh_instance *inst = NULL;
    lh_metric_run r;
    lh_metric_set p[ORDER_SETS];
    lhost_metric_batch mb[ORDER_SETS];
    lh_error err;
    float *scores[ORDER_SETS] = {NULL};
    int32_t targets[ORDER_SETS][64], c, k;
    double *full = NULL, *parts = NULL, *packed = NULL;
    void *bytes = NULL;
    int64_t nbytes;
    int rc = -1, sets = 0, run = 0;
    char rows[256];
    if (row->kind != LHOST_KIND_METRIC) {
        snprintf(v->reason, sizeof v->reason, "not a metric");
        return 0;
    }
    if (!(h = host_new(v)) || make(row, h, &inst, v))
        goto done;
    c = classes_of(inst);
    if (lh_metric_run_init(&r, inst, &err)) {
        failf(v, "%s", err.msg);
        goto done;
    }
    run = 1;
    for (; sets < ORDER_SETS; sets++)
        if (lh_metric_run_set_init(&r, &p[sets], &err)) {
            failf(v, "%s", err.msg);
            goto done;
        }
    full = calloc(r.n_outputs + 1, sizeof *full), parts = calloc(r.n_outputs + 1, sizeof *parts);
    packed = calloc(r.n_outputs + 1, sizeof *packed);
    for (int i = 0; i < ORDER_SETS; i++)
        if (!(scores[i] = calloc((size_t)64 * (size_t)c, sizeof *scores[i])))
            break;
    if (!full || !parts || !packed || !scores[ORDER_SETS - 1]) {
        failf(v, "out of memory");
        goto done;
    }
    for (int i = 0; i < ORDER_SETS; i++)
        mb[i] = metric_batch(which[i], c, scores[i], targets[i]);
    lh_metric_run_set_reset(&r.epoch);
    for (int i = 1; i < ORDER_SETS; i++)
        if (r.vt->update(lh_instance_self(inst), inst, &r.epoch.pub, &mb[i]) != LHOST_OK) {
            failf(v, "update of ordinary batches failed: %s", lh_instance_error(inst));
            goto done;
        }
    if (r.vt->compute(lh_instance_self(inst), inst, &r.epoch.pub, full) != LHOST_OK) {
        failf(v, "compute of ordinary batches failed: %s", lh_instance_error(inst));
        goto done;
    }
    /* the partial states updated in the other order: what the instance keeps outside the
     * declared buffers (the last batch seen) then differs from the full state's */
    for (int i = ORDER_SETS - 1; i >= 1; i--)
        if (r.vt->update(lh_instance_self(inst), inst, &p[i].pub, &mb[i]) != LHOST_OK) {
            failf(v, "update of ordinary batches failed: %s", lh_instance_error(inst));
            goto done;
        }
    /* p3 <- p2, p3 <- p0 (empty), p3 <- p1: rows b3, b2, b1 */
    if (lh_metric_run_reduce(&p[3], &p[2], &err) || lh_metric_run_reduce(&p[3], &p[0], &err) ||
        lh_metric_run_reduce(&p[3], &p[1], &err) ||
        r.vt->compute(lh_instance_self(inst), inst, &p[3].pub, parts) != LHOST_OK) {
        failf(v, "reducing partial states failed: %s",
              err.msg[0] ? err.msg : lh_instance_error(inst));
        goto done;
    }
    if ((k = first_diff(full, parts, r.n_outputs)) >= 0) {
        char x[LH_FMT_CAP], y[LH_FMT_CAP];
        failf(v, "three partial states reduced give output %d = %s, one state of the three "
                 "batches %s: update keeps state outside the declared buffers, a buffer's "
                 "reduction is wrong, or compute depends on the order of a cat buffer's rows",
              k, lh_fmt_double(x, sizeof x, parts[k]), lh_fmt_double(y, sizeof y, full[k]));
        goto done;
    }
    if (!(bytes = lh_metric_run_set_pack(&p[3], &nbytes)) ||
        lh_metric_run_set_unpack(&p[0], bytes, nbytes, &err) ||
        r.vt->compute(lh_instance_self(inst), inst, &p[0].pub, packed) != LHOST_OK) {
        failf(v, "packing / unpacking the reduced state failed: %s",
              !bytes ? "out of memory" : err.msg[0] ? err.msg : lh_instance_error(inst));
        goto done;
    }
    if ((k = first_diff(full, packed, r.n_outputs)) >= 0) {
        failf(v, "the reduced state packed and unpacked computes another output %d", k);
        goto done;
    }
    cat_rows(&p[3], rows, sizeof rows);
    snprintf(v->reason, sizeof v->reason, "three partial states reduced in reverse order equal "
                                          "one full state%s%s%s", rows[0] ? " (cat: " : "",
             rows, rows[0] ? ")" : "");
    rc = 0;
done:
    for (int i = 0; i < sets; i++)
        lh_metric_run_set_free(&p[i]);
    for (int i = 0; i < ORDER_SETS; i++)
        free(scores[i]);
    free(full), free(parts), free(packed), free(bytes);
    if (run)
        lh_metric_run_free(&r);
    if (inst)
        lh_instance_destroy(inst);
    host_del(h);
    return rc;
}

/* Create, run, destroy, `n` times: the body of the leaks rule. */
static int cycles(const lh_plugin_row *row, int n, lh_check_verdict *v)
{
    for (int i = 0; i < n; i++) {
        lh_check_verdict ignored = {1, ""};
        /* two epochs reach every hook; the hooks rule already ran the long fit */
        if (hooks(row, 2, 0, &ignored) && strncmp(ignored.reason, "create()", 8) == 0)
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
