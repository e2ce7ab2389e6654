/* plugins/model_checkpoint/model_checkpoint.c — the ModelCheckpoint callback plugin
 * (org.lhost.model_checkpoint), Lightning's ModelCheckpoint: keep the top-k checkpoints by a
 * monitored value, optionally a last.ckpt (file or symlink), saved through host->save_checkpoint.
 * Built against the SDK alone. See README.md for the parameters and the differences.
 *
 * Saves happen in on_validation_end (or on_train_epoch_end with save_on_train_epoch_end) every
 * every_n_epochs epochs, and in on_train_batch_end every every_n_train_steps optimizer steps.
 * It only ever deletes files listed in its own state, and only when they sit directly inside
 * dirpath and carry a name its filename template (or last.ckpt) gives. File system changes
 * (delete, symlink) happen on the global-zero rank only. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lhost/lhost.h>

#include "../common/fmt.h"
#include "../common/monitor.h"
#include "../common/state_bytes.h"
#include "ckpt_name.h"
#include "topk.h"

#define MC_STATE_VERSION 1u
#define MC_PATH_MAX 4096
#define MC_SAVE_LAST_FALSE 0
#define MC_SAVE_LAST_TRUE 1
#define MC_SAVE_LAST_LINK 2

typedef struct mc {
    const lhost_host *host;
    /* parameters */
    char *dirpath, *filename, *monitor; /* monitor NULL: no monitor */
    int mode_max;
    int64_t save_top_k; /* -1 all, 0 none, k */
    int save_last;      /* MC_SAVE_LAST_* */
    int64_t every_n_epochs, every_n_train_steps;
    int save_weights_only, auto_insert, version_counter, verbose, on_train_epoch_end;
    /* state (saved) */
    mc_topk topk;
    char *best_path;  /* best_model_path; with no monitor, the latest top-k save */
    double best_score; /* NaN when none */
    char *last_path;  /* last_model_path */
    char *last_saved; /* the latest file saved for real (what a last.ckpt link points to) */
    int64_t last_step_saved;
    int64_t next_seq;
    /* run-time only */
    lhost_trainer_state ts; /* read at the start of each hook */
    int warned_keys;
    lhp_wbuf saved;
} mc;

static const char *const mc_modes[] = {"min", "max", NULL};
static const char *const mc_save_last_choices[] = {"false", "true", "link", NULL};
static const char *const mc_tie_choices[] = {"first", "last", NULL};

static const lhost_param mc_params[] = {
    {sizeof(lhost_param), LHOST_PARAM_STRING, "dirpath",
     "folder of the checkpoints (created if missing)", "checkpoints", NULL, 0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_STRING, "filename",
     "name template without .ckpt, e.g. modelo-{val_acc:.5f}; omitted: {epoch}-{step}", NULL,
     NULL, 0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_STRING, "monitor",
     "logged value that ranks checkpoints; omitted: keep the latest", NULL, NULL, 0, 0,
     LHOST_PARAM_IDENTITY},
    {sizeof(lhost_param), LHOST_PARAM_ENUM, "mode",
     "min or max; omitted: max for acc/precision/recall/f1/fbeta/specificity keys, else min",
     NULL, mc_modes, 0, 0, LHOST_PARAM_IDENTITY},
    {sizeof(lhost_param), LHOST_PARAM_INT, "save_top_k",
     "checkpoints to keep: -1 all, 0 none, k the k best", "1", NULL, -1, 0, LHOST_PARAM_HAS_MIN},
    {sizeof(lhost_param), LHOST_PARAM_ENUM, "tie_break",
     "which of equal scores ranks better: first (never replaced by a tie) or last", "first",
     mc_tie_choices, 0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_ENUM, "save_last",
     "also keep last.ckpt: false, true (a full save) or link (a symlink to the latest save)",
     "false", mc_save_last_choices, 0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_INT, "every_n_epochs",
     "epochs between top-k checks (0: never); omitted: 1 unless every_n_train_steps is set",
     NULL, NULL, 0, 0, LHOST_PARAM_HAS_MIN | LHOST_PARAM_IDENTITY},
    {sizeof(lhost_param), LHOST_PARAM_INT, "every_n_train_steps",
     "optimizer steps between checks (0: never)", NULL, NULL, 0, 0,
     LHOST_PARAM_HAS_MIN | LHOST_PARAM_IDENTITY},
    {sizeof(lhost_param), LHOST_PARAM_BOOL, "save_weights_only",
     "save the weights alone (no optimizer, trainer or plugin state)", "false", NULL, 0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_BOOL, "auto_insert_metric_name",
     "write {key} as key=value in file names", "true", NULL, 0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_BOOL, "enable_version_counter",
     "add -v1, -v2, ... instead of overwriting an existing file", "true", NULL, 0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_BOOL, "save_on_train_epoch_end",
     "check at the end of the training epoch instead of after validation; unset: there when "
     "the run has no validation and check_val_every_n_epoch is 1 (Lightning's None)", NULL,
     NULL, 0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_BOOL, "verbose", "log every save decision", "false", NULL,
     0, 0, 0},
};

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* Replace *slot with a copy of s (NULL allowed). 0, or -1 when out of memory. */
static int set_str(char **slot, const char *s)
{
    char *c = NULL;
    if (s && !(c = strdup(s)))
        return -1;
    free(*slot);
    *slot = c;
    return 0;
}

