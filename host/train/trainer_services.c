/* host/train/trainer_services.c — the host services plugins reach through lhost_host, backed
 * by one trainer: the lh_host_env the plugin room routes every service call to (services.h).
 * Logged values, stop requests, checkpoints on demand, the trainer's counters, weight
 * snapshots and the optimizer's learning rate; since ABI 1.1 the model's tensors (each service
 * checks the window it is valid in: gradients between backward and the optimizer step), the
 * batch's logits, stops after the current batch, checkpoint metadata, and the optimizer's name
 * and momentum. */
#include "ckpt.h"
#include "dist.h"
#include "loop_limits.h"
#include "progress.h"
#include "safetensors.h"
#include "trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int32_t env_get_value(void *user, const char *key, double *out)
{
    lh_trainer *t = user;
    return lh_logstore_get(&t->log, key, out) ? LHOST_ENOTFOUND : LHOST_OK;
}

static int32_t env_log_value(void *user, const char *key, double value, uint32_t flags)
{
    lh_trainer *t = user;
    if (lh_logstore_put(&t->log, key, value, 1.0, flags))
        return LHOST_EINVAL;
    /* Into the row being built: a step row during batches, the epoch row at epoch end. */
    lh_logstore_row_add(&t->log, key, value);
    return LHOST_OK;
}

static int32_t env_list_values(void *user, lhost_value_visitor visit, void *visit_user)
{
    lh_trainer *t = user;
    int32_t i;
    for (i = 0; i < t->log.n; i++)
        if (visit(visit_user, t->log.vals[i].key, t->log.vals[i].value))
            break;
    return LHOST_OK;
}

static int32_t env_request_stop(void *user, const char *who, const char *reason)
{
    lh_trainer *t = user;
    if (!t->stop_requested)
        snprintf(t->stop_reason, sizeof t->stop_reason, "%s: %s", who,
                 reason && reason[0] ? reason : "stop requested");
    t->stop_requested = 1;
    return LHOST_OK;
}

/* Saves made from on_exception are noted, so the interrupted run can say what it kept. */
static int32_t env_save_checkpoint(void *user, const char *path, uint32_t flags, lh_error *err)
{
    lh_trainer *t = user;
    size_t n = strlen(t->exception_saves);
    /* every rank holds the same state: rank 0 writes it; fast_dev_run writes none */
    if (lh_dist_rank() != 0 || t->opts.fast_dev_run)
        return LHOST_OK;
    if (lh_ckpt_save(t, path, flags, err))
        return LHOST_EIO;
    if (t->in_exception)
        snprintf(t->exception_saves + n, sizeof t->exception_saves - n, "%s%s", n ? ", " : "",
                 path);
    return LHOST_OK;
}

static void env_trainer_state(void *user, lhost_trainer_state *out)
{
    lh_trainer *t = user;
    lhost_trainer_state s;
    uint32_t n = out->struct_size < sizeof s ? out->struct_size : (uint32_t)sizeof s;
    memset(&s, 0, sizeof s);
    s.struct_size = n;
    s.stage = t->stage;
    s.epoch = t->epoch;
    s.global_step = t->global_step;
    s.batch_idx = t->batch_idx;
    s.num_train_batches = t->num_train_batches;
    s.max_epochs = t->opts.max_epochs;
    s.min_epochs = t->opts.min_epochs;
    s.rank = lh_dist_rank();
    s.world_size = lh_dist_world();
    s.is_global_zero = s.rank == 0;
    s.stop_requested = t->stop_requested;
    s.grads_valid = t->grads_valid;
    s.sanity_checking = t->sanity_checking;
    memcpy(out, &s, n);
}

static int32_t env_snapshot(void *user, int32_t slot)
{
    lh_trainer *t = user;
    size_t bytes = (size_t)t->model.total_params * 4;
    if (slot < 0 || slot >= LH_MAX_SNAPSHOTS)
        return LHOST_EINVAL;
    if (!t->snapshots[slot] && !(t->snapshots[slot] = malloc(bytes)))
        return LHOST_ENOMEM;
    return t->be->download(t->bctx, t->snapshots[slot], t->model.param, bytes) ? LHOST_EIO
                                                                               : LHOST_OK;
}

