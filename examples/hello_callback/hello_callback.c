/* examples/hello_callback — the smallest useful callback plugin, built out of tree.
 *
 * Greets at on_fit_start, counts training batches, and at each train epoch end logs
 * "hello_batches" (batches seen so far in the whole fit) so the effect shows in metrics.csv.
 * The count is checkpointed (state version 1), so a resumed run keeps counting.
 * Build: see CMakeLists.txt (find_package) or Makefile (pkg-config). */
#include <lhost/lhost.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct hello {
    const lhost_host *host;
    const char *greeting; /* borrowed parameter text, valid until destroy */
    int64_t batches;
} hello;

static int32_t hello_create(const lhost_host *host, lhost_ctx *ctx,
                            const lhost_param_values *params, void **self)
{
    hello *h = (hello *)calloc(1, sizeof *h);
    if (!h) {
        host->set_error(ctx, "out of memory");
        return LHOST_ERROR;
    }
    h->host = host;
    h->greeting = lhost_param_string(params, "greeting", "hello");
    *self = h;
    return LHOST_OK;
}

static void hello_destroy(void *self) { free(self); }

static int32_t hello_fit_start(void *self, lhost_ctx *ctx)
{
    hello *h = (hello *)self;
    char msg[200];
    snprintf(msg, sizeof msg, "%s from an out-of-tree plugin", h->greeting);
    h->host->log(ctx, LHOST_LOG_INFO, msg);
    return LHOST_OK;
}

static int32_t hello_batch_end(void *self, lhost_ctx *ctx, const lhost_batch_info *batch)
{
    ((hello *)self)->batches++;
    return LHOST_OK;
}

static int32_t hello_epoch_end(void *self, lhost_ctx *ctx)
{
    hello *h = (hello *)self;
    return h->host->log_value(ctx, "hello_batches", (double)h->batches, LHOST_LOGF_ON_EPOCH);
}

static int32_t hello_save(void *self, lhost_ctx *ctx, const void **data, uint64_t *size)
{
    hello *h = (hello *)self;
    *data = &h->batches;
    *size = sizeof h->batches;
    return LHOST_OK;
}

static int32_t hello_restore(void *self, lhost_ctx *ctx, uint32_t version, const void *data,
                             uint64_t size)
{
    hello *h = (hello *)self;
    if (version != 1 || size != sizeof h->batches) {
        h->host->set_error(ctx, "state: expected version 1 with 8 bytes");
        return LHOST_ERROR;
    }
    memcpy(&h->batches, data, sizeof h->batches);
    return LHOST_OK;
}

static const lhost_param params[] = {
    {sizeof(lhost_param), LHOST_PARAM_STRING, "greeting", "what to say at fit start", "hello",
     NULL, 0, 0, 0},
};

static const lhost_callback_vtable vtable = {
    .struct_size = sizeof(lhost_callback_vtable),
    .state_version = 1,
    .create = hello_create,
    .destroy = hello_destroy,
    .on_fit_start = hello_fit_start,
    .on_train_batch_end = hello_batch_end,
    .on_train_epoch_end = hello_epoch_end,
    .state_save = hello_save,
    .state_restore = hello_restore,
};

static const lhost_plugin_desc desc = {
    sizeof(lhost_plugin_desc),
    LHOST_KIND_CALLBACK,
    "org.lhost.examples.hello_callback",
    "hello_callback",
    "1.0.0",
    "greets at fit start and logs hello_batches each epoch",
    params,
    1,
    LHOST_PRIORITY_DEFAULT,
    &vtable,
};

static const lhost_plugin_desc *const plugins[] = {&desc};

static const lhost_library library = {
    sizeof(lhost_library), LHOST_ABI_VERSION_INIT, NULL, 1, plugins,
};

LHOST_EXPORT const lhost_library *lhost_plugin_entry(const lhost_version *host_abi,
                                                    const lhost_host *host)
{
    return &library;
}
