/* tests/unit/test_lr_schedulers.c — the learning-rate schedulers of lr_schedulers.so (step_lr,
 * cosine_annealing, one_cycle, reduce_lr_on_plateau) against torch.optim.lr_scheduler:
 *   through a scripted host (fake_host.h with get_hparam / set_hparam), every case of
 *   tests/golden/lr_schedulers.txt (gen_lr_schedulers.py, torch 1.13) for 100 scheduler steps,
 *   lr and momentum within 1e-9 of torch's at every step; the same run with a state_save /
 *   state_restore into a fresh instance in the middle (and, for interval epoch, a checkpoint
 *   taken before the epoch's step, as ModelCheckpoint's on_validation_end one is); the errors
 *   (one_cycle past total_steps, a host that cannot set momentum, a monitor never logged);
 *   through `lhost train`, lr_monitor's lr-Adam / lr-SGD (and -momentum) equal torch's for 100
 *   steps, a run resumed mid-epoch (one_cycle) and from an epoch's checkpoint
 *   (reduce_lr_on_plateau) ends byte-identical to the uninterrupted one, bad parameters get one
 *   clear line, and `lhost plugins` / `lhost plugins check` list and pass the four.
 * Run: ctest --test-dir build -R test_lr_schedulers --output-on-failure */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check_run.h"
#include "cli_run.h"
#include "csv_column.h"
#include "fake_host.h"
#include "synth_data.h"

#define STEPS 100
#define MAX_CASES 32
#define TOL 1e-9
#define BATCHES 10      /* batches per epoch when a case steps per batch */
#define EPOCH_BATCHES 3 /* batches per epoch when it steps per epoch */

typedef struct gcase {
    char name[32], plugin[32], optim[8], kv[600];
    double lr0;
    double lr[STEPS], mom[STEPS], metric[STEPS];
    int has_metric;
} gcase;

static gcase cases[MAX_CASES];
static int n_cases;

/* ---- the golden file --------------------------------------------------------------------- */

static gcase *case_named(const char *name)
{
    int k;
    for (k = 0; k < n_cases; k++)
        if (strcmp(cases[k].name, name) == 0)
            return &cases[k];
    return NULL;
}

static void read_values(const char *p, double *out, const char *what)
{
    int k;
    char *end;
    for (k = 0; k < STEPS; k++, p = end) {
        out[k] = strtod(p, &end);
        ck_assert_msg(end != p, "lr_schedulers.txt: %s: value %d missing", what, k);
    }
}

static void load_golden(void)
{
    char path[1024], *text, *line, *save = NULL;
    snprintf(path, sizeof path, "%s/tests/golden/lr_schedulers.txt", LH_SOURCE_DIR);
    ck_assert_msg((text = read_text(path)) != NULL, "cannot read %s", path);
    n_cases = 0;
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char name[32], what[16];
        int used = 0;
        gcase *c;
        if (line[0] == '#')
            continue;
        if (strncmp(line, "case ", 5) == 0) {
            ck_assert_int_lt(n_cases, MAX_CASES);
            c = &cases[n_cases++];
            memset(c, 0, sizeof *c);
            ck_assert_int_eq(sscanf(line, "case %31s %31s %7s %lf %599s", c->name, c->plugin,
                                    c->optim, &c->lr0, c->kv),
                             5);
            continue;
        }
        ck_assert_int_eq(sscanf(line, "%31s %15s %n", name, what, &used), 2);
        ck_assert_msg((c = case_named(name)) != NULL, "lr_schedulers.txt: no case %s", name);
        if (strcmp(what, "lr") == 0)
            read_values(line + used, c->lr, name);
        else if (strcmp(what, "momentum") == 0)
            read_values(line + used, c->mom, name);
        else {
            ck_assert_str_eq(what, "metric");
            read_values(line + used, c->metric, name);
            c->has_metric = 1;
        }
    }
    free(text);
    ck_assert_int_ge(n_cases, 10);
}

