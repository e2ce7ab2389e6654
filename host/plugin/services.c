/* host/plugin/services.c — the lhost_host table handed to plugins. Each service finds the calling
 * instance's lh_host_env through its ctx and forwards; a missing env member answers
 * LHOST_EUNSUPPORTED (LHOST_ENOTFOUND for get_value). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "dispatch.h"

static _Thread_local char entry_error[1024];

const char *lh_services_entry_error(void) { return entry_error; }
void lh_services_clear_entry_error(void) { entry_error[0] = '\0'; }

static void copy_msg(char *dst, size_t cap, const char *msg)
{
    snprintf(dst, cap, "%s", msg ? msg : "(no message)");
}

static void svc_log(lhost_ctx *ctx, int32_t level, const char *msg)
{
    static const char *const names[] = {"debug", "info", "warning", "error"};
    const char *who = ctx ? ctx->desc->id : "plugin";
    const char *lvl = (level >= 0 && level <= 3) ? names[level] : "info";
    if (ctx && ctx->env && ctx->env->log) {
        ctx->env->log(ctx->env->user, who, level, msg ? msg : "");
        return;
    }
    if (level >= LHOST_LOG_INFO)
        fprintf(stderr, "lhost: %s: %s: %s\n", who, lvl, msg ? msg : "");
}

/* The env's call `fn` with `...` after its user pointer, or `none` when there is no env or it
 * has no such call: the one rule of the services below that forward to the env. */
#define ENV_CALL(ctx, fn, none, ...)                                                            \
    (!(ctx)->env || !(ctx)->env->fn ? (none) : (ctx)->env->fn((ctx)->env->user, __VA_ARGS__))

static void svc_set_error(lhost_ctx *ctx, const char *msg)
{
    if (ctx)
        copy_msg(ctx->error, sizeof ctx->error, msg);
    else
        copy_msg(entry_error, sizeof entry_error, msg);
}

static int32_t svc_get_value(lhost_ctx *ctx, const char *key, double *out)
{
    if (!ctx || !key || !out)
        return LHOST_EINVAL;
    return ENV_CALL(ctx, get_value, LHOST_ENOTFOUND, key, out);
}

static int32_t svc_log_value(lhost_ctx *ctx, const char *key, double value, uint32_t flags)
{
    if (!ctx || !key)
        return LHOST_EINVAL;
    return ENV_CALL(ctx, log_value, LHOST_EUNSUPPORTED, key, value, flags);
}

/* Always recorded on the instance so lh_dispatch_hook reports LHOST_STOP even without an env. */
static int32_t svc_request_stop(lhost_ctx *ctx, const char *reason)
{
    if (!ctx)
        return LHOST_EINVAL;
    ctx->stop_requested = 1;
    return ENV_CALL(ctx, request_stop, LHOST_OK, ctx->desc->id, reason ? reason : "");
}

static int32_t svc_save_checkpoint(lhost_ctx *ctx, const char *path, uint32_t flags)
{
    lh_error err = {{0}};
    if (!ctx || !path)
        return LHOST_EINVAL;
    if (!ctx->env || !ctx->env->save_checkpoint)
        return LHOST_EUNSUPPORTED;
    if (ctx->env->save_checkpoint(ctx->env->user, path, flags, &err) != 0) {
        copy_msg(ctx->error, sizeof ctx->error, err.msg);
        return LHOST_EIO;
    }
    return LHOST_OK;
}

static int32_t svc_trainer_state(lhost_ctx *ctx, lhost_trainer_state *out)
{
    lhost_trainer_state full;
    uint32_t n;
    if (!ctx || !out || out->struct_size < sizeof(uint32_t))
        return LHOST_EINVAL;
    if (!ctx->env || !ctx->env->trainer_state)
        return LHOST_EUNSUPPORTED;
    memset(&full, 0, sizeof full);
    full.struct_size = sizeof full;
    ctx->env->trainer_state(ctx->env->user, &full);
    /* Write only what the plugin's struct has room for; keep its struct_size. */
    n = out->struct_size < sizeof full ? out->struct_size : (uint32_t)sizeof full;
    full.struct_size = out->struct_size;
    memcpy(out, &full, n);
    return LHOST_OK;
}

static void *svc_alloc(uint64_t size) { return malloc(size ? (size_t)size : 1); }
static void svc_free(void *ptr) { free(ptr); }

static int32_t svc_list_values(lhost_ctx *ctx, lhost_value_visitor visit, void *user)
{
    if (!ctx || !visit)
        return LHOST_EINVAL;
    return ENV_CALL(ctx, list_values, LHOST_EUNSUPPORTED, visit, user);
}

static int32_t svc_snapshot_weights(lhost_ctx *ctx, int32_t slot)
{
    if (!ctx)
        return LHOST_EINVAL;
    return ENV_CALL(ctx, snapshot_weights, LHOST_EUNSUPPORTED, slot);
}

