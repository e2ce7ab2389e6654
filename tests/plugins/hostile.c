/* tests/plugins/hostile.c — fixture plugins that break the host's trust in one way each, built
 * once per FIX_* define (tests/plugins/CMakeLists.txt); tests/unit/test_plugin_isolation.c and
 * tests/bad_inputs/plugin.cases drive them through `lhost train` and `lhost plugins`:
 *   FIX_CRASH_CREATE  callback crash_create: create() stores through NULL
 *   FIX_CRASH_HOOK    callback crash_hook: on_train_batch_end stores through NULL at its
 *                     `at`-th call (parameter, default 3: in the first epoch)
 *   FIX_HANG_HOOK     callback hang_hook: on_train_batch_end never returns from its `at`-th call
 *   FIX_CRASH_UPDATE  metric crash_update: update() stores through NULL at its first call
 *   FIX_MANY          a library claiming 2^32-1 plugins
 *   FIX_STRIDE        a parameter table whose element size (its stride) is 2 GiB
 *   FIX_DUP_NAME      org.other.model_checkpoint, a callback that takes the name model_checkpoint
 *   FIX_SPACE_ID      a callback whose id has a space in it
 * The crashes read a volatile zero, so no compiler can prove the store away. */
#include <stdint.h>
#include <unistd.h>

#include "fixture.h"

#if defined(FIX_CRASH_CREATE) || defined(FIX_CRASH_HOOK) || defined(FIX_CRASH_UPDATE)
static volatile uintptr_t zero;

static void crash(void) { *(volatile int *)zero = 42; }
#endif

static int64_t calls_left; /* FIX_CRASH_HOOK: on_train_batch_end calls before the crash */

static int32_t create(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *pv,
                      void **self)
{
#ifdef FIX_CRASH_CREATE
    crash();
#endif
    calls_left = lhost_param_int(pv, "at", 3);
    *self = NULL;
    return LHOST_OK;
}

static void destroy(void *self) { (void)self; }

#ifndef FIX_CRASH_UPDATE
static int32_t batch_end(void *self, lhost_ctx *ctx, const lhost_batch_info *b)
{
#ifdef FIX_CRASH_HOOK
    if (--calls_left == 0)
        crash();
#endif
#ifdef FIX_HANG_HOOK
    if (--calls_left == 0)
        for (;;)
            pause();
#endif
    return LHOST_OK;
}

static const lhost_callback_vtable vtable = {
    .struct_size = sizeof(lhost_callback_vtable),
    .create = create,
    .destroy = destroy,
    .on_train_batch_end = batch_end,
};
#else
/* The metric: one counter, one output; update crashes. */
static const lhost_state_decl decls[] = {
    {.struct_size = sizeof(lhost_state_decl), .name = "seen", .dtype = LHOST_DTYPE_I64,
     .reduction = LHOST_REDUCE_SUM, .length = 1},
};

static int32_t m_layout(void *self, const lhost_state_decl **d, uint32_t *n, uint32_t *outs)
{
    *d = decls;
    *n = 1;
    *outs = 1;
    return LHOST_OK;
}

static int32_t m_update(void *self, lhost_ctx *ctx, const lhost_metric_state *st,
                        const lhost_metric_batch *b)
{
    crash();
    return LHOST_OK;
}

static int32_t m_compute(void *self, lhost_ctx *ctx, const lhost_metric_state *st, double *out)
{
    out[0] = 0;
    return LHOST_OK;
}

static const lhost_metric_vtable m_vtable = {sizeof(lhost_metric_vtable), 1, create, destroy,
                                             m_layout, m_update, m_compute};
#endif

#if defined(FIX_CRASH_CREATE)
#define FIX_ID "org.lhost.test.crash_create"
#define FIX_NAME "crash_create"
#elif defined(FIX_CRASH_HOOK)
#define FIX_ID "org.lhost.test.crash_hook"
#define FIX_NAME "crash_hook"
#elif defined(FIX_HANG_HOOK)
#define FIX_ID "org.lhost.test.hang_hook"
#define FIX_NAME "hang_hook"
#elif defined(FIX_CRASH_UPDATE)
#define FIX_ID "org.lhost.test.crash_update"
#define FIX_NAME "crash_update"
#elif defined(FIX_DUP_NAME)
#define FIX_ID "org.other.model_checkpoint"
#define FIX_NAME "model_checkpoint"
#elif defined(FIX_SPACE_ID)
#define FIX_ID "org.lhost.test.with space"
#define FIX_NAME "space_id"
#else
#define FIX_ID "org.lhost.test.hostile"
#define FIX_NAME "hostile"
#endif

#ifdef FIX_STRIDE
/* Two parameters, the first claiming to be 2 GiB long: the second would be read 2 GiB on. */
static const lhost_param params[] = {
    {0x7fffffffu, LHOST_PARAM_INT, "a", "a number", "1", NULL, 0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_INT, "b", "a number", "2", NULL, 0, 0, 0},
};
#define FIX_PARAMS params, 2
#elif defined(FIX_CRASH_HOOK) || defined(FIX_HANG_HOOK)
static const lhost_param params[] = {
    {sizeof(lhost_param), LHOST_PARAM_INT, "at", "misbehave at this call of on_train_batch_end",
     "3", NULL, 1, 0, LHOST_PARAM_HAS_MIN},
};
#define FIX_PARAMS params, 1
#else
#define FIX_PARAMS NULL, 0
#endif

#ifdef FIX_CRASH_UPDATE
#define FIX_KIND LHOST_KIND_METRIC, FIX_ID, FIX_NAME
#define FIX_VTABLE &m_vtable
#else
#define FIX_KIND LHOST_KIND_CALLBACK, FIX_ID, FIX_NAME
#define FIX_VTABLE &vtable
#endif

static const lhost_plugin_desc desc = {
    sizeof(lhost_plugin_desc), FIX_KIND, "0.1.0", "a fixture the host must not trust",
    FIX_PARAMS, LHOST_PRIORITY_DEFAULT, FIX_VTABLE};

#ifdef FIX_MANY
static const lhost_plugin_desc *const many_plugins[] = {&desc};
static const lhost_library library = {sizeof(lhost_library), LHOST_ABI_VERSION_INIT, NULL,
                                      0xffffffffu, many_plugins};
#else
FIX_LIBRARY(library, &desc);
#endif

LHOST_EXPORT const lhost_library *lhost_plugin_entry(const lhost_version *abi,
                                                     const lhost_host *host)
{
    return &library;
}