/* The value of `key` in a case's "k=v,k=v" list into buf ("" when absent). */
static const char *kv_get(const gcase *c, const char *key, char *buf, size_t cap)
{
    const char *p = c->kv;
    size_t n = strlen(key);
    buf[0] = '\0';
    for (; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strncmp(p, key, n) == 0 && p[n] == '=') {
            snprintf(buf, cap, "%.*s", (int)strcspn(p + n + 1, ","), p + n + 1);
            break;
        }
    return buf;
}

/* ---- a host with an optimizer: get_hparam / set_hparam ---------------------------------- */

static struct {
    double lr, mom;
    int no_momentum; /* set_hparam("momentum") answers LHOST_ENOTFOUND, as an older host */
} hp;

static int32_t hp_get(lhost_ctx *ctx, const char *name, double *out)
{
    (void)ctx;
    if (strcmp(name, "lr") == 0)
        *out = hp.lr;
    else if (strcmp(name, "momentum") == 0)
        *out = hp.mom;
    else
        return LHOST_ENOTFOUND;
    return LHOST_OK;
}

static int32_t hp_set(lhost_ctx *ctx, const char *name, double v)
{
    (void)ctx;
    if (!isfinite(v) || v < 0)
        return LHOST_EINVAL;
    if (strcmp(name, "lr") == 0)
        hp.lr = v;
    else if (strcmp(name, "momentum") == 0 && !hp.no_momentum)
        hp.mom = v;
    else
        return LHOST_ENOTFOUND;
    return LHOST_OK;
}

static lhost_host host;

typedef struct inst {
    const lhost_callback_vtable *vt;
    void *self;
    fh_params prm;
    char kvtext[600];
    const char *kv[40];
} inst;

static const lhost_plugin_desc *plugin_named(const char *name)
{
    static void *dl;
    static const lhost_library *lib;
    char path[4096];
    lhost_version abi = LHOST_ABI_VERSION_INIT;
    lhost_entry_fn entry;
    uint32_t k;
    if (!dl) {
        snprintf(path, sizeof path, "%s/lr_schedulers.so", LH_REF_PLUGIN_DIR);
        ck_assert_msg((dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) != NULL, "%s", dlerror());
        *(void **)&entry = dlsym(dl, LHOST_ENTRY_SYMBOL);
        ck_assert(entry != NULL);
        ck_assert((lib = entry(&abi, &fh_host)) != NULL && lib->n_plugins == 4);
    }
    for (k = 0; k < lib->n_plugins; k++)
        if (strcmp(lib->plugins[k]->name, name) == 0)
            return lib->plugins[k];
    ck_abort_msg("lr_schedulers.so has no plugin %s", name);
    return NULL;
}

/* create() of `plugin` with the "k=v,k=v" list `kv`; the status (the instance in `in`). */
static int32_t inst_try(inst *in, const char *plugin, const char *kv)
{
    const lhost_plugin_desc *d = plugin_named(plugin);
    char err[256], *p, *save = NULL;
    int n = 0;
    memset(in, 0, sizeof *in);
    snprintf(in->kvtext, sizeof in->kvtext, "%s", kv);
    for (p = strtok_r(in->kvtext, ",", &save); p && n < 39; p = strtok_r(NULL, ",", &save))
        in->kv[n++] = p;
    ck_assert_msg(fh_params_build(&in->prm, d, in->kv, err, sizeof err) == 0, "%s: %s", plugin,
                  err);
    in->vt = (const lhost_callback_vtable *)d->vtable;
    host = fh_host;
    host.get_hparam = hp_get;
    host.set_hparam = hp_set;
    return in->vt->create(&host, FH_CTX, &in->prm.pv, &in->self);
}

