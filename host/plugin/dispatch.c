/* host/plugin/dispatch.c — run one callback hook on every instance: ascending priority, then the order
 * the instances were given (config order). For speed each hook keeps a packed list of only the
 * instances that implement it, so a call per plugin is a load and an indirect call. The
 * instances must outlive the lh_dispatch made from them. */
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "dispatch.h"

typedef int32_t (*hook0_fn)(void *self, lhost_ctx *ctx);
typedef int32_t (*hook_batch_fn)(void *self, lhost_ctx *ctx, const lhost_batch_info *b);

typedef struct hook_entry {
    void (*fn)(void); /* hook0_fn or hook_batch_fn */
    void *self;
    lhost_ctx *ctx;
} hook_entry;

struct lh_dispatch {
    lh_instance **order; /* n, in dispatch order */
    int32_t n;
    hook_entry *hooks[LH_HOOK_COUNT];
    int32_t n_hooks[LH_HOOK_COUNT];
};

static const char *const hook_names[LH_HOOK_COUNT] = {
    "on_fit_start", "on_train_epoch_start", "on_train_batch_end",
    "on_validation_end", "on_train_epoch_end", "on_fit_end"};

static void (*hook_of(const lhost_callback_vtable *vt, int32_t hook))(void)
{
    switch (hook) {
    case LH_HOOK_FIT_START: return (void (*)(void))vt->on_fit_start;
    case LH_HOOK_TRAIN_EPOCH_START: return (void (*)(void))vt->on_train_epoch_start;
    case LH_HOOK_TRAIN_BATCH_END: return (void (*)(void))vt->on_train_batch_end;
    case LH_HOOK_VALIDATION_END: return (void (*)(void))vt->on_validation_end;
    case LH_HOOK_TRAIN_EPOCH_END: return (void (*)(void))vt->on_train_epoch_end;
    case LH_HOOK_FIT_END: return (void (*)(void))vt->on_fit_end;
    default: return NULL;
    }
}

const char *lh_dispatch_hook_name(int32_t hook)
{
    return (hook >= 0 && hook < LH_HOOK_COUNT) ? hook_names[hook] : "?";
}

int lh_dispatch_create(lh_dispatch **out, lh_instance *const *callbacks, int32_t n,
                       lh_error *err)
{
    lh_dispatch *d;
    int32_t i, j, h;
    *out = NULL;
    for (i = 0; i < n; i++)
        if (!lh_instance_callback(callbacks[i]))
            return lh_error_set(err, "plugin %s: not a callback (kind %s)", callbacks[i]->desc->id,
                                lh_registry_kind_name(callbacks[i]->desc->kind));
    if (!(d = calloc(1, sizeof *d)) || !(d->order = calloc(n ? (size_t)n : 1, sizeof *d->order))) {
        free(d);
        return lh_error_set(err, "out of memory");
    }
    /* Stable insertion sort by priority: keeps config order among equals. */
    for (i = 0; i < n; i++) {
        lh_instance *x = callbacks[i];
        for (j = i; j > 0 && d->order[j - 1]->desc->priority > x->desc->priority; j--)
            d->order[j] = d->order[j - 1];
        d->order[j] = x;
    }
    d->n = n;
    for (h = 0; h < LH_HOOK_COUNT; h++) {
        if (!(d->hooks[h] = calloc(n ? (size_t)n : 1, sizeof *d->hooks[h]))) {
            lh_dispatch_destroy(d);
            return lh_error_set(err, "out of memory");
        }
        for (i = 0; i < n; i++) {
            void (*fn)(void) = hook_of(lh_instance_callback(d->order[i]), h);
            if (fn)
                d->hooks[h][d->n_hooks[h]++] = (hook_entry){fn, d->order[i]->self, d->order[i]};
        }
    }
    *out = d;
    return 0;
}

void lh_dispatch_destroy(lh_dispatch *d)
{
    int32_t h;
    if (!d)
        return;
    for (h = 0; h < LH_HOOK_COUNT; h++)
        free(d->hooks[h]);
    free(d->order);
    free(d);
}

int32_t lh_dispatch_count(const lh_dispatch *d) { return d->n; }

lh_instance *lh_dispatch_at(const lh_dispatch *d, int32_t i)
{
    return (i >= 0 && i < d->n) ? d->order[i] : NULL;
}

static int32_t hook_failed(const hook_entry *e, int32_t hook, int32_t rc, lh_error *err)
{
    if (rc == LHOST_ERROR)
        lh_error_set(err, "plugin %s: %s: %s", e->ctx->desc->id, hook_names[hook],
                     e->ctx->error[0] ? e->ctx->error : "failed without a message");
    else
        lh_error_set(err, "plugin %s: %s: returned status %d", e->ctx->desc->id,
                     hook_names[hook], (int)rc);
    return LHOST_ERROR;
}

int32_t lh_dispatch_hook(lh_dispatch *d, int32_t hook, const lhost_batch_info *batch,
                         lh_error *err)
{
    const hook_entry *e, *end;
    int32_t rc, stop = 0;
    if (hook < 0 || hook >= LH_HOOK_COUNT) {
        lh_error_set(err, "unknown hook %d", (int)hook);
        return LHOST_ERROR;
    }
    e = d->hooks[hook];
    end = e + d->n_hooks[hook];
    if (hook == LH_HOOK_TRAIN_BATCH_END) {
        for (; e < end; e++) {
            e->ctx->error[0] = '\0';
            rc = ((hook_batch_fn)e->fn)(e->self, e->ctx, batch);
            if (rc != LHOST_OK && rc != LHOST_STOP)
                return hook_failed(e, hook, rc, err);
            stop |= rc == LHOST_STOP || e->ctx->stop_requested;
            e->ctx->stop_requested = 0;
        }
    } else {
        for (; e < end; e++) {
            e->ctx->error[0] = '\0';
            rc = ((hook0_fn)e->fn)(e->self, e->ctx);
            if (rc != LHOST_OK && rc != LHOST_STOP)
                return hook_failed(e, hook, rc, err);
            stop |= rc == LHOST_STOP || e->ctx->stop_requested;
            e->ctx->stop_requested = 0;
        }
    }
    return stop ? LHOST_STOP : LHOST_OK;
}

void lh_dispatch_exception(lh_dispatch *d, const char *message)
{
    int32_t i;
    for (i = 0; d && i < d->n; i++) {
        const lhost_callback_vtable *vt = lh_instance_callback(d->order[i]);
        if (vt->on_exception)
            vt->on_exception(d->order[i]->self, d->order[i], message ? message : "");
    }
}