static int32_t env_restore(void *user, int32_t slot)
{
    lh_trainer *t = user;
    if (slot < 0 || slot >= LH_MAX_SNAPSHOTS || !t->snapshots[slot])
        return LHOST_EINVAL;
    return t->be->upload(t->bctx, t->model.param, t->snapshots[slot],
                         (size_t)t->model.total_params * 4)
               ? LHOST_EIO
               : LHOST_OK;
}

/* "momentum" as LearningRateMonitor reads it: betas[0] where the optimizer has betas;
 * "log_every_n_steps" for callbacks that log per step as Lightning's logger connector does. */
static int32_t env_get_hparam(void *user, const char *name, double *out)
{
    lh_trainer *t = user;
    if (strcmp(name, "log_every_n_steps") == 0) {
        *out = (double)t->opts.log_every_n_steps;
        return LHOST_OK;
    }
    if (lh_loop_get_hparam(t, name, out))
        return LHOST_OK;
    if (!t->optim.be)
        return LHOST_ENOTFOUND;
    if (strcmp(name, "lr") == 0)
        *out = t->optim.lr;
    else if (strcmp(name, "momentum") == 0)
        *out = t->optim.type == LH_OPTIM_SGD ? t->optim.momentum : t->optim.beta1;
    else
        return LHOST_ENOTFOUND;
    return LHOST_OK;
}

/* The torch class a config's optimizer name stands for. */
static int32_t env_optimizer_name(void *user, char *buf, uint64_t cap)
{
    static const char *const names[][2] = {{"adam", "Adam"}, {"adamw", "AdamW"}, {"sgd", "SGD"}};
    lh_trainer *t = user;
    const char *n;
    size_t i;
    if (!t->optim.be)
        return LHOST_ENOTFOUND;
    n = lh_optim_name(&t->optim);
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(n, names[i][0]) == 0)
            n = names[i][1];
    if (strlen(n) >= cap)
        return LHOST_EINVAL;
    memcpy(buf, n, strlen(n) + 1);
    return LHOST_OK;
}

/* "lr", and "momentum" as torch's OneCycleLR cycles it: betas[0] for Adam and AdamW (torch's
 * 0 <= beta1 < 1), momentum for SGD (0..1, above 0 with Nesterov). Both apply from the next
 * optimizer step and are saved with the optimizer, as torch's param_groups are. */
static int32_t env_set_hparam(void *user, const char *name, double value)
{
    lh_trainer *t = user;
    int32_t sgd = t->optim.type == LH_OPTIM_SGD;
    if (!t->optim.be || (strcmp(name, "lr") != 0 && strcmp(name, "momentum") != 0))
        return LHOST_ENOTFOUND;
    if (name[0] == 'l') {
        if (!isfinite(value) || value < 0 || value > 1e6)
            return LHOST_EINVAL;
        t->optim.lr = value;
        return LHOST_OK;
    }
    if (!(value >= 0) || (sgd ? value > 1 : value >= 1) ||
        (sgd && t->optim.nesterov && value <= 0))
        return LHOST_EINVAL;
    *(sgd ? &t->optim.momentum : &t->optim.beta1) = value;
    return LHOST_OK;
}

static int32_t env_higher_is_better(void *user, const char *key, int32_t *out)
{
    lh_trainer *t = user;
    const char *bare = strncmp(key, "val_", 4) == 0 ? key + 4 : key;
    char name[128];
    int32_t i;
    uint32_t k;
    if (strcmp(bare, "loss") == 0 || strcmp(key, "train_loss") == 0) {
        *out = 0;
        return LHOST_OK;
    }
    for (i = 0; i < t->n_metrics; i++)
        for (k = 0; k < t->metrics[i].n_outputs; k++) {
            lh_metric_run_name(&t->metrics[i], "", k, name, sizeof name);
            if (strcmp(name, bare) == 0) {
                *out = t->metrics[i].vt->higher_is_better != 0;
                return LHOST_OK;
            }
        }
    return LHOST_ENOTFOUND;
}

/* ---- since ABI 1.1: the model's tensors, the batch, stop flags, checkpoint metadata ------- */

/* Record `msg` as the reason a service refused (the calling instance's error text). */
static int32_t refuse(char *why, size_t cap, int32_t rc, const char *msg)
{
    snprintf(why, cap, "%s", msg);
    return rc;
}