static void inst_make(inst *in, const char *plugin, const char *kv)
{
    ck_assert_msg(inst_try(in, plugin, kv) == LHOST_OK, "%s {%s}: create: %s", plugin, kv,
                  fh.error);
}

static void hook_ok(int32_t rc, const char *what, int k)
{
    ck_assert_msg(rc == LHOST_OK, "%s at unit %d: status %d: %s", what, k, (int)rc, fh.error);
}

/* A fresh trainer: epoch 0, step 0, the optimizer at lr0 with momentum 0.9. */
static void trainer_reset(const gcase *c, int epoch_mode)
{
    fh_reset();
    fh.ts.num_train_batches = epoch_mode ? EPOCH_BATCHES : BATCHES;
    fh.ts.max_epochs = epoch_mode ? STEPS : STEPS / BATCHES;
    hp.lr = c->lr0;
    hp.mom = 0.9;
    hp.no_momentum = 0;
}

/* Unit k of a case (a batch, or with interval epoch an epoch of batches): the lr and momentum
 * the unit trains with into lr[k] / mom[k]; the epoch-end hook unless `no_epoch_end`. */
static void unit(inst *in, const gcase *c, int epoch_mode, int k, int no_epoch_end, double *lr,
                 double *mom)
{
    char monitor[64];
    int b;
    kv_get(c, "monitor", monitor, sizeof monitor);
    if (c->has_metric) /* the value the scheduler step after this unit reads */
        fh_set(monitor[0] ? monitor : "val_loss", c->metric[k]);
    if (epoch_mode) {
        fh.ts.epoch = k;
        hook_ok(in->vt->on_train_epoch_start(in->self, FH_CTX), "on_train_epoch_start", k);
        lr[k] = hp.lr, mom[k] = hp.mom;
        for (b = 0; b < EPOCH_BATCHES; b++) {
            fh.ts.batch_idx = b;
            fh.ts.global_step++;
            hook_ok(in->vt->on_train_batch_end(in->self, FH_CTX, NULL), "on_train_batch_end",
                    k);
        }
        fh.ts.batch_idx = -1;
        if (!no_epoch_end)
            hook_ok(in->vt->on_train_epoch_end(in->self, FH_CTX), "on_train_epoch_end", k);
        return;
    }
    fh.ts.epoch = k / BATCHES;
    b = k % BATCHES;
    if (b == 0)
        hook_ok(in->vt->on_train_epoch_start(in->self, FH_CTX), "on_train_epoch_start", k);
    fh.ts.batch_idx = b;
    lr[k] = hp.lr, mom[k] = hp.mom;
    fh.ts.global_step++;
    hook_ok(in->vt->on_train_batch_end(in->self, FH_CTX, NULL), "on_train_batch_end", k);
    if (b == BATCHES - 1) {
        fh.ts.batch_idx = -1;
        hook_ok(in->vt->on_train_epoch_end(in->self, FH_CTX), "on_train_epoch_end", k);
    }
}

/* A checkpoint and a fresh process: state_save, destroy, create, state_restore, on_fit_start
 * (the host's lr and momentum are the checkpoint's, as lhost restores them). */
static void resume(inst *in, const gcase *c)
{
    const void *data;
    uint64_t size;
    unsigned char saved[4096];
    hook_ok(in->vt->state_save(in->self, FH_CTX, &data, &size), "state_save", -1);
    ck_assert_uint_le(size, sizeof saved);
    memcpy(saved, data, size);
    in->vt->destroy(in->self);
    inst_make(in, c->plugin, c->kv);
    hook_ok(in->vt->state_restore(in->self, FH_CTX, in->vt->state_version, saved, size),
            "state_restore", -1);
    hook_ok(in->vt->on_fit_start(in->self, FH_CTX), "on_fit_start", -1);
}

/* One case for STEPS units; resumed before unit `at` (STEPS: never); with `early` (interval
 * epoch) the checkpoint is taken before unit at - 1's epoch end, and the run resumes at `at`. */