static int streq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

static void mc_free_state(mc *s)
{
    mc_topk_clear(&s->topk);
    free(s->best_path);
    free(s->last_path);
    free(s->last_saved);
    s->best_path = s->last_path = s->last_saved = NULL;
}

static void mc_destroy(void *self)
{
    mc *s = (mc *)self;
    if (!s)
        return;
    mc_free_state(s);
    free(s->dirpath);
    free(s->filename);
    free(s->monitor);
    free(s->saved.data);
    free(s);
}

/* Template lookup used at create, so that a name the file system cannot hold is refused before
 * training rather than at the first save: counters take 7 digits (ten million steps) and logged
 * values a long double (-12345.678901234567), the widest a realistic run renders. */
static int lookup_dry(void *user, const char *key, int *is_int, int64_t *i, double *d)
{
    (void)user;
    *is_int = strcmp(key, "epoch") == 0 || strcmp(key, "step") == 0;
    *i = 9999999;
    *d = -12345.678901234567;
    return 0;
}

static int32_t mc_create(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *pv,
                         void **self)
{
    mc *s = (mc *)calloc(1, sizeof *s);
    const char *monitor = lhost_param_string(pv, "monitor", NULL);
    const char *save_last = lhost_param_string(pv, "save_last", "false");
    int n_epochs_set = lhost_param_is_set(pv, "every_n_epochs");
    int n_steps_set = lhost_param_is_set(pv, "every_n_train_steps");
    char name[MC_PATH_MAX], err[512];

    if (!s) {
        LHP_ERROR(host, ctx, "out of memory");
        return LHOST_ERROR;
    }
    s->host = host;
    if (monitor && !*monitor)
        monitor = NULL;
    s->dirpath = dup_or_null(lhost_param_string(pv, "dirpath", "checkpoints"));
    s->filename = dup_or_null(lhost_param_string(pv, "filename", "{epoch}-{step}"));
    s->monitor = dup_or_null(monitor);
    if (!s->dirpath || !s->filename || (monitor && !s->monitor)) {
        LHP_ERROR(host, ctx, "out of memory");
        goto fail;
    }
    /* dirpath "a/b/" and "a/b" are one folder: drop trailing slashes, keep "/" itself. */
    while (strlen(s->dirpath) > 1 && s->dirpath[strlen(s->dirpath) - 1] == '/')
        s->dirpath[strlen(s->dirpath) - 1] = '\0';
    if (!*s->dirpath) {
        LHP_ERROR(host, ctx, "dirpath: expected a folder, got \"\"");
        goto fail;
    }
    s->mode_max = lhost_param_is_set(pv, "mode")
                      ? strcmp(lhost_param_string(pv, "mode", "min"), "max") == 0
                      : lhp_mode_infer_max(host, ctx, monitor);
    s->save_top_k = lhost_param_int(pv, "save_top_k", 1);
    s->topk.mode_max = s->mode_max;
    s->topk.tie_last = strcmp(lhost_param_string(pv, "tie_break", "first"), "last") == 0;
    s->save_last = strcmp(save_last, "link") == 0   ? MC_SAVE_LAST_LINK
                   : strcmp(save_last, "true") == 0 ? MC_SAVE_LAST_TRUE
                                                    : MC_SAVE_LAST_FALSE;
    /* Lightning's _init_triggers: with neither given, check every epoch. */
    if (!n_epochs_set && !n_steps_set) {
        s->every_n_epochs = 1;
        s->every_n_train_steps = 0;
    } else {
        s->every_n_epochs = lhost_param_int(pv, "every_n_epochs", 0);
        s->every_n_train_steps = lhost_param_int(pv, "every_n_train_steps", 0);
    }
    s->save_weights_only = (int)lhost_param_int(pv, "save_weights_only", 0);
    s->auto_insert = (int)lhost_param_int(pv, "auto_insert_metric_name", 1);
    s->version_counter = (int)lhost_param_int(pv, "enable_version_counter", 1);
    s->on_train_epoch_end = lhost_param_is_set(pv, "save_on_train_epoch_end")
                                ? (int)lhost_param_int(pv, "save_on_train_epoch_end", 0)
                                : -1; /* decided at on_fit_start */
    s->verbose = (int)lhost_param_int(pv, "verbose", 0);

    if (s->save_top_k < -1 || s->every_n_epochs < 0 || s->every_n_train_steps < 0) {
        LHP_ERROR(host, ctx, "save_top_k >= -1, every_n_epochs >= 0 and every_n_train_steps >= 0 "
                             "expected");
        goto fail;
    }
    if (!s->monitor && s->save_top_k != -1 && s->save_top_k != 0 && s->save_top_k != 1) {
        LHP_ERROR(host, ctx,
                  "save_top_k: %lld needs a monitor to rank checkpoints; without monitor use "
                  "-1, 0 or 1",
                  (long long)s->save_top_k);
        goto fail;
    }
    if (mc_name_format(s->filename, s->auto_insert, lookup_dry, NULL, name, sizeof name, err,
                       sizeof err) != 0) {
        LHP_ERROR(host, ctx, "%s", err);
        goto fail;
    }
    /* "-v99" leaves room for the version counter. */
    if (strlen(s->dirpath) + 1 + strlen(name) + strlen("-v99" MC_NAME_SUFFIX) >= MC_PATH_MAX) {
        LHP_ERROR(host, ctx, "dirpath + filename: \"%.60s.../%.40s...\" is longer than the %d "
                  "bytes a path can have", s->dirpath, name, MC_PATH_MAX - 1);
        goto fail;
    }
    s->best_score = NAN;
    s->last_step_saved = 0; /* Lightning: nothing to save before the first step */
    *self = s;
    return LHOST_OK;
fail:
    mc_destroy(s);
    return LHOST_ERROR;
}