static int32_t no_model(const lh_trainer *t) { return !t->model.be || !t->model.param; }

static int32_t env_tensor_count(void *user, int32_t *out)
{
    lh_trainer *t = user;
    if (no_model(t))
        return LHOST_EUNSUPPORTED;
    *out = t->model.n_params;
    return LHOST_OK;
}

static int32_t env_tensor_info(void *user, int32_t index, lhost_tensor_info *out)
{
    lh_trainer *t = user;
    const lh_param_info *p;
    int32_t d;
    if (no_model(t))
        return LHOST_EUNSUPPORTED;
    if (index < 0 || index >= t->model.n_params)
        return LHOST_EINVAL;
    p = &t->model.params[index];
    out->dtype = LHOST_TENSOR_F32;
    out->name = p->name;
    out->ndim = p->ndim;
    out->index = index;
    for (d = 0; d < 4; d++)
        out->shape[d] = d < p->ndim ? p->shape[d] : 0;
    out->numel = p->numel;
    return LHOST_OK;
}

static int32_t env_tensor_find(void *user, const char *name, int32_t *index)
{
    lh_trainer *t = user;
    if (no_model(t))
        return LHOST_EUNSUPPORTED;
    *index = lh_model_tensor_find(&t->model, name);
    return *index < 0 ? LHOST_ENOTFOUND : LHOST_OK;
}

/* A tensor index and a plugin buffer of `numel` floats that must match it. */
static int32_t check_tensor(const lh_trainer *t, int32_t index, uint64_t numel, char *why,
                            size_t cap)
{
    if (no_model(t))
        return LHOST_EUNSUPPORTED;
    if (index < 0 || index >= t->model.n_params) {
        snprintf(why, cap, "tensor index %d: the model has %d tensors", (int)index,
                 (int)t->model.n_params);
        return LHOST_EINVAL;
    }
    if (numel != (uint64_t)t->model.params[index].numel) {
        snprintf(why, cap, "tensor %s has %lld elements, the buffer %llu",
                 t->model.params[index].name, (long long)t->model.params[index].numel,
                 (unsigned long long)numel);
        return LHOST_EINVAL;
    }
    return LHOST_OK;
}

#define GRADS_WINDOW "gradients are valid only from on_after_backward to on_before_optimizer_step"

static int32_t backend_status(int rc, const lh_error *err, char *why, size_t cap)
{
    return rc ? refuse(why, cap, LHOST_EIO, err->msg) : LHOST_OK;
}

static int32_t env_tensor_read(void *user, int32_t index, int32_t what, float *dst,
                               uint64_t numel, char *why, size_t cap)
{
    lh_trainer *t = user;
    const lh_dmem *buf = NULL;
    lh_error err;
    int32_t rc = check_tensor(t, index, numel, why, cap);
    int32_t adam = t->optim.type != LH_OPTIM_SGD;
    if (rc != LHOST_OK)
        return rc;
    switch (what) {
    case LHOST_TENSOR_PARAM: buf = t->model.param; break;
    case LHOST_TENSOR_GRAD:
        if (!t->grads_valid)
            return refuse(why, cap, LHOST_EUNSUPPORTED, "tensor_read: " GRADS_WINDOW);
        buf = t->model.grad;
        break;
    case LHOST_TENSOR_EXP_AVG:
    case LHOST_TENSOR_EXP_AVG_SQ:
    case LHOST_TENSOR_MOMENTUM_BUFFER:
        if (!t->optim.be)
            return refuse(why, cap, LHOST_EUNSUPPORTED, "tensor_read: no optimizer in this stage");
        if ((what == LHOST_TENSOR_MOMENTUM_BUFFER) == adam) {
            snprintf(why, cap, "tensor_read: optimizer %s has no %s", lh_optim_name(&t->optim),
                     what == LHOST_TENSOR_MOMENTUM_BUFFER ? "momentum_buffer"
                     : what == LHOST_TENSOR_EXP_AVG       ? "exp_avg"
                                                          : "exp_avg_sq");
            return LHOST_EUNSUPPORTED;
        }
        /* torch keeps no momentum_buffer for SGD without momentum */
        if (what == LHOST_TENSOR_MOMENTUM_BUFFER && t->optim.momentum == 0)
            return refuse(why, cap, LHOST_EUNSUPPORTED,
                          "tensor_read: optimizer sgd has no momentum_buffer (momentum 0)");
        buf = what == LHOST_TENSOR_EXP_AVG_SQ ? t->optim.v : t->optim.m;
        break;
    default:
        snprintf(why, cap, "tensor_read: unknown tensor kind %d", (int)what);
        return LHOST_EINVAL;
    }
    return backend_status(lh_model_tensor_read(&t->model, buf, index, dst, &err), &err, why,
                          cap);
}