static void run_case(const gcase *c, int at, int early, double *lr, double *mom)
{
    char iv[16];
    int epoch_mode = strcmp(kv_get(c, "interval", iv, sizeof iv), "epoch") == 0, k;
    inst in;
    trainer_reset(c, epoch_mode);
    inst_make(&in, c->plugin, c->kv);
    hook_ok(in.vt->on_fit_start(in.self, FH_CTX), "on_fit_start", 0);
    for (k = 0; k < STEPS; k++) {
        if (k == at && !early)
            resume(&in, c);
        unit(&in, c, epoch_mode, k, early && k == at - 1, lr, mom);
        if (k == at - 1 && early) {
            fh.ts.epoch = at; /* the trainer resumes at the next epoch */
            resume(&in, c);
        }
    }
    in.vt->destroy(in.self);
}

/* Every step within TOL of torch's; the worst difference. */
static double compare(const char *what, const gcase *c, const double *got, const double *want)
{
    double worst = 0;
    int k;
    for (k = 0; k < STEPS; k++) {
        double d = fabs(got[k] - want[k]);
        ck_assert_msg(d <= TOL, "%s %s: step %d: %.17g, torch %.17g (|diff| %.3g > %g)", c->name,
                      what, k, got[k], want[k], d, TOL);
        worst = d > worst ? d : worst;
    }
    return worst;
}

START_TEST(every_case_equals_torch)
{
    double lr[STEPS], mom[STEPS], wl = 0, wm = 0;
    int k;
    load_golden();
    for (k = 0; k < n_cases; k++) {
        run_case(&cases[k], STEPS, 0, lr, mom);
        wl = fmax(wl, compare("lr", &cases[k], lr, cases[k].lr));
        wm = fmax(wm, compare("momentum", &cases[k], mom, cases[k].mom));
    }
    printf("lr_schedulers: %d cases x %d steps: worst |lr - torch| %.3g, |momentum - torch| "
           "%.3g\n",
           n_cases, STEPS, wl, wm);
}
END_TEST

START_TEST(resumed_in_the_middle_equals_torch)
{
    static const int points[] = {1, 37, 50, 99};
    double lr[STEPS], mom[STEPS];
    size_t p;
    int k;
    load_golden();
    for (k = 0; k < n_cases; k++)
        for (p = 0; p < sizeof points / sizeof points[0]; p++) {
            char iv[16];
            run_case(&cases[k], points[p], 0, lr, mom);
            compare("lr (resumed)", &cases[k], lr, cases[k].lr);
            compare("momentum (resumed)", &cases[k], mom, cases[k].mom);
            if (strcmp(kv_get(&cases[k], "interval", iv, sizeof iv), "epoch") != 0)
                continue;
            run_case(&cases[k], points[p], 1, lr, mom);
            compare("lr (resumed from before the epoch's step)", &cases[k], lr, cases[k].lr);
        }
}
END_TEST

/* one_cycle without total_steps takes the trainer's: 10 epochs of 10 batches = oc_cos's 100. */
START_TEST(one_cycle_total_from_the_trainer)
{
    gcase c;
    double lr[STEPS], mom[STEPS];
    load_golden();
    c = *case_named("oc_cos");
    snprintf(c.kv, sizeof c.kv, "max_lr=0.01,interval=step");
    run_case(&c, STEPS, 0, lr, mom);
    compare("lr", &c, lr, c.lr);
    compare("momentum", &c, mom, c.mom);
}
END_TEST