/* ---- helpers ---------------------------------------------------------------------------- */

static void mc_read_trainer(mc *s, lhost_ctx *ctx)
{
    memset(&s->ts, 0, sizeof s->ts);
    s->ts.struct_size = sizeof s->ts;
    s->ts.stage = LHOST_STAGE_FIT;
    s->ts.is_global_zero = 1;
    s->ts.world_size = 1;
    if (LHOST_HOST_HAS(s->host, trainer_state))
        s->host->trainer_state(ctx, &s->ts);
}

typedef struct lookup_ctx {
    mc *s;
    lhost_ctx *ctx;
    const char *missing; /* first key not found */
} lookup_ctx;

/* Template lookup: epoch and step from the trainer, anything else from the logged values. */
static int lookup_live(void *user, const char *key, int *is_int, int64_t *i, double *d)
{
    lookup_ctx *lc = (lookup_ctx *)user;
    if (strcmp(key, "epoch") == 0 || strcmp(key, "step") == 0) {
        *is_int = 1;
        *i = key[0] == 'e' ? lc->s->ts.epoch : lc->s->ts.global_step;
        return 0;
    }
    *is_int = 0;
    if (LHOST_HOST_HAS(lc->s->host, get_value) &&
        lc->s->host->get_value(lc->ctx, key, d) == LHOST_OK)
        return 0;
    if (!lc->missing)
        lc->missing = key;
    return -1;
}

static int file_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* dirpath/<template>[-vN].ckpt, stepping N past files that exist, except `reuse` (the file this
 * save is about to replace). 0, or -1 after set_error. */
static int mc_pick_path(mc *s, lhost_ctx *ctx, const char *tmpl, int auto_insert,
                        const char *reuse, char *out, size_t cap)
{
    lookup_ctx lc = {s, ctx, NULL};
    char name[MC_PATH_MAX], err[512];
    int64_t v;
    if (mc_name_format(tmpl, auto_insert, lookup_live, &lc, name, sizeof name, err,
                       sizeof err) != 0) {
        LHP_ERROR(s->host, ctx, "%s", err);
        return -1;
    }
    if (lc.missing && !s->warned_keys) {
        LHP_LOG(s->host, ctx, LHOST_LOG_WARN,
                "filename \"%s\": {%s} is not a logged value; it is written as 0", tmpl,
                lc.missing);
        s->warned_keys = 1;
    }
    if ((size_t)snprintf(out, cap, "%s/%s.ckpt", s->dirpath, name) >= cap)
        goto too_long;
    /* Only rank 0 writes checkpoints, so only its folder listing says which -vN is free: on
     * another rank the file rank 0 just wrote would read as taken. Such a rank keeps the plain
     * name for its books and never shows it (Lightning broadcasts rank 0's answer instead). */
    for (v = 1; s->version_counter && s->ts.is_global_zero && file_exists(out) &&
                !streq(out, reuse);
         v++)
        if ((size_t)snprintf(out, cap, "%s/%s-v%lld.ckpt", s->dirpath, name, (long long)v) >= cap)
            goto too_long;
    if (strlen(out) - strlen(s->dirpath) - 1 > NAME_MAX) {
        LHP_ERROR(s->host, ctx, "filename \"%s\": \"%.40s...\" is %zu bytes, more than the %d "
                  "a file name can have", tmpl, out + strlen(s->dirpath) + 1,
                  strlen(out) - strlen(s->dirpath) - 1, NAME_MAX);
        return -1;
    }
    return 0;
too_long:
    LHP_ERROR(s->host, ctx, "dirpath + filename: the path is longer than %d bytes",
              MC_PATH_MAX - 1);
    return -1;
}