static int32_t env_tensor_write(void *user, int32_t index, const float *src, uint64_t numel,
                                char *why, size_t cap)
{
    lh_trainer *t = user;
    lh_error err;
    int32_t rc = check_tensor(t, index, numel, why, cap);
    if (rc != LHOST_OK)
        return rc;
    if (t->grads_valid)
        return refuse(why, cap, LHOST_EUNSUPPORTED,
                      "tensor_write: not between backward and the optimizer step");
    return backend_status(lh_model_tensor_write(&t->model, index, src, &err), &err, why, cap);
}

static int32_t grads_window(const lh_trainer *t, const char *what, char *why, size_t cap)
{
    if (no_model(t))
        return LHOST_EUNSUPPORTED;
    if (!t->grads_valid) {
        snprintf(why, cap, "%s: " GRADS_WINDOW, what);
        return LHOST_EUNSUPPORTED;
    }
    return LHOST_OK;
}

static int32_t env_grad_norm(void *user, double p, double *per_tensor, double *total, char *why,
                             size_t cap)
{
    lh_trainer *t = user;
    lh_error err;
    int32_t rc = grads_window(t, "grad_norm", why, cap);
    if (rc != LHOST_OK)
        return rc;
    return backend_status(lh_model_grad_norm(&t->model, p, per_tensor, total, &err), &err, why,
                          cap);
}

static int32_t env_grad_scale(void *user, double factor, char *why, size_t cap)
{
    lh_trainer *t = user;
    lh_error err;
    int32_t rc = grads_window(t, "grad_scale", why, cap);
    if (rc != LHOST_OK)
        return rc;
    return backend_status(lh_model_grad_scale(&t->model, factor, &err), &err, why, cap);
}

static int32_t env_clip_grad_norm(void *user, double max_norm, double p, double *total,
                                  char *why, size_t cap)
{
    lh_trainer *t = user;
    lh_error err;
    int32_t rc = grads_window(t, "clip_grad_norm", why, cap);
    if (rc != LHOST_OK)
        return rc;
    return backend_status(lh_model_clip_grad_norm(&t->model, max_norm, p, total, &err), &err,
                          why, cap);
}

static int32_t env_clip_grad_value(void *user, double clip_value, char *why, size_t cap)
{
    lh_trainer *t = user;
    lh_error err;
    int32_t rc = grads_window(t, "clip_grad_value", why, cap);
    if (rc != LHOST_OK)
        return rc;
    return backend_status(lh_model_clip_grad_value(&t->model, clip_value, &err), &err, why,
                          cap);
}

static int32_t env_batch_logits(void *user, float *dst, uint64_t numel, char *why, size_t cap)
{
    lh_trainer *t = user;
    uint64_t want = (uint64_t)t->batch_rows * (uint64_t)t->model.num_outputs;
    if (t->batch_rows <= 0)
        return refuse(why, cap, LHOST_EUNSUPPORTED,
                      "batch_logits: only in on_train_batch_end, on_validation_batch_end and "
                      "on_predict_batch_end");
    if (numel != want) {
        snprintf(why, cap, "batch_logits: the batch has %llu logits (%d x %d), the buffer %llu",
                 (unsigned long long)want, (int)t->batch_rows, (int)t->model.num_outputs,
                 (unsigned long long)numel);
        return LHOST_EINVAL;
    }
    if (t->be->download(t->bctx, dst, lh_model_logits(&t->model), (size_t)want * 4))
        return refuse(why, cap, LHOST_EIO, t->be->last_error(t->bctx));
    return LHOST_OK;
}

static int32_t env_request_stop_flags(void *user, const char *who, const char *reason,
                                      uint32_t flags)
{
    lh_trainer *t = user;
    if (flags & LHOST_STOP_NOW)
        t->stop_now = 1;
    return env_request_stop(user, who, reason);
}

