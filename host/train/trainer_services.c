/* host/train/trainer_services.c — the host services plugins reach through lhost_host, backed
 * by one trainer: the lh_host_env the plugin room routes every service call to (services.h).
 * Logged values, stop requests, checkpoints on demand, the trainer's counters, weight
 * snapshots and the optimizer's learning rate. */
#include "ckpt.h"
#include "progress.h"
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
    s.rank = 0;
    s.world_size = 1;
    s.is_global_zero = 1;
    s.stop_requested = t->stop_requested;
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

static int32_t env_get_hparam(void *user, const char *name, double *out)
{
    lh_trainer *t = user;
    if (strcmp(name, "lr") != 0 || !t->optim.be)
        return LHOST_ENOTFOUND;
    *out = t->optim.lr;
    return LHOST_OK;
}

static int32_t env_set_hparam(void *user, const char *name, double value)
{
    lh_trainer *t = user;
    if (strcmp(name, "lr") != 0 || !t->optim.be)
        return LHOST_ENOTFOUND;
    if (!isfinite(value) || value < 0 || value > 1e6)
        return LHOST_EINVAL;
    t->optim.lr = value;
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

/* Plugins' log lines go to stderr as services.c prints them without an env, but each on its
 * own line above the progress bar rather than glued onto it. */
static void env_log(void *user, const char *who, int32_t level, const char *msg)
{
    static const char *const names[] = {"debug", "info", "warning", "error"};
    char line[2048];
    (void)user;
    if (level < LHOST_LOG_INFO)
        return;
    snprintf(line, sizeof line, "lhost: %s: %s: %s", who, level <= 3 ? names[level] : "info",
             msg);
    lh_progress_message(stderr, line);
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
    };
    t->env = calls;
    t->env.user = t;
}