static int32_t svc_restore_weights(lhost_ctx *ctx, int32_t slot)
{
    if (!ctx)
        return LHOST_EINVAL;
    return ENV_CALL(ctx, restore_weights, LHOST_EUNSUPPORTED, slot);
}

static int32_t svc_get_hparam(lhost_ctx *ctx, const char *name, double *out)
{
    if (!ctx || !name || !out)
        return LHOST_EINVAL;
    return ENV_CALL(ctx, get_hparam, LHOST_EUNSUPPORTED, name, out);
}

static int32_t svc_set_hparam(lhost_ctx *ctx, const char *name, double value)
{
    if (!ctx || !name)
        return LHOST_EINVAL;
    return ENV_CALL(ctx, set_hparam, LHOST_EUNSUPPORTED, name, value);
}

static int32_t svc_value_higher_is_better(lhost_ctx *ctx, const char *key, int32_t *out)
{
    if (!ctx || !key || !out)
        return LHOST_EINVAL;
    return ENV_CALL(ctx, higher_is_better, LHOST_ENOTFOUND, key, out);
}

/* ---- since ABI 1.1: tensors, the batch, stop flags, checkpoint metadata ------------------ */

/* The env call `fn` for a service that may be refused with a reason: (user, ..., why, cap),
 * the reason landing in the instance's error text. */
#define ENV_CALL_WHY(ctx, fn, ...)                                                              \
    (!(ctx)->env || !(ctx)->env->fn                                                             \
         ? LHOST_EUNSUPPORTED                                                                  \
         : (ctx)->env->fn((ctx)->env->user, __VA_ARGS__, (ctx)->error, sizeof (ctx)->error))

static int32_t svc_tensor_count(lhost_ctx *ctx, int32_t *out)
{
    if (!ctx || !out)
        return LHOST_EINVAL;
    return ENV_CALL(ctx, tensor_count, LHOST_EUNSUPPORTED, out);
}

/* The env's answer `full` into the plugin's `out`, as trainer_state: only what the plugin's
 * struct has room for, its own struct_size kept. */
static int32_t tensor_info_out(lhost_tensor_info *out, lhost_tensor_info *full, int32_t rc)
{
    uint32_t n;
    if (rc != LHOST_OK)
        return rc;
    n = out->struct_size < sizeof *full ? out->struct_size : (uint32_t)sizeof *full;
    full->struct_size = out->struct_size;
    memcpy(out, full, n);
    return LHOST_OK;
}

#define TENSOR_INFO_OK(ctx, out) ((ctx) && (out) && (out)->struct_size >= sizeof(uint32_t))

static int32_t svc_tensor_info(lhost_ctx *ctx, int32_t index, lhost_tensor_info *out)
{
    lhost_tensor_info full = {.struct_size = sizeof full};
    if (!TENSOR_INFO_OK(ctx, out))
        return LHOST_EINVAL;
    return tensor_info_out(out, &full, ENV_CALL(ctx, tensor_info, LHOST_EUNSUPPORTED, index,
                                                &full));
}

static int32_t svc_tensor_find(lhost_ctx *ctx, const char *name, int32_t *index)
{
    if (!ctx || !name || !index)
        return LHOST_EINVAL;
    return ENV_CALL(ctx, tensor_find, LHOST_EUNSUPPORTED, name, index);
}

static int32_t svc_tensor_read(lhost_ctx *ctx, int32_t index, int32_t what, float *dst,
                               uint64_t numel)
{
    if (!ctx || !dst)
        return LHOST_EINVAL;
    return ENV_CALL_WHY(ctx, tensor_read, index, what, dst, numel);
}

static int32_t svc_tensor_write(lhost_ctx *ctx, int32_t index, const float *src, uint64_t numel)
{
    if (!ctx || !src)
        return LHOST_EINVAL;
    return ENV_CALL_WHY(ctx, tensor_write, index, src, numel);
}

static int32_t svc_grad_norm(lhost_ctx *ctx, double p, double *per_tensor, double *total)
{
    if (!ctx || !(p > 0))
        return LHOST_EINVAL;
    return ENV_CALL_WHY(ctx, grad_norm, p, per_tensor, total);
}

static int32_t svc_grad_scale(lhost_ctx *ctx, double factor)
{
    if (!ctx || !isfinite(factor))
        return LHOST_EINVAL;
    return ENV_CALL_WHY(ctx, grad_scale, factor);
}

static int32_t svc_clip_grad_norm(lhost_ctx *ctx, double max_norm, double p, double *total)
{
    if (!ctx || !(p > 0) || !(max_norm >= 0) || !isfinite(max_norm))
        return LHOST_EINVAL;
    return ENV_CALL_WHY(ctx, clip_grad_norm, max_norm, p, total);
}

static int32_t svc_clip_grad_value(lhost_ctx *ctx, double clip_value)
{
    if (!ctx || !(clip_value >= 0) || !isfinite(clip_value))
        return LHOST_EINVAL;
    return ENV_CALL_WHY(ctx, clip_grad_value, clip_value);
}