START_TEST(errors_say_why)
{
    gcase c;
    inst in;
    int32_t rc = LHOST_OK;
    int k;
    load_golden();
    c = *case_named("oc_cos");
    /* past total_steps: torch's "Tried to step 52 times" (its constructor's step counts) */
    trainer_reset(&c, 0);
    inst_make(&in, "one_cycle", "max_lr=0.01,total_steps=50,interval=step");
    hook_ok(in.vt->on_fit_start(in.self, FH_CTX), "on_fit_start", 0);
    for (k = 0; k < 60 && rc == LHOST_OK; k++) {
        fh.ts.batch_idx = k % BATCHES;
        fh.ts.global_step++;
        rc = in.vt->on_train_batch_end(in.self, FH_CTX, NULL);
    }
    ck_assert_int_eq(rc, LHOST_ERROR);
    ck_assert_int_eq(k, 51);
    ck_assert_msg(strstr(fh.error, "scheduler step 51 is past total_steps 50"), "%s", fh.error);
    in.vt->destroy(in.self);

    /* a host that cannot set the momentum */
    trainer_reset(&c, 0);
    hp.no_momentum = 1;
    inst_make(&in, "one_cycle", "max_lr=0.01,total_steps=50");
    ck_assert_int_eq(in.vt->on_fit_start(in.self, FH_CTX), LHOST_ERROR);
    ck_assert_msg(strstr(fh.error, "cannot set the optimizer's momentum") &&
                      strstr(fh.error, "cycle_momentum: false"),
                  "%s", fh.error);
    in.vt->destroy(in.self);
    inst_make(&in, "one_cycle", "max_lr=0.01,total_steps=50,cycle_momentum=false");
    hook_ok(in.vt->on_fit_start(in.self, FH_CTX), "on_fit_start", 0);
    ck_assert(fabs(hp.lr - 0.01 / 25) < 1e-15); /* step 0: the start of the rise */
    in.vt->destroy(in.self);

    /* a monitor never logged: an error naming the keys there are, or with strict false a
     * warning and no step */
    trainer_reset(&c, 0);
    fh_set("val_acc", 0.5);
    inst_make(&in, "reduce_lr_on_plateau", "patience=0");
    hook_ok(in.vt->on_fit_start(in.self, FH_CTX), "on_fit_start", 0);
    ck_assert_int_eq(in.vt->on_train_epoch_end(in.self, FH_CTX), LHOST_ERROR);
    ck_assert_msg(strstr(fh.error, "monitor \"val_loss\" is not logged; logged: val_acc"), "%s",
                  fh.error);
    in.vt->destroy(in.self);
    inst_make(&in, "reduce_lr_on_plateau", "patience=0,strict=false");
    hook_ok(in.vt->on_fit_start(in.self, FH_CTX), "on_fit_start", 0);
    for (k = 0; k < 3; k++) {
        fh.ts.epoch = k;
        hook_ok(in.vt->on_train_epoch_end(in.self, FH_CTX), "on_train_epoch_end", k);
    }
    ck_assert(hp.lr == c.lr0);
    ck_assert_msg(strstr(fh.log, "WARN monitor \"val_loss\" is not logged"), "%s", fh.log);
    in.vt->destroy(in.self);

    /* parameters only the plugin can judge */
    ck_assert_int_eq(inst_try(&in, "reduce_lr_on_plateau", "factor=1"), LHOST_ERROR);
    ck_assert_msg(strstr(fh.error, "factor: expected a number below 1"), "%s", fh.error);
    ck_assert_int_eq(inst_try(&in, "cosine_annealing", "t_max=5,warmup_start_factor=0"),
                     LHOST_ERROR);
    ck_assert_msg(strstr(fh.error, "warmup_start_factor: expected a number in (0, 1]"), "%s",
                  fh.error);
    ck_assert_int_eq(inst_try(&in, "one_cycle", "max_lr=1,total_steps=9,epochs=3"),
                     LHOST_ERROR);
    ck_assert_msg(strstr(fh.error, "not both"), "%s", fh.error);

    /* another scheduler's state is refused */
    {
        const void *data;
        uint64_t size;
        unsigned char saved[512];
        inst other;
        inst_make(&in, "step_lr", "step_size=2");
        hook_ok(in.vt->on_fit_start(in.self, FH_CTX), "on_fit_start", 0);
        hook_ok(in.vt->state_save(in.self, FH_CTX, &data, &size), "state_save", 0);
        memcpy(saved, data, size);
        inst_make(&other, "cosine_annealing", "t_max=4");
        ck_assert_int_eq(other.vt->state_restore(other.self, FH_CTX, other.vt->state_version,
                                                 saved, size),
                         LHOST_ERROR);
        ck_assert_msg(strstr(fh.error, "another scheduler's state"), "%s", fh.error);
        ck_assert_int_eq(other.vt->state_restore(other.self, FH_CTX, 99, saved, size),
                         LHOST_ERROR);
        in.vt->destroy(in.self);
        other.vt->destroy(other.self);
    }
}
END_TEST