static int32_t meta_key(char *out, size_t cap, const char *state_key, const char *key)
{
    const char *c;
    if (!key[0])
        return -1;
    for (c = key; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '.'))
            return -1;
    return snprintf(out, cap, "callback.%s.%s", state_key, key) >= (int)cap ? -1 : 0;
}

static int32_t env_checkpoint_put(void *user, const char *state_key, const char *key,
                                  const char *value, char *why, size_t cap)
{
    lh_trainer *t = user;
    char full[512];
    int32_t i;
    if (t->ckpt_hook != LH_HOOK_SAVE_CHECKPOINT)
        return refuse(why, cap, LHOST_EUNSUPPORTED, "checkpoint_put: only in on_save_checkpoint");
    if (meta_key(full, sizeof full, state_key, key)) {
        snprintf(why, cap, "checkpoint_put: key \"%s\": expected [a-z0-9_.]+", key);
        return LHOST_EINVAL;
    }
    for (i = 0; i < t->n_ckpt_meta && strcmp(t->ckpt_meta[i][0], full) != 0; i++)
        ;
    if (i == LH_MAX_CKPT_META)
        return refuse(why, cap, LHOST_ENOMEM, "checkpoint_put: at most 64 entries");
    if (i == t->n_ckpt_meta) { /* a new entry; the slot is empty (NULLs) */
        t->ckpt_meta[i][0] = strdup(full);
        t->n_ckpt_meta++;
    }
    free(t->ckpt_meta[i][1]);
    t->ckpt_meta[i][1] = strdup(value);
    return t->ckpt_meta[i][0] && t->ckpt_meta[i][1] ? LHOST_OK : LHOST_ENOMEM;
}

static int32_t env_checkpoint_get(void *user, const char *state_key, const char *key, char *buf,
                                  uint64_t cap)
{
    lh_trainer *t = user;
    char full[512];
    const char *v;
    if (t->ckpt_hook != LH_HOOK_LOAD_CHECKPOINT || !t->ckpt_loading)
        return LHOST_EUNSUPPORTED;
    if (meta_key(full, sizeof full, state_key, key))
        return LHOST_EINVAL;
    if (!(v = lh_safetensors_meta_get(t->ckpt_loading, full)))
        return LHOST_ENOTFOUND;
    if (strlen(v) >= cap)
        return LHOST_EINVAL;
    memcpy(buf, v, strlen(v) + 1);
    return LHOST_OK;
}

void lh_trainer_ckpt_meta_clear(lh_trainer *t)
{
    int32_t i;
    for (i = 0; i < t->n_ckpt_meta; i++) {
        free(t->ckpt_meta[i][0]);
        free(t->ckpt_meta[i][1]);
        t->ckpt_meta[i][0] = t->ckpt_meta[i][1] = NULL;
    }
    t->n_ckpt_meta = 0;
}

/* Plugins' log lines go to stderr as services.c prints them without an env (with the rank
 * under mpirun), but each on its own line above the progress bar rather than glued onto it. */
static void env_log(void *user, const char *who, int32_t level, const char *msg)
{
    static const char *const names[] = {"debug", "info", "warning", "error"};
    char line[2048];
    (void)user;
    if (level < LHOST_LOG_INFO)
        return;
    snprintf(line, sizeof line, "lhost: %s%s: %s: %s", lh_dist_prefix(), who,
             level <= 3 ? names[level] : "info", msg);
    lh_progress_message(stderr, line);
}

static int32_t env_buffer_count(void *user, int32_t *out)
{
    lh_trainer *t = user;
    if (no_model(t))
        return LHOST_EUNSUPPORTED;
    *out = lh_model_buffer_count(&t->model);
    return LHOST_OK;
}

