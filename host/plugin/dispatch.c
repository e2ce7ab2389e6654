/* host/plugin/dispatch.c — run one callback hook on every instance: ascending priority, then the
 * order the instances were given (config order). For speed each hook keeps a packed list of only
 * the instances that implement it, so a call per plugin is a load and an indirect call, with the
 * entry's crash note (guard.h, formatted here once) made current around it. The instances must
 * outlive the lh_dispatch made from them. The hooks, their names, vtable members and signature
 * kinds all come from LH_HOOK_MAP (hooks.h). */
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "dispatch.h"
#include "guard.h"

typedef struct hook_entry {
    void (*fn)(void); /* the hook's LH_HOOK_FN_<KIND> */
    void *self;
    lhost_ctx *ctx;
    const lh_guard_note *note; /* "plugin <id> crashed in <hook>", made current around the call */
} hook_entry;

/* Notes are formatted once here, so a call costs one store more, not a snprintf. */
#define N_NOTES (LH_HOOK_COUNT + 1) /* every hook, then on_exception */

struct lh_dispatch {
    lh_instance **order; /* n, in dispatch order */
    int32_t n;
    hook_entry *hooks[LH_HOOK_COUNT];
    int32_t n_hooks[LH_HOOK_COUNT];
    lh_guard_note *notes; /* n * N_NOTES: instance i's note for hook h at [i * N_NOTES + h] */
};

/* Each entry's vtable member must have its kind's type; a wrong KIND in LH_HOOK_MAP stops the
 * build here rather than calling a hook with the wrong arguments. */
#define CHECK_KIND(ID, member, KIND)                                                           \
    _Static_assert(_Generic(((lhost_callback_vtable *)0)->member, LH_HOOK_FN_##KIND: 1,       \
                            default: 0),                                                       \
                   #member " is not of kind " #KIND);
LH_HOOK_MAP(CHECK_KIND)
#undef CHECK_KIND

#define NAME(ID, member, KIND) #member,
static const char *const hook_names[LH_HOOK_COUNT] = {LH_HOOK_MAP(NAME)};
#undef NAME

#define KIND_OF(ID, member, KIND) LH_HOOK_KIND_##KIND,
static const uint8_t hook_kinds[LH_HOOK_COUNT] = {LH_HOOK_MAP(KIND_OF)};
#undef KIND_OF

static void (*hook_of(const lhost_callback_vtable *vt, int32_t hook))(void)
{
    switch (hook) {
#define MEMBER(ID, member, KIND)                                                               \
    case LH_HOOK_##ID: return (void (*)(void))vt->member;
        LH_HOOK_MAP(MEMBER)
#undef MEMBER
    default: return NULL;
    }
}

const char *lh_dispatch_hook_name(int32_t hook)
{
    return (hook >= 0 && hook < LH_HOOK_COUNT) ? hook_names[hook] : "?";
}

int32_t lh_dispatch_hook_find(const char *name)
{
    int32_t h;
    for (h = 0; name && h < LH_HOOK_COUNT; h++)
        if (strcmp(hook_names[h], name) == 0)
            return h;
    return -1;
}

int32_t lh_dispatch_hook_kind(int32_t hook)
{
    return (hook >= 0 && hook < LH_HOOK_COUNT) ? hook_kinds[hook] : -1;
}

int32_t lh_dispatch_implements(const lhost_callback_vtable *vt, int32_t hook)
{
    return hook_of(vt, hook) != NULL;
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
    if (!(d = calloc(1, sizeof *d)) || !(d->order = calloc(n ? (size_t)n : 1, sizeof *d->order)) ||
        !(d->notes = calloc((size_t)(n ? n : 1) * N_NOTES, sizeof *d->notes))) {
        if (d)
            free(d->order);
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
    for (i = 0; i < n; i++) {
        for (h = 0; h < LH_HOOK_COUNT; h++)
            lh_guard_note_set(&d->notes[i * N_NOTES + h], d->order[i]->desc->id, hook_names[h]);
        lh_guard_note_set(&d->notes[i * N_NOTES + LH_HOOK_COUNT], d->order[i]->desc->id,
                          "on_exception");
    }
    for (h = 0; h < LH_HOOK_COUNT; h++) {
        if (!(d->hooks[h] = calloc(n ? (size_t)n : 1, sizeof *d->hooks[h]))) {
            lh_dispatch_destroy(d);
            return lh_error_set(err, "out of memory");
        }
        for (i = 0; i < n; i++) {
            void (*fn)(void) = hook_of(lh_instance_callback(d->order[i]), h);
            if (fn)
                d->hooks[h][d->n_hooks[h]++] = (hook_entry){fn, d->order[i]->self, d->order[i],
                                                            &d->notes[i * N_NOTES + h]};
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
    free(d->notes);
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

/* The loop over one hook's packed list, with CALL the call of entry e for the hook's kind. */
#define RUN_ENTRIES(CALL)                                                                      \
    for (; e < end; e++) {                                                                     \
        const lh_guard_note *was = lh_guard_enter(e->note);                                    \
        e->ctx->error[0] = '\0';                                                               \
        rc = (CALL);                                                                           \
        lh_guard_leave(was);                                                                   \
        if (rc != LHOST_OK && rc != LHOST_STOP)                                                \
            return hook_failed(e, hook, rc, err);                                              \
        stop |= rc == LHOST_STOP || e->ctx->stop_requested;                                    \
        e->ctx->stop_requested = 0;                                                            \
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
    /* One loop per kind, so the indirect call inside has its real type. */
    switch (hook_kinds[hook]) {
    case LH_HOOK_KIND_CTX: RUN_ENTRIES(((lh_hook_ctx_fn)e->fn)(e->self, e->ctx)); break;
    case LH_HOOK_KIND_BATCH: RUN_ENTRIES(((lh_hook_batch_fn)e->fn)(e->self, e->ctx, batch)); break;
    default: /* a kind added to hooks.h without its call here */
        lh_error_set(err, "hook %s: no call for its kind %d", hook_names[hook],
                     (int)hook_kinds[hook]);
        return LHOST_ERROR;
    }
    return stop ? LHOST_STOP : LHOST_OK;
}
#undef RUN_ENTRIES

void lh_dispatch_exception(lh_dispatch *d, const char *message)
{
    int32_t i;
    for (i = 0; d && i < d->n; i++) {
        const lhost_callback_vtable *vt = lh_instance_callback(d->order[i]);
        if (vt->on_exception) {
            const lh_guard_note *was = lh_guard_enter(&d->notes[i * N_NOTES + LH_HOOK_COUNT]);
            vt->on_exception(d->order[i]->self, d->order[i], message ? message : "");
            lh_guard_leave(was);
        }
    }
}