/* ---- through `lhost train` --------------------------------------------------------------- */

static char dir[256];

/* `lhost args` in dir/sub; the output (malloc'ed), the exit status asserted. */
static char *lhost_in(const char *sub, const char *args, int want_rc)
{
    char cwd[400], *out;
    int rc;
    snprintf(cwd, sizeof cwd, "%s/%s", dir, sub);
    rc = cli_run(cwd, args, &out);
    ck_assert_msg(want_rc < 0 ? rc > 0 : rc == want_rc, "lhost %s: exit %d, expected %d\n%s",
                  args, rc, want_rc, out);
    return out;
}

/* dir/sub/cfg.yaml: 64 samples in batches of `batch`, a linear model, `epochs`, then
 * `callbacks` (YAML lines). */
static void workdir(const char *sub, int batch, int epochs, const char *callbacks)
{
    char path[600], text[4096];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/%s/cfg.yaml", dir, sub);
    snprintf(text, sizeof text,
             "seed: 5\n"
             "data: {path: ../data, batch_size: %d}\n"
             "model:\n  layers:\n"
             "    - {type: flatten}\n    - {type: linear, name: fc, out_features: 10}\n"
             "trainer: {max_epochs: %d, enable_progress_bar: false, enable_model_summary: false,"
             " default_root_dir: ., log_every_n_steps: 1}\n"
             "callbacks:\n%s",
             batch, epochs, callbacks);
    write_text(path, text);
}

static void setup(void) { ck_assert_int_eq(synth_workdir(dir, sizeof dir, "lrs", 64, 20), 0); }
static void teardown(void) { synth_remove(dir); }

