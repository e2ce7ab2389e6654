/* tests/plugins/dispatch.c — three scripted callbacks for the dispatch tests: cb_early
 * (priority -10), cb_mid (0) and cb_late (LHOST_PRIORITY_MONITOR). Each hook logs
 * "<tag>:<hook>" through host->log_value so the test's env records the order, then does what
 * its `action` parameter says: ok, stop (return LHOST_STOP), request_stop (host->request_stop)
 * or error (host->set_error + LHOST_ERROR). on_exception logs "<tag>:on_exception:<message>". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

static const char *const actions[] = {"ok", "stop", "request_stop", "error", NULL};

static const lhost_param params[] = {
    {sizeof(lhost_param), LHOST_PARAM_STRING, "tag", "name in the trace", "x", NULL, 0, 0,
     LHOST_PARAM_IDENTITY},
    {sizeof(lhost_param), LHOST_PARAM_ENUM, "action", "what every hook does", "ok", actions, 0, 0,
     0},
};

typedef struct inst {
    const lhost_host *host;
    char tag[64];
    int action;
} inst;

static int32_t create(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *pv,
                      void **self)
{
    inst *s = calloc(1, sizeof *s);
    if (!s)
        return LHOST_ENOMEM;
    s->host = host;
    snprintf(s->tag, sizeof s->tag, "%s", lhost_param_string(pv, "tag", "x"));
    s->action = (int)lhost_param_int(pv, "action", 0);
    *self = s;
    return LHOST_OK;
}

static void destroy(void *self) { free(self); }

static int32_t act(inst *s, lhost_ctx *ctx, const char *hook)
{
    char key[160];
    snprintf(key, sizeof key, "%s:%s", s->tag, hook);
    s->host->log_value(ctx, key, 1.0, 0);
    switch (s->action) {
    case 1: return LHOST_STOP;
    case 2: s->host->request_stop(ctx, "asked by the fixture"); return LHOST_OK;
    case 3:
        snprintf(key, sizeof key, "%s failed on purpose", s->tag);
        s->host->set_error(ctx, key);
        return LHOST_ERROR;
    default: return LHOST_OK;
    }
}

static int32_t fit_start(void *s, lhost_ctx *c) { return act(s, c, "on_fit_start"); }
static int32_t epoch_start(void *s, lhost_ctx *c) { return act(s, c, "on_train_epoch_start"); }
static int32_t batch_end(void *s, lhost_ctx *c, const lhost_batch_info *b)
{
    return act(s, c, b && b->batch_idx == 7 ? "on_train_batch_end:7" : "on_train_batch_end");
}
static int32_t val_end(void *s, lhost_ctx *c) { return act(s, c, "on_validation_end"); }
static int32_t epoch_end(void *s, lhost_ctx *c) { return act(s, c, "on_train_epoch_end"); }
static int32_t fit_end(void *s, lhost_ctx *c) { return act(s, c, "on_fit_end"); }
static int32_t on_exception(void *self, lhost_ctx *c, const char *msg)
{
    inst *s = self;
    char key[600];
    snprintf(key, sizeof key, "%s:on_exception:%s", s->tag, msg);
    s->host->log_value(c, key, 1.0, 0);
    return LHOST_ERROR; /* ignored by the host */
}

static const lhost_callback_vtable vt = {
    .struct_size = sizeof(lhost_callback_vtable), .create = create, .destroy = destroy,
    .on_fit_start = fit_start, .on_train_epoch_start = epoch_start,
    .on_train_batch_end = batch_end, .on_validation_end = val_end,
    .on_train_epoch_end = epoch_end, .on_fit_end = fit_end, .on_exception = on_exception};

#define CB(var, id, name, prio)                                                          \
    static const lhost_plugin_desc var = {sizeof(lhost_plugin_desc), LHOST_KIND_CALLBACK, \
                                          id, name, "1.0.0", "scripted test callback",   \
                                          params, 2, prio, &vt}
CB(late, "org.lhost.test.cb_late", "cb_late", LHOST_PRIORITY_MONITOR);
CB(mid, "org.lhost.test.cb_mid", "cb_mid", LHOST_PRIORITY_DEFAULT);
CB(early, "org.lhost.test.cb_early", "cb_early", -10);

FIX_LIBRARY(library, &late, &mid, &early);

LHOST_EXPORT const lhost_library *lhost_plugin_entry(const lhost_version *abi,
                                                     const lhost_host *host)
{
    return &library;
}