static int32_t env_buffer_info(void *user, int32_t index, lhost_tensor_info *out)
{
    lh_trainer *t = user;
    lh_model_buffer b;
    if (no_model(t))
        return LHOST_EUNSUPPORTED;
    if (lh_model_buffer_get(&t->model, index, &b))
        return LHOST_EINVAL;
    /* the name must outlive the call: kept in t, one slot per buffer */
    snprintf(t->buffer_names[index], sizeof t->buffer_names[0], "%s", b.name);
    out->dtype = b.is_count ? LHOST_TENSOR_I64 : LHOST_TENSOR_F32;
    out->name = t->buffer_names[index];
    out->ndim = b.is_count ? 0 : 1;
    out->index = index;
    memset(out->shape, 0, sizeof out->shape);
    out->shape[0] = b.is_count ? 0 : b.numel;
    out->numel = b.numel;
    return LHOST_OK;
}

/* A buffer index and a plugin buffer of `numel` elements that must match it. */
static int32_t check_buffer(const lh_trainer *t, int32_t index, uint64_t numel,
                            lh_model_buffer *b, char *why, size_t cap)
{
    if (no_model(t))
        return LHOST_EUNSUPPORTED;
    if (lh_model_buffer_get(&t->model, index, b)) {
        snprintf(why, cap, "buffer index %d: the model has %d buffers", (int)index,
                 (int)lh_model_buffer_count(&t->model));
        return LHOST_EINVAL;
    }
    if (numel != (uint64_t)b->numel) {
        snprintf(why, cap, "buffer %s has %lld elements, the plugin's %llu", b->name,
                 (long long)b->numel, (unsigned long long)numel);
        return LHOST_EINVAL;
    }
    return LHOST_OK;
}

static int32_t env_buffer_read(void *user, int32_t index, void *dst, uint64_t numel, char *why,
                               size_t cap)
{
    lh_trainer *t = user;
    lh_model_buffer b;
    lh_error err;
    int32_t rc = check_buffer(t, index, numel, &b, why, cap);
    if (rc != LHOST_OK)
        return rc;
    return backend_status(lh_model_buffer_read(&t->model, index, dst, &err), &err, why, cap);
}

static int32_t env_buffer_write(void *user, int32_t index, const void *src, uint64_t numel,
                                char *why, size_t cap)
{
    lh_trainer *t = user;
    lh_model_buffer b;
    lh_error err;
    int32_t rc = check_buffer(t, index, numel, &b, why, cap);
    if (rc != LHOST_OK)
        return rc;
    if (t->grads_valid)
        return refuse(why, cap, LHOST_EUNSUPPORTED,
                      "buffer_write: not between backward and the optimizer step");
    return backend_status(lh_model_buffer_write(&t->model, index, src, &err), &err, why, cap);
}

static int32_t env_update_bn(void *user, char *why, size_t cap)
{
    lh_trainer *t = user;
    lh_error err;
    if (no_model(t))
        return LHOST_EUNSUPPORTED;
    if (!t->in_train_end)
        return refuse(why, cap, LHOST_EUNSUPPORTED, "update_bn: only in on_train_end of a fit");
    return backend_status(lh_trainer_update_bn(t, &err), &err, why, cap);
}

void lh_trainer_env_init(lh_trainer *t)
{
    static const lh_host_env calls = {
        .log = env_log,
        .get_value = env_get_value,
        .log_value = env_log_value,
        .list_values = env_list_values,
        .request_stop = env_request_stop,
        .save_checkpoint = env_save_checkpoint,
        .trainer_state = env_trainer_state,
        .snapshot_weights = env_snapshot,
        .restore_weights = env_restore,
        .get_hparam = env_get_hparam,
        .set_hparam = env_set_hparam,
        .higher_is_better = env_higher_is_better,
        .tensor_count = env_tensor_count,
        .tensor_info = env_tensor_info,
        .tensor_find = env_tensor_find,
        .tensor_read = env_tensor_read,
        .tensor_write = env_tensor_write,
        .grad_norm = env_grad_norm,
        .grad_scale = env_grad_scale,
        .clip_grad_norm = env_clip_grad_norm,
        .clip_grad_value = env_clip_grad_value,
        .batch_logits = env_batch_logits,
        .request_stop_flags = env_request_stop_flags,
        .checkpoint_put = env_checkpoint_put,
        .checkpoint_get = env_checkpoint_get,
        .optimizer_name = env_optimizer_name,
        .buffer_count = env_buffer_count,
        .buffer_info = env_buffer_info,
        .buffer_read = env_buffer_read,
        .buffer_write = env_buffer_write,
        .update_bn = env_update_bn,
    };
    t->env = calls;
    t->env.user = t;
}