/* Is path one of ours still in use (top-k entry, best or last)? */
static int mc_in_use(const mc *s, const char *path)
{
    return mc_topk_find(&s->topk, path) >= 0 || streq(path, s->best_path) ||
           streq(path, s->last_path);
}

/* Delete a file this instance wrote, if it lies directly inside dirpath, has a name its filename
 * template (or last.ckpt) gives and nothing of ours still names it. Never fails the run: a failure is a warning. */
static void mc_remove_own(mc *s, lhost_ctx *ctx, const char *path)
{
    size_t n = strlen(s->dirpath);
    if (!path || !s->ts.is_global_zero || mc_in_use(s, path))
        return;
    if (strncmp(path, s->dirpath, n) != 0 || path[n] != '/' || strchr(path + n + 1, '/') ||
        strcmp(path + n + 1, "..") == 0 || path[n + 1] == '\0') {
        LHP_LOG(s->host, ctx, LHOST_LOG_WARN, "not deleting \"%s\": outside dirpath \"%s\"", path,
                s->dirpath);
        return;
    }
    if (!mc_name_matches(s->filename, s->auto_insert, path + n + 1) &&
        !mc_name_matches("last", 0, path + n + 1)) {
        LHP_LOG(s->host, ctx, LHOST_LOG_WARN,
                "not deleting \"%s\": not a name filename \"%s\" or last.ckpt gives", path,
                s->filename);
        return;
    }
    if (unlink(path) != 0 && errno != ENOENT)
        LHP_LOG(s->host, ctx, LHOST_LOG_WARN, "could not delete \"%s\": %s", path,
                strerror(errno));
    else if (s->verbose)
        LHP_LOG(s->host, ctx, LHOST_LOG_INFO, "removed checkpoint \"%s\"", path);
}

static int32_t mc_save(mc *s, lhost_ctx *ctx, const char *path)
{
    int32_t rc;
    if (!LHOST_HOST_HAS(s->host, save_checkpoint)) {
        LHP_ERROR(s->host, ctx, "this host cannot save checkpoints (no save_checkpoint service)");
        return LHOST_ERROR;
    }
    rc = s->host->save_checkpoint(ctx, path, s->save_weights_only ? LHOST_CKPT_WEIGHTS_ONLY : 0);
    if (rc != LHOST_OK) {
        /* The host has recorded the cause with the path ("...: write failed: No space left on
         * device"); a message of our own here would overwrite it. */
        return LHOST_ERROR;
    }
    s->last_step_saved = s->ts.global_step;
    if (set_str(&s->last_saved, path) != 0) {
        LHP_ERROR(s->host, ctx, "out of memory");
        return LHOST_ERROR;
    }
    return LHOST_OK;
}

/* linkpath -> basename(target), made under a temporary name and renamed over linkpath. */
static int32_t mc_link(mc *s, lhost_ctx *ctx, const char *target, const char *linkpath)
{
    char tmp[MC_PATH_MAX];
    const char *base = strrchr(target, '/');
    base = base ? base + 1 : target;
    if (!s->ts.is_global_zero)
        return LHOST_OK;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp-link", linkpath) >= sizeof tmp) {
        LHP_ERROR(s->host, ctx, "\"%s\": path too long", linkpath);
        return LHOST_ERROR;
    }
    unlink(tmp);
    if (symlink(base, tmp) != 0 || rename(tmp, linkpath) != 0) {
        LHP_ERROR(s->host, ctx, "linking \"%s\" -> \"%s\" failed: %s", linkpath, base,
                  strerror(errno));
        unlink(tmp);
        return LHOST_ERROR;
    }
    return LHOST_OK;
}

