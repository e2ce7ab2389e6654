/* plugins/lr_schedulers/lr_sched.h — what the four learning-rate schedulers of lr_schedulers.so
 * share: Lightning's scheduler config (`interval`, `frequency`), when a scheduler steps, its
 * checkpointed state, and the host services it goes through (get_hparam / set_hparam "lr",
 * "momentum"). Each scheduler (step_lr.c, cosine_annealing.c, one_cycle.c,
 * reduce_lr_on_plateau.c) is its torch.optim.lr_scheduler class's arithmetic behind lhs_ops;
 * lr_sched.c is the rest.
 *
 * When a scheduler steps, as Lightning's fit loop calls scheduler.step():
 *   interval "step": in on_train_batch_end after a batch that took an optimizer step, when
 *     (batch_idx + 1) % frequency == 0 (Lightning's _update_learning_rates);
 *   interval "epoch": after on_train_epoch_end's work, when (epoch + 1) % frequency == 0.
 * The first step (torch's constructor, last_epoch 0) runs in on_fit_start. */
#ifndef LHS_SCHED_H
#define LHS_SCHED_H

#include <stdint.h>

#include <lhost/lhost.h>

#define LHS_STEP 0
#define LHS_EPOCH 1

typedef struct lhs_sched lhs_sched;

/* One scheduler kind: its torch class's arithmetic. */
typedef struct lhs_ops {
    const char *name; /* the plugin's short name, for messages */
    /* create(): read and check the kind's parameters into s->cfg; LHOST_ERROR with a message */
    int32_t (*create)(lhs_sched *s, lhost_ctx *ctx, const lhost_param_values *p);
    /* on_fit_start: fresh = 1 runs torch's constructor (initial step, last_epoch 0); fresh = 0
     * after state_restore (the optimizer's lr came back with the checkpoint) */
    int32_t (*begin)(lhs_sched *s, lhost_ctx *ctx, int32_t fresh);
    /* scheduler.step(), s->st.last_epoch already counted up */
    int32_t (*step)(lhs_sched *s, lhost_ctx *ctx);
} lhs_ops;

typedef struct lhs_step_cfg {
    int64_t step_size;
    double gamma;
} lhs_step_cfg;

typedef struct lhs_cos_cfg {
    int64_t t_max, warmup_iters;
    double eta_min, warmup_start_factor;
} lhs_cos_cfg;

typedef struct lhs_oc_cfg {
    int64_t total_steps;            /* 0: epochs x steps_per_epoch */
    int64_t epochs, steps_per_epoch; /* 0: the trainer's, at on_fit_start */
    double max_lr, pct_start, div_factor, final_div_factor, base_momentum, max_momentum;
    int32_t linear, three_phase, cycle_momentum;
} lhs_oc_cfg;

typedef struct lhs_plateau_cfg {
    const char *monitor; /* the host's parameter text, valid until destroy */
    double factor, threshold, min_lr, eps;
    int64_t patience, cooldown;
    int32_t maximize, abs_threshold, strict;
} lhs_plateau_cfg;

/* What a checkpoint keeps (state_save's bytes, fixed layout; bump LHS_STATE_VERSION on any
 * change). Fields a kind does not use stay 0. */
typedef struct lhs_state {
    int64_t kind;        /* which lhs_ops wrote it (LHS_KIND_*), so a swap is refused */
    int64_t started;     /* the initial step ran (on_fit_start of the first run) */
    int64_t last_epoch;  /* torch's last_epoch: steps taken since the initial one */
    int64_t seen_step;   /* the trainer's global_step at the last batch looked at */
    int64_t epochs_done; /* epochs whose end was handled (interval epoch) */
    double base_lr;      /* torch's base_lrs[0] / initial_lr */
    int64_t total_steps; /* one_cycle: the total in use */
    double best;         /* reduce_lr_on_plateau: best, num_bad_epochs, cooldown_counter */
    int64_t num_bad_epochs, cooldown_counter;
} lhs_state;

#define LHS_STATE_VERSION 1
#define LHS_KIND_STEP_LR 1
#define LHS_KIND_COSINE 2
#define LHS_KIND_ONE_CYCLE 3
#define LHS_KIND_PLATEAU 4

struct lhs_sched {
    const lhost_host *host;
    const lhs_ops *ops;
    int32_t interval;  /* LHS_STEP / LHS_EPOCH */
    int64_t frequency; /* step every `frequency` intervals */
    union {
        lhs_step_cfg step;
        lhs_cos_cfg cos;
        lhs_oc_cfg oc;
        lhs_plateau_cfg pl;
    } cfg;
    lhs_state st;
};

/* The create() every kind's vtable points at goes through this with its ops and kind. */
int32_t lhs_create(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *p,
                   void **self, const lhs_ops *ops, int64_t kind);

/* The optimizer's lr into *lr, or LHOST_ERROR with a message. */
int32_t lhs_get_lr(lhs_sched *s, lhost_ctx *ctx, double *lr);
/* set_hparam(name, v), or LHOST_ERROR with a message naming the value and the reason. */
int32_t lhs_set(lhs_sched *s, lhost_ctx *ctx, const char *name, double v);
/* set_error("<fmt>") and LHOST_ERROR. */
int32_t lhs_fail(lhs_sched *s, lhost_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The parameters every scheduler has (Lightning's lr_scheduler_config), for each kind's
 * schema: interval (default epoch, as Lightning's) and frequency. */
#define LHS_COMMON_PARAMS                                                                      \
    {sizeof(lhost_param), LHOST_PARAM_ENUM, "interval",                                        \
     "step the scheduler every optimizer step or every epoch (Lightning's interval)", "epoch", \
     lhs_intervals, 0, 0, 0},                                                                  \
    {sizeof(lhost_param), LHOST_PARAM_INT, "frequency",                                       \
     "step once every this many intervals (Lightning's frequency)", "1", NULL, 1, 0,          \
     LHOST_PARAM_HAS_MIN}

extern const char *const lhs_intervals[];

/* A kind's vtable: the shared hooks with its own create. */
#define LHS_VTABLE(create_fn)                                                                  \
    {                                                                                          \
        .struct_size = sizeof(lhost_callback_vtable), .state_version = LHS_STATE_VERSION,      \
        .create = create_fn, .destroy = lhs_destroy, .on_fit_start = lhs_fit_start,            \
        .on_train_epoch_start = lhs_train_epoch_start,                                         \
        .on_train_batch_end = lhs_train_batch_end, .on_train_epoch_end = lhs_train_epoch_end,  \
        .state_save = lhs_state_save, .state_restore = lhs_state_restore,                      \
        .stages = LHOST_STAGEF_FIT,                                                            \
    }

void lhs_destroy(void *self);
int32_t lhs_fit_start(void *self, lhost_ctx *ctx);
int32_t lhs_train_epoch_start(void *self, lhost_ctx *ctx);
int32_t lhs_train_batch_end(void *self, lhost_ctx *ctx, const lhost_batch_info *batch);
int32_t lhs_train_epoch_end(void *self, lhost_ctx *ctx);
int32_t lhs_state_save(void *self, lhost_ctx *ctx, const void **data, uint64_t *size);
int32_t lhs_state_restore(void *self, lhost_ctx *ctx, uint32_t version, const void *data,
                          uint64_t size);

extern const lhost_plugin_desc lhs_step_lr_desc, lhs_cosine_desc, lhs_one_cycle_desc,
    lhs_plateau_desc;

#endif