/* The callbacks YAML of a golden case: "  PLUGIN: {k: v, ...}". */
static void case_yaml(const gcase *c, char *buf, size_t cap)
{
    char kv[600], *p, *save = NULL;
    size_t n;
    snprintf(kv, sizeof kv, "%s", c->kv);
    n = (size_t)snprintf(buf, cap, "  %s: {", c->plugin);
    for (p = strtok_r(kv, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(p, '=');
        *eq = '\0';
        n += (size_t)snprintf(buf + n, cap - n, "%s%s: %s", buf[n - 1] == '{' ? "" : ", ", p,
                              eq + 1);
    }
    snprintf(buf + n, cap - n, "}\n");
}

/* metrics.csv of dir/sub's first run: column `key`'s values must be the case's `want`. */
static void column_is(const char *sub, const char *key, const gcase *c, const double *want)
{
    char path[600], *csv;
    double got[STEPS + 8];
    snprintf(path, sizeof path, "%s/%s/lightning_logs/version_0/metrics.csv", dir, sub);
    ck_assert_msg((csv = read_text(path)) != NULL, "cannot read %s", path);
    ck_assert_msg(csv_column_values(csv, key, got, STEPS + 8) == STEPS, "%s: %d values of %s",
                  path, csv_column_values(csv, key, got, STEPS + 8), key);
    compare(key, c, got, want);
    free(csv);
}

START_TEST(lr_monitor_shows_the_torch_schedule)
{
    /* oc_lin3 on SGD: its momentum set through the host, and its last step (after the last
     * batch) overshooting below 0, which is set as 0 */
    static const char *const names[] = {"cos_warm", "oc_cos", "step_epoch", "oc_lin3"};
    char yaml[1200], cb[1400], args[256], key[32];
    size_t k;
    load_golden();
    for (k = 0; k < sizeof names / sizeof names[0]; k++) {
        const gcase *c = case_named(names[k]);
        int epoch = strstr(c->kv, "interval=epoch") != NULL, sgd = !strcmp(c->optim, "sgd");
        case_yaml(c, yaml, sizeof yaml);
        snprintf(cb, sizeof cb, "%s  lr_monitor: {logging_interval: %s, log_momentum: true}\n",
                 yaml, epoch ? "epoch" : "step");
        /* 4 steps an epoch for 25 epochs, or one step an epoch for 100 */
        workdir(c->name, epoch ? 64 : 16, epoch ? STEPS : STEPS / 4, cb);
        snprintf(args, sizeof args, "train --config cfg.yaml --optimizer.lr=%.17g%s", c->lr0,
                 sgd ? " --optimizer.name=sgd --optimizer.momentum=0.9" : "");
        free(lhost_in(c->name, args, 0));
        snprintf(key, sizeof key, "lr-%s", sgd ? "SGD" : "Adam");
        column_is(c->name, key, c, c->lr);
        snprintf(key, sizeof key, "lr-%s-momentum", sgd ? "SGD" : "Adam");
        column_is(c->name, key, c, c->mom);
    }
}
END_TEST

/* Run A straight; B is A's folder as it stood when checkpoint `from` was written (the later
 * ones removed), resumed from it: both end with the same last.ckpt and metrics.csv. */
static void resume_same(const char *callbacks, int epochs, const char *from, const char *later)
{
    char cmd[2400], *a, *b, path[600];
    char *out;
    workdir("A", 16, epochs, callbacks);
    free(lhost_in("A", "train --config cfg.yaml", 0));
    snprintf(cmd, sizeof cmd, "cp -r '%s/A' '%s/B' && rm '%s/B/ckpt/last.ckpt' %s", dir, dir,
             dir, later);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "train --config cfg.yaml --resume ckpt/%s", from);
    out = lhost_in("B", cmd, 0);
    free(out);
    snprintf(path, sizeof path, "%s/A/ckpt/last.ckpt", dir);
    snprintf(cmd, sizeof cmd, "cmp '%s' '%s/B/ckpt/last.ckpt'", path, dir);
    ck_assert_msg(system(cmd) == 0, "last.ckpt differs after the resume");
    snprintf(path, sizeof path, "%s/A/lightning_logs/version_0/metrics.csv", dir);
    a = read_text(path);
    snprintf(path, sizeof path, "%s/B/lightning_logs/version_0/metrics.csv", dir);
    b = read_text(path);
    ck_assert(a && b);
    ck_assert_msg(strcmp(a, b) == 0, "metrics.csv differs after the resume:\n%s\n---\n%s", a,
                  b);
    free(a);
    free(b);
}

/* The distinct values of lr-Adam in dir/A's metrics.csv: the schedule did move. */
static int distinct_lrs(void)
{
    char path[600], *csv;
    double v[512];
    int n, k, d = 0;
    snprintf(path, sizeof path, "%s/A/lightning_logs/version_0/metrics.csv", dir);
    ck_assert((csv = read_text(path)) != NULL);
    n = csv_column_values(csv, "lr-Adam", v, 512);
    for (k = 0; k < n; k++)
        d += k == 0 || v[k] != v[k - 1];
    free(csv);
    return d;
}