/* ---- the three kinds of save (Lightning's _save_*_checkpoint) ---------------------------- */

static int32_t mc_save_none_monitor(mc *s, lhost_ctx *ctx)
{
    char path[MC_PATH_MAX];
    char *previous;
    int32_t rc;
    if (mc_pick_path(s, ctx, s->filename, s->auto_insert, s->best_path, path, sizeof path) != 0)
        return LHOST_ERROR;
    /* The new best path is part of the state the checkpoint itself holds: set it first. */
    previous = s->best_path;
    if (!(s->best_path = strdup(path))) {
        s->best_path = previous;
        LHP_ERROR(s->host, ctx, "out of memory");
        return LHOST_ERROR;
    }
    if (s->verbose && s->ts.is_global_zero) /* rank 0 speaks for the job */
        LHP_LOG(s->host, ctx, LHOST_LOG_INFO,
                "Epoch %lld, global step %lld: saving model to \"%s\"", (long long)s->ts.epoch,
                (long long)s->ts.global_step, path);
    rc = mc_save(s, ctx, path);
    if (rc == LHOST_OK && s->save_top_k == 1 && previous && strcmp(previous, path) != 0)
        mc_remove_own(s, ctx, previous);
    free(previous);
    return rc;
}

static int32_t mc_save_monitor(mc *s, lhost_ctx *ctx, double current)
{
    char path[MC_PATH_MAX];
    char *del = NULL;
    long dup;
    int32_t rc;
    size_t k = s->save_top_k == -1 ? s->topk.n + 1 : (size_t)s->save_top_k;

    if (s->save_top_k != -1 && s->topk.n >= k) {
        size_t w = mc_topk_worst(&s->topk);
        if (!mc_rank_better(&s->topk, current, s->next_seq, s->topk.e[w].score,
                            s->topk.e[w].seq)) {
            if (s->verbose && s->ts.is_global_zero)
                LHP_LOG(s->host, ctx, LHOST_LOG_INFO,
                        "Epoch %lld, global step %lld: '%s' was not in top %lld",
                        (long long)s->ts.epoch, (long long)s->ts.global_step, s->monitor,
                        (long long)s->save_top_k);
            return LHOST_OK;
        }
        del = mc_topk_take(&s->topk, w);
    }
    if (mc_pick_path(s, ctx, s->filename, s->auto_insert, del, path, sizeof path) != 0) {
        free(del);
        return LHOST_ERROR;
    }
    /* Without the version counter a name can repeat: the older entry is overwritten. */
    if ((dup = mc_topk_find(&s->topk, path)) >= 0)
        free(mc_topk_take(&s->topk, (size_t)dup));
    if (mc_topk_add(&s->topk, current, s->next_seq++, path) != 0) {
        free(del);
        LHP_ERROR(s->host, ctx, "out of memory");
        return LHOST_ERROR;
    }
    {
        const mc_entry *b = &s->topk.e[mc_topk_best(&s->topk)];
        if (set_str(&s->best_path, b->path) != 0) {
            free(del);
            LHP_ERROR(s->host, ctx, "out of memory");
            return LHOST_ERROR;
        }
        s->best_score = b->score;
    }
    if (s->verbose && s->ts.is_global_zero) /* rank 0 speaks for the job */
        LHP_LOG(s->host, ctx, LHOST_LOG_INFO,
                "Epoch %lld, global step %lld: '%s' reached %.5f (best %.5f), saving model to "
                "\"%s\" as top %lld",
                (long long)s->ts.epoch, (long long)s->ts.global_step, s->monitor, current,
                s->best_score, path, (long long)k);
    rc = mc_save(s, ctx, path);
    if (rc == LHOST_OK && del && strcmp(del, path) != 0)
        mc_remove_own(s, ctx, del);
    free(del);
    return rc;
}

/* `strict`: a missing monitor is an error (after validation) rather than a skipped check. */
static int32_t mc_save_topk(mc *s, lhost_ctx *ctx, int strict)
{
    double current;
    if (s->save_top_k == 0)
        return LHOST_OK;
    if (!s->monitor)
        return mc_save_none_monitor(s, ctx);
    if (!LHOST_HOST_HAS(s->host, get_value) ||
        s->host->get_value(ctx, s->monitor, &current) != LHOST_OK) {
        char keys[1024];
        lhp_list_keys(s->host, ctx, keys, sizeof keys);
        if (strict) {
            LHP_ERROR(s->host, ctx,
                      "monitor: \"%s\" is not a logged value; the logged values are: %s",
                      s->monitor, keys);
            return LHOST_ERROR;
        }
        if (!s->warned_keys)
            LHP_LOG(s->host, ctx, LHOST_LOG_WARN,
                    "monitor \"%s\" is not logged yet (skipping this save); logged: %s",
                    s->monitor, keys);
        s->warned_keys = 1;
        return LHOST_OK;
    }
    return mc_save_monitor(s, ctx, current);
}

