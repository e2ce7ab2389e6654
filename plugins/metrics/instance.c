/* plugins/metrics/instance.c — create / destroy / state_layout shared by the nine metrics,
 * plus the checks and helpers every update() uses. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lhm.h"

int32_t lhm_fail(const lhm_metric *m, lhost_ctx *ctx, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (m && m->host && m->host->set_error)
        m->host->set_error(ctx, msg);
    return LHOST_ERROR;
}

/* An enum's index, checked against its choice count (the host already did; a hand-made
 * lhost_param_values may not have). -1 when out of range. */
static int32_t enum_index(const lhost_param_values *pv, const char *name, int32_t dflt,
                          int32_t n_choices)
{
    int64_t i = lhost_param_int(pv, name, dflt);
    return (i >= 0 && i < n_choices) ? (int32_t)i : -1;
}

static int name_ok(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("_./-", *s)))
            return 0;
    return 1;
}

static void declare(lhost_state_decl *d, const char *name, uint64_t length)
{
    d->struct_size = sizeof(*d);
    d->name = name;
    d->dtype = LHOST_DTYPE_I64;
    d->reduction = LHOST_REDUCE_SUM;
    d->length = length;
    d->init = 0.0;
}

int32_t lhm_create(int32_t kind, const lhost_host *host, lhost_ctx *ctx,
                   const lhost_param_values *pv, void **self)
{
    lhm_metric tmp = {.kind = kind, .host = host};
    int64_t C = lhost_param_int(pv, "num_classes", 10);
    int64_t top_k = lhost_param_int(pv, "top_k", 1);
    int64_t zd = lhost_param_int(pv, "zero_division", 0);
    int64_t max_c = kind == LHM_CONFUSION_MATRIX ? 4096 : 65536;
    const char *name = lhost_param_string(pv, "name", lhm_plugins[kind]->name);
    lhm_metric *m;

    if (C < 2 || C > max_c)
        return lhm_fail(&tmp, ctx, "num_classes=%lld: expected 2..%lld", (long long)C,
                        (long long)max_c);
    if (top_k < 1 || top_k > C)
        return lhm_fail(&tmp, ctx, "top_k=%lld: expected 1..num_classes (%lld)",
                        (long long)top_k, (long long)C);
    if (zd != 0 && zd != 1)
        return lhm_fail(&tmp, ctx, "zero_division=%lld: expected 0 or 1", (long long)zd);
    if (!name_ok(name))
        return lhm_fail(&tmp, ctx, "name \"%s\": expected a non-empty log key of [A-Za-z0-9_./-]",
                        name ? name : "");
    tmp.num_classes = (int32_t)C;
    tmp.top_k = (int32_t)top_k;
    tmp.zero_division = (double)zd;
    tmp.average = enum_index(pv, "average", LHM_AVG_MACRO, 4);
    tmp.normalize = enum_index(pv, "normalize", LHM_NORM_NONE, 4);
    if (tmp.average < 0 || tmp.normalize < 0)
        return lhm_fail(&tmp, ctx, "average/normalize: index outside the schema's choices");
    tmp.has_ignore = lhost_param_is_set(pv, "ignore_index");
    tmp.ignore_index = lhost_param_int(pv, "ignore_index", 0);
    tmp.beta = kind == LHM_FBETA ? lhost_param_float(pv, "beta", 1.0) : 1.0;
    if (!(tmp.beta > 0.0) || !isfinite(tmp.beta))
        return lhm_fail(&tmp, ctx, "beta=%g: expected a finite number > 0", tmp.beta);

    if (kind == LHM_AUROC || kind == LHM_AVERAGE_PRECISION) {
        int32_t rc = lhm_rank_setup(&tmp, ctx, pv);
        if (rc != LHOST_OK)
            return rc;
    } else if (kind == LHM_CONFUSION_MATRIX) {
        declare(&tmp.decls[0], "confmat", (uint64_t)C * (uint64_t)C);
        tmp.n_decls = 1;
        tmp.n_outputs = (uint32_t)(C * C);
    } else {
        declare(&tmp.decls[LHM_BUF_TP], "tp", (uint64_t)C);
        declare(&tmp.decls[LHM_BUF_FP], "fp", (uint64_t)C);
        declare(&tmp.decls[LHM_BUF_FN], "fn", (uint64_t)C);
        declare(&tmp.decls[LHM_BUF_TOTAL], "total", 1);
        tmp.n_decls = LHM_N_STAT_BUFS;
        tmp.n_outputs = tmp.average == LHM_AVG_NONE ? (uint32_t)C : 1;
    }

    m = malloc(sizeof *m);
    if (!m)
        return lhm_fail(&tmp, ctx, "out of memory");
    *m = tmp;
    *self = m;
    return LHOST_OK;
}

void lhm_destroy(void *self)
{
    free(self);
}

int32_t lhm_state_layout(void *self, const lhost_state_decl **decls, uint32_t *n_decls,
                         uint32_t *n_outputs)
{
    const lhm_metric *m = self;
    *decls = m->decls;
    *n_decls = m->n_decls;
    *n_outputs = m->n_outputs;
    return LHOST_OK;
}

int32_t lhm_check_batch(const lhm_metric *m, lhost_ctx *ctx, const lhost_metric_batch *b)
{
    int64_t i;
    if (b->num_classes != m->num_classes)
        return lhm_fail(m, ctx, "batch has %d score columns, expected num_classes=%d",
                        (int)b->num_classes, (int)m->num_classes);
    if (b->n < 0 || (b->n > 0 && (!b->scores || !b->targets)))
        return lhm_fail(m, ctx, "batch of %lld samples without scores or targets",
                        (long long)b->n);
    for (i = 0; i < b->n; i++) {
        int32_t t = b->targets[i];
        if ((t < 0 || t >= m->num_classes) && !(m->has_ignore && t == m->ignore_index))
            return lhm_fail(m, ctx,
                            "target %d of sample %lld is outside [0, %d) and not ignore_index",
                            (int)t, (long long)i, (int)m->num_classes);
    }
    return LHOST_OK;
}

int32_t lhm_argmax(const float *row, int32_t C)
{
    int32_t j, arg = 0;
    float best = row[0];
    for (j = 1; j < C; j++) {
        float v = row[j];
        if (v > best || (v != v && best == best)) {
            best = v;
            arg = j;
        }
    }
    return arg;
}