static int32_t svc_batch_logits(lhost_ctx *ctx, float *dst, uint64_t numel)
{
    if (!ctx || !dst)
        return LHOST_EINVAL;
    return ENV_CALL_WHY(ctx, batch_logits, dst, numel);
}

static int32_t svc_request_stop_flags(lhost_ctx *ctx, const char *reason, uint32_t flags)
{
    if (!ctx || (flags & ~LHOST_STOP_NOW))
        return LHOST_EINVAL;
    ctx->stop_requested = 1;
    return ENV_CALL(ctx, request_stop_flags, LHOST_OK, ctx->desc->id, reason ? reason : "",
                    flags);
}

static int32_t svc_checkpoint_put(lhost_ctx *ctx, const char *key, const char *value)
{
    if (!ctx || !key || !value)
        return LHOST_EINVAL;
    return ENV_CALL_WHY(ctx, checkpoint_put, ctx->state_key, key, value);
}

static int32_t svc_checkpoint_get(lhost_ctx *ctx, const char *key, char *buf, uint64_t cap)
{
    if (!ctx || !key || !buf || !cap)
        return LHOST_EINVAL;
    return ENV_CALL(ctx, checkpoint_get, LHOST_EUNSUPPORTED, ctx->state_key, key, buf, cap);
}

static int32_t svc_optimizer_name(lhost_ctx *ctx, char *buf, uint64_t cap)
{
    if (!ctx || !buf || !cap)
        return LHOST_EINVAL;
    return ENV_CALL(ctx, optimizer_name, LHOST_EUNSUPPORTED, buf, cap);
}

static int32_t svc_buffer_count(lhost_ctx *ctx, int32_t *out)
{
    if (!ctx || !out)
        return LHOST_EINVAL;
    return ENV_CALL(ctx, buffer_count, LHOST_EUNSUPPORTED, out);
}

static int32_t svc_buffer_info(lhost_ctx *ctx, int32_t index, lhost_tensor_info *out)
{
    lhost_tensor_info full = {.struct_size = sizeof full};
    if (!TENSOR_INFO_OK(ctx, out))
        return LHOST_EINVAL;
    return tensor_info_out(out, &full, ENV_CALL(ctx, buffer_info, LHOST_EUNSUPPORTED, index,
                                                &full));
}

static int32_t svc_buffer_read(lhost_ctx *ctx, int32_t index, void *dst, uint64_t numel)
{
    if (!ctx || !dst)
        return LHOST_EINVAL;
    return ENV_CALL_WHY(ctx, buffer_read, index, dst, numel);
}

static int32_t svc_buffer_write(lhost_ctx *ctx, int32_t index, const void *src, uint64_t numel)
{
    if (!ctx || !src)
        return LHOST_EINVAL;
    return ENV_CALL_WHY(ctx, buffer_write, index, src, numel);
}

static int32_t svc_update_bn(lhost_ctx *ctx)
{
    if (!ctx)
        return LHOST_EINVAL;
    return !ctx->env || !ctx->env->update_bn
               ? LHOST_EUNSUPPORTED
               : ctx->env->update_bn(ctx->env->user, ctx->error, sizeof ctx->error);
}

static const lhost_host services = {
    .struct_size = sizeof(lhost_host),
    .abi = LHOST_ABI_VERSION_INIT,
    .name = "lhost",
    .version = LH_VERSION,
    .log = svc_log,
    .set_error = svc_set_error,
    .get_value = svc_get_value,
    .log_value = svc_log_value,
    .request_stop = svc_request_stop,
    .save_checkpoint = svc_save_checkpoint,
    .trainer_state = svc_trainer_state,
    .alloc = svc_alloc,
    .free = svc_free,
    .list_values = svc_list_values,
    .snapshot_weights = svc_snapshot_weights,
    .restore_weights = svc_restore_weights,
    .get_hparam = svc_get_hparam,
    .set_hparam = svc_set_hparam,
    .value_higher_is_better = svc_value_higher_is_better,
    .tensor_count = svc_tensor_count,
    .tensor_info = svc_tensor_info,
    .tensor_find = svc_tensor_find,
    .tensor_read = svc_tensor_read,
    .tensor_write = svc_tensor_write,
    .grad_norm = svc_grad_norm,
    .grad_scale = svc_grad_scale,
    .clip_grad_norm = svc_clip_grad_norm,
    .clip_grad_value = svc_clip_grad_value,
    .batch_logits = svc_batch_logits,
    .request_stop_flags = svc_request_stop_flags,
    .checkpoint_put = svc_checkpoint_put,
    .checkpoint_get = svc_checkpoint_get,
    .optimizer_name = svc_optimizer_name,
    .buffer_count = svc_buffer_count,
    .buffer_info = svc_buffer_info,
    .buffer_read = svc_buffer_read,
    .buffer_write = svc_buffer_write,
    .update_bn = svc_update_bn,
};

const lhost_host *lh_services_table(void) { return &services; }