static int32_t mc_save_last(mc *s, lhost_ctx *ctx)
{
    char path[MC_PATH_MAX];
    char *previous;
    int32_t rc;
    if (s->save_last == MC_SAVE_LAST_FALSE)
        return LHOST_OK;
    if (mc_pick_path(s, ctx, "last", 0, s->last_path, path, sizeof path) != 0)
        return LHOST_ERROR;
    previous = s->last_path;
    if (!(s->last_path = strdup(path))) {
        s->last_path = previous;
        LHP_ERROR(s->host, ctx, "out of memory");
        return LHOST_ERROR;
    }
    if (s->save_last == MC_SAVE_LAST_LINK && s->last_saved && s->save_top_k != 0)
        rc = mc_link(s, ctx, s->last_saved, path);
    else
        rc = mc_save(s, ctx, path);
    if (rc == LHOST_OK && previous && strcmp(previous, path) != 0)
        mc_remove_own(s, ctx, previous);
    free(previous);
    return rc;
}

/* ---- hooks ------------------------------------------------------------------------------- */

static int mc_skip(const mc *s)
{
    return s->ts.stage != LHOST_STAGE_FIT || s->last_step_saved == s->ts.global_step;
}

static int32_t mc_epoch_save(mc *s, lhost_ctx *ctx)
{
    int32_t rc = LHOST_OK;
    mc_read_trainer(s, ctx);
    if (mc_skip(s))
        return LHOST_OK;
    if (s->every_n_epochs >= 1 && (s->ts.epoch + 1) % s->every_n_epochs == 0)
        rc = mc_save_topk(s, ctx, 1);
    if (rc == LHOST_OK)
        rc = mc_save_last(s, ctx);
    return rc;
}

/* Lightning's save_on_train_epoch_end=None: at the training epoch's end when there is no
 * validation (limit_val_batches 0) and check_val_every_n_epoch is 1, else after validation. A
 * host without these hparams validates every epoch. */
static int mc_auto_on_train_epoch_end(mc *s, lhost_ctx *ctx)
{
    double every = 1, val = 1;
    if (!LHOST_HOST_HAS(s->host, get_hparam) ||
        s->host->get_hparam(ctx, "check_val_every_n_epoch", &every) != LHOST_OK ||
        s->host->get_hparam(ctx, "num_val_batches", &val) != LHOST_OK)
        return 0;
    return every == 1 && val == 0;
}

static int32_t mc_on_fit_start(void *self, lhost_ctx *ctx)
{
    mc *s = (mc *)self;
    char path[MC_PATH_MAX];
    size_t k, n = strlen(s->dirpath);
    DIR *d;
    mc_read_trainer(s, ctx);
    if (s->on_train_epoch_end < 0)
        s->on_train_epoch_end = mc_auto_on_train_epoch_end(s, ctx);
    /* mkdir -p dirpath */
    snprintf(path, sizeof path, "%s", s->dirpath);
    for (k = 1; k <= n; k++) {
        if (path[k] != '/' && path[k] != '\0')
            continue;
        path[k] = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST) {
            LHP_ERROR(s->host, ctx, "dirpath \"%s\": cannot create \"%s\": %s", s->dirpath, path,
                      strerror(errno));
            return LHOST_ERROR;
        }
        path[k] = k < n ? '/' : '\0';
    }
    /* mkdir's EEXIST also means "a file of that name": found now, not at the first save. */
    {
        struct stat st;
        if (stat(s->dirpath, &st) != 0) {
            LHP_ERROR(s->host, ctx, "dirpath \"%s\": %s", s->dirpath, strerror(errno));
            return LHOST_ERROR;
        }
        if (!S_ISDIR(st.st_mode)) {
            LHP_ERROR(s->host, ctx, "dirpath \"%s\": exists and is not a folder", s->dirpath);
            return LHOST_ERROR;
        }
    }
    /* Lightning warns when a fresh run writes into a folder that already holds files. */
    if (s->ts.is_global_zero && s->save_top_k != 0 && s->topk.n == 0 && !s->last_path &&
        (d = opendir(s->dirpath))) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                LHP_LOG(s->host, ctx, LHOST_LOG_WARN,
                        "checkpoint folder \"%s\" exists and is not empty", s->dirpath);
                break;
            }
        closedir(d);
    }
    return LHOST_OK;
}