START_TEST(one_cycle_resumes_mid_epoch_exactly)
{
    char later[700];
    snprintf(later, sizeof later, "'%s/B/ckpt/'epoch=[2-9]-*", dir);
    resume_same("  one_cycle: {max_lr: 0.01, interval: step}\n"
                "  lr_monitor: {logging_interval: step, log_momentum: true}\n"
                "  model_checkpoint: {dirpath: ckpt, every_n_train_steps: 6, save_top_k: -1, "
                "save_last: true}\n",
                6, "epoch=1-step=6.ckpt", later);
    ck_assert_int_ge(distinct_lrs(), 20);
}
END_TEST

START_TEST(plateau_resumes_from_an_epoch_checkpoint_exactly)
{
    char later[700];
    snprintf(later, sizeof later, "'%s/B/ckpt/'epoch=[3-9]-*", dir);
    /* mode max on a falling val_loss: no improvement after the first epoch, a reduction every
     * other epoch (patience 1) */
    resume_same("  reduce_lr_on_plateau: {monitor: val_loss, mode: max, patience: 1, "
                "factor: 0.5}\n"
                "  lr_monitor: {logging_interval: epoch}\n"
                "  model_checkpoint: {dirpath: ckpt, save_top_k: -1, save_last: true}\n",
                8, "epoch=2-step=12.ckpt", later);
    ck_assert_int_ge(distinct_lrs(), 3);
}
END_TEST

START_TEST(listed_checked_and_bad_values_refused)
{
    static const char *const ids[] = {"org.lhost.step_lr", "org.lhost.cosine_annealing",
                                      "org.lhost.one_cycle", "org.lhost.reduce_lr_on_plateau"};
    char args[600], *out;
    size_t k;
    workdir("w", 16, 1, "  lr_monitor: {}\n");
    out = lhost_in("w", "plugins", 0);
    for (k = 0; k < sizeof ids / sizeof ids[0]; k++)
        ck_assert_msg(strstr(out, ids[k]) != NULL, "%s not listed:\n%s", ids[k], out);
    free(out);
    snprintf(args, sizeof args, "plugins check %s/lr_schedulers.so", LH_REF_PLUGIN_DIR);
    out = lhost_in("w", args, 0);
    ck_assert_msg(strstr(out, "every rule passed"), "%s", out);
    free(out);
    out = lhost_in("w", "train --config cfg.yaml --callbacks.reduce_lr_on_plateau.factor=1.5",
                   -1);
    ck_assert_msg(strstr(out, "reduce_lr_on_plateau") && strstr(out, "factor: expected a number "
                                                                      "below 1, got 1.5"),
                  "%s", out);
    free(out);
    out = lhost_in("w", "train --config cfg.yaml --callbacks.step_lr.gamma=0.5", -1);
    ck_assert_msg(strstr(out, "step_size"), "%s", out);
    free(out);
    out = lhost_in("w", "train --config cfg.yaml --callbacks.one_cycle.max_lr=0.1 "
                        "--callbacks.one_cycle.total_steps=2 --callbacks.one_cycle.interval=step",
                   -1);
    ck_assert_msg(strstr(out, "scheduler step 3 is past total_steps 2"), "%s", out);
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("lr_schedulers");
    TCase *tc = tcase_create("harness"), *run = tcase_create("lhost");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, every_case_equals_torch);
    tcase_add_test(tc, resumed_in_the_middle_equals_torch);
    tcase_add_test(tc, one_cycle_total_from_the_trainer);
    tcase_add_test(tc, errors_say_why);
    suite_add_tcase(s, tc);
    tcase_add_checked_fixture(run, setup, teardown);
    tcase_set_timeout(run, 240);
    tcase_add_test(run, lr_monitor_shows_the_torch_schedule);
    tcase_add_test(run, one_cycle_resumes_mid_epoch_exactly);
    tcase_add_test(run, plateau_resumes_from_an_epoch_checkpoint_exactly);
    tcase_add_test(run, listed_checked_and_bad_values_refused);
    suite_add_tcase(s, run);
    return check_run(s);
}