static int32_t mc_on_train_batch_end(void *self, lhost_ctx *ctx, const lhost_batch_info *batch)
{
    mc *s = (mc *)self;
    int32_t rc;
    (void)batch;
    if (s->every_n_train_steps < 1)
        return LHOST_OK;
    mc_read_trainer(s, ctx);
    if (mc_skip(s) || s->ts.global_step % s->every_n_train_steps != 0)
        return LHOST_OK;
    rc = mc_save_topk(s, ctx, 0);
    return rc == LHOST_OK ? mc_save_last(s, ctx) : rc;
}

static int32_t mc_on_validation_end(void *self, lhost_ctx *ctx)
{
    mc *s = (mc *)self;
    return s->on_train_epoch_end ? LHOST_OK : mc_epoch_save(s, ctx);
}

static int32_t mc_on_train_epoch_end(void *self, lhost_ctx *ctx)
{
    mc *s = (mc *)self;
    return s->on_train_epoch_end ? mc_epoch_save(s, ctx) : LHOST_OK;
}

/* Lightning's OnExceptionCheckpoint for a Ctrl-C: when the host stops fit on a signal (its
 * message begins "interrupted by", host/train/trainer.c), the run so far is kept as
 * <dirpath>/last.ckpt, a full save whatever save_last and save_weights_only say, so that
 * `--resume <dirpath>/last.ckpt` continues it. The host stops only at a batch boundary, so the
 * state is whole. Other failures save nothing: they may come half-way through a step. */
static int32_t mc_on_exception(void *self, lhost_ctx *ctx, const char *message)
{
    mc *s = (mc *)self;
    char path[MC_PATH_MAX];
    char *previous;
    mc_read_trainer(s, ctx);
    if (s->ts.stage != LHOST_STAGE_FIT || !s->ts.is_global_zero || !message ||
        strncmp(message, "interrupted by ", 15) != 0)
        return LHOST_OK;
    if (!LHOST_HOST_HAS(s->host, save_checkpoint) ||
        mc_pick_path(s, ctx, "last", 0, s->last_path, path, sizeof path) != 0)
        return LHOST_ERROR;
    /* The checkpoint holds this instance's state: name last.ckpt in it before saving. */
    previous = s->last_path;
    if (!(s->last_path = strdup(path))) {
        s->last_path = previous;
        return LHOST_ERROR;
    }
    free(previous);
    if (s->host->save_checkpoint(ctx, path, 0) != LHOST_OK) {
        LHP_LOG(s->host, ctx, LHOST_LOG_WARN, "saving \"%s\" on interrupt failed", path);
        return LHOST_ERROR;
    }
    return LHOST_OK;
}

static int32_t mc_on_fit_end(void *self, lhost_ctx *ctx)
{
    mc *s = (mc *)self;
    if (!s->best_path)
        return LHOST_OK;
    if (s->monitor) {
        char score[LHP_FMT_CAP];
        if (s->ts.is_global_zero) /* the path is rank 0's file: other ranks do not name it */
            LHP_LOG(s->host, ctx, LHOST_LOG_INFO, "best_model_path=%s best_model_score=%s (%s)",
                    s->best_path, lhp_fmt_double(score, s->best_score), s->monitor);
        if (LHOST_HOST_HAS(s->host, log_value))
            s->host->log_value(ctx, "best_model_score", s->best_score, 0);
    } else if (s->ts.is_global_zero) {
        LHP_LOG(s->host, ctx, LHOST_LOG_INFO, "best_model_path=%s (no monitor: the latest save)",
                s->best_path);
    }
    return LHOST_OK;
}

/* ---- state ------------------------------------------------------------------------------- *
 * v1: str dirpath, str monitor, i64 n, n x (f64 score, i64 seq, str path), str best_path,
 * f64 best_score, str last_path, str last_saved, i64 last_step_saved, i64 next_seq. */

static int32_t mc_state_save(void *self, lhost_ctx *ctx, const void **data, uint64_t *size)
{
    mc *s = (mc *)self;
    size_t k;
    lhp_wbuf *b = &s->saved;
    b->size = 0;
    b->failed = 0;
    lhp_put_str(b, s->dirpath);
    lhp_put_str(b, s->monitor);
    lhp_put_i64(b, (int64_t)s->topk.n);
    for (k = 0; k < s->topk.n; k++) {
        lhp_put_f64(b, s->topk.e[k].score);
        lhp_put_i64(b, s->topk.e[k].seq);
        lhp_put_str(b, s->topk.e[k].path);
    }
    lhp_put_str(b, s->best_path);
    lhp_put_f64(b, s->best_score);
    lhp_put_str(b, s->last_path);
    lhp_put_str(b, s->last_saved);
    lhp_put_i64(b, s->last_step_saved);
    lhp_put_i64(b, s->next_seq);
    if (b->failed) {
        LHP_ERROR(s->host, ctx, "state_save: out of memory");
        return LHOST_ERROR;
    }
    *data = b->data;
    *size = b->size;
    return LHOST_OK;
}

static int32_t mc_state_restore(void *self, lhost_ctx *ctx, uint32_t version, const void *data,
                                uint64_t size)
{
    mc *s = (mc *)self;
    lhp_rbuf r = {(const unsigned char *)data, size, 0, 0};
    mc_topk topk = {NULL, 0, 0, s->mode_max, s->topk.tie_last};
    char *dirpath = NULL, *monitor = NULL, *best = NULL, *last = NULL, *last_saved = NULL;
    int64_t n, k, step, seq;
    double best_score;
    int32_t rc = LHOST_ERROR;

    if (version != MC_STATE_VERSION) {
        LHP_ERROR(s->host, ctx, "state_restore: state version %u, expected %u", version,
                  MC_STATE_VERSION);
        return LHOST_ERROR;
    }
    dirpath = lhp_get_str(&r);
    monitor = lhp_get_str(&r);
    n = lhp_get_i64(&r);
    for (k = 0; !r.failed && k < n && (uint64_t)n <= size; k++) {
        double score = lhp_get_f64(&r);
        int64_t q = lhp_get_i64(&r);
        char *p = lhp_get_str(&r);
        if (!p || mc_topk_add(&topk, score, q, p) != 0)
            r.failed = 1;
        free(p);
    }
    best = lhp_get_str(&r);
    best_score = lhp_get_f64(&r);
    last = lhp_get_str(&r);
    last_saved = lhp_get_str(&r);
    step = lhp_get_i64(&r);
    seq = lhp_get_i64(&r);
    if (r.failed || r.pos != size || n < 0 || !dirpath ||
        !(monitor == s->monitor || streq(monitor, s->monitor))) {
        LHP_ERROR(s->host, ctx,
                  "state_restore: %llu bytes are not a model_checkpoint v1 state for monitor "
                  "\"%s\"",
                  (unsigned long long)size, s->monitor ? s->monitor : "(none)");
        goto out;
    }
    mc_free_state(s);
    s->best_path = best;
    best = NULL;
    if (strcmp(dirpath, s->dirpath) != 0) {
        /* Lightning: a moved dirpath keeps best_model_path only; files elsewhere are not ours
         * to rank or delete. */
        LHP_LOG(s->host, ctx, LHOST_LOG_WARN,
                "dirpath changed from \"%s\" to \"%s\": only best_model_path is restored",
                dirpath, s->dirpath);
        s->best_score = NAN;
        s->last_step_saved = step;
    } else {
        s->topk = topk;
        topk.e = NULL;
        topk.n = topk.cap = 0;
        s->best_score = best_score;
        s->last_path = last;
        s->last_saved = last_saved;
        last = last_saved = NULL;
        s->last_step_saved = step;
        s->next_seq = seq;
    }
    rc = LHOST_OK;
out:
    mc_topk_clear(&topk);
    free(dirpath);
    free(monitor);
    free(best);
    free(last);
    free(last_saved);
    return rc;
}

static const lhost_callback_vtable mc_vtable = {
    .struct_size = sizeof(lhost_callback_vtable),
    .state_version = MC_STATE_VERSION,
    .create = mc_create,
    .destroy = mc_destroy,
    .on_fit_start = mc_on_fit_start,
    .on_train_batch_end = mc_on_train_batch_end,
    .on_validation_end = mc_on_validation_end,
    .on_train_epoch_end = mc_on_train_epoch_end,
    .on_fit_end = mc_on_fit_end,
    .on_exception = mc_on_exception,
    .state_save = mc_state_save,
    .state_restore = mc_state_restore,
};

static const lhost_plugin_desc mc_desc = {
    .struct_size = sizeof(lhost_plugin_desc),
    .kind = LHOST_KIND_CALLBACK,
    .id = "org.lhost.model_checkpoint",
    .name = "model_checkpoint",
    .version = "1.0.0",
    .description = "save the top-k checkpoints by a monitored value (Lightning's "
                   "ModelCheckpoint)",
    .params = mc_params,
    .n_params = sizeof mc_params / sizeof mc_params[0],
    .priority = LHOST_PRIORITY_MONITOR,
    .vtable = &mc_vtable,
};

LHOST_PLUGIN_LIBRARY(&mc_desc);
