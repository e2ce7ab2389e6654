/* host/cli/cmd_train.c — `lhost train`, `lhost validate`, `lhost test` and `lhost predict`.
 *
 *   lhost train|fit -c FILE.yaml [--resume CKPT] [--plugin-dir DIR]... [--KEY=VALUE]...
 *   lhost validate --ckpt CKPT [--data DIR] [--plugin-dir DIR]... [--KEY=VALUE]...
 *   lhost predict --ckpt CKPT --data DIR --out FILE.csv [--plugin-dir DIR]... [--KEY=VALUE]...
 *   lhost test --ckpt CKPT [--data PATH] [--plugin-dir DIR]... [--KEY=VALUE]...
 *
 * All four parse with host/cli/args.c; config keys come from host/train/trainer_keys.c, which
 * --help lists. --print_config prints the merged config as YAML instead of running.
 *
 * Each returns the process exit code: 0 success, 1 failure, 2 usage error; `lhost train` stopped
 * by SIGINT or SIGTERM returns 128 + the signal (130, 143) once it has wound down. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "ckpt.h"
#include "clock.h"
#include "cmd.h"
#include "dist.h"
#include "guard.h"
#include "layer.h"
#include "signals.h"
#include "trainer.h"
#include "trainer_keys.h"

#define MAX_DIRS 64

/* ---- the command lines ------------------------------------------------------------------ */

#define PLUGIN_OPTS                                                                           \
    {"plugin-dir", 0, LH_ARG_LIST, "DIR", MAX_DIRS, "search DIR for plugins first"},          \
    {"allow-insecure-plugins", 0, LH_ARG_FLAG, NULL, 0,                                       \
     "load plugin files and folders writable by group or others or owned by another user"},    \
    {"plugin-timeout", 0, LH_ARG_VALUE, "SECONDS", 0,                                         \
     "end the run (status 124) when one call into a plugin lasts this long (default: never)"}, \
    {"print_config", 0, LH_ARG_FLAG, NULL, 0,                                                 \
     "print the merged config (file + overrides) as YAML and exit"}

static const lh_arg_opt train_opts[] = {
    {"config", 'c', LH_ARG_VALUE, "FILE", 0, "the YAML config (its keys below)"},
    {"resume", 0, LH_ARG_VALUE, "CKPT", 0, "continue a run exactly from a checkpoint lhost wrote"},
    PLUGIN_OPTS,
    {NULL, 0, 0, NULL, 0, NULL},
};

static const lh_arg_opt validate_opts[] = {
    {"ckpt", 0, LH_ARG_VALUE, "CKPT", 0, "the checkpoint (required)"},
    {"data", 0, LH_ARG_VALUE, "PATH", 0,
     "the data to validate on: an IDX folder (its t10k-* files) or a data file (default: the "
     "checkpoint's)"},
    PLUGIN_OPTS,
    {NULL, 0, 0, NULL, 0, NULL},
};

static const lh_arg_opt test_opts[] = {
    {"ckpt", 0, LH_ARG_VALUE, "CKPT", 0, "the checkpoint (required)"},
    {"data", 0, LH_ARG_VALUE, "PATH", 0,
     "the test data: an IDX folder (its t10k-* files) or a file (default: the checkpoint's "
     "data.test)"},
    PLUGIN_OPTS,
    {NULL, 0, 0, NULL, 0, NULL},
};

static const lh_arg_opt predict_opts[] = {
    {"ckpt", 0, LH_ARG_VALUE, "CKPT", 0, "the checkpoint (required)"},
    {"data", 0, LH_ARG_VALUE, "DIR", 0, "the dataset folder (required)"},
    {"out", 0, LH_ARG_VALUE, "FILE", 0, "the CSV to write (required)"},
    PLUGIN_OPTS,
    {NULL, 0, 0, NULL, 0, NULL},
};

/* Lightning writes seed_everything where lhost's config says seed. */
static const char *const aliases[] = {"seed_everything", "seed", NULL};
/* The undotted keys --KEY=VALUE sets (seed, plugin_dirs), from the table of keys. */
static const char *top_keys[16];

static void config_help(FILE *f);

/* What the three commands that read a config share. */
#define CONFIG_SPEC                                                                           \
    .overrides = 1, .top_keys = top_keys, .aliases = aliases, .help_more = config_help

static const lh_args_spec train_spec = {
    .usage = "-c FILE [--resume CKPT] [--plugin-dir DIR]... [--KEY=VALUE]... [--print_config]",
    .about = "Train the model the config describes, as LightningCLI's fit ('lhost fit' is the\n"
             "same). --resume continues a run exactly from a checkpoint written by lhost.\n",
    .opts = train_opts,
    CONFIG_SPEC,
};

static const lh_args_spec validate_spec = {
    .usage = "--ckpt CKPT [--data DIR] [--plugin-dir DIR]... [--KEY=VALUE]...",
    .about = "Rebuild the model from the checkpoint alone (as Lightning's load_from_checkpoint)\n"
             "and print the validation loss and the metrics it was trained with, on DIR's test\n"
             "split (default: the data the checkpoint was trained on).\n",
    .opts = validate_opts,
    CONFIG_SPEC,
};

static const lh_args_spec test_spec = {
    .usage = "--ckpt CKPT [--data PATH] [--plugin-dir DIR]... [--KEY=VALUE]...",
    .about = "Lightning's test stage: rebuild the model from the checkpoint and print test_loss\n"
             "and test_<metric> on the test split: data.test, else an .npz's x_test / y_test or\n"
             "the IDX folder's t10k-* files (--data replaces the checkpoint's data).\n",
    .opts = test_opts,
    CONFIG_SPEC,
};

static const lh_args_spec predict_spec = {
    .usage = "--ckpt CKPT --data DIR --out FILE.csv [--plugin-dir DIR]... [--KEY=VALUE]...",
    .about = "Write one CSV row per test sample of DIR: index,target,pred,logit_0..logit_{C-1}.\n",
    .opts = predict_opts,
    CONFIG_SPEC,
};

static int parse(lh_args *a, const lh_args_spec *spec, int argc, char **argv)
{
    int32_t n = 0;
    for (int32_t i = 0; i < lh_trainer_n_keys && n < 15; i++)
        if (!strchr(lh_trainer_keys[i].path, '.') && lh_trainer_keys[i].type != LH_KEY_SECTION)
            top_keys[n++] = lh_trainer_keys[i].path;
    top_keys[n] = NULL;
    return lh_args_parse(a, spec, argc, argv);
}

/* ---- --help: the config keys, their types, defaults and help ------------------------------ */

/* "  --data.batch_size INT   help (default: 64)", the help under the key when the key is long
 * and the default under the help when the line would pass 100 columns. An empty default is
 * shown as "", the way the help texts and a config write it. */
static void key_row(FILE *f, const char *path, const char *type, const char *help,
                    const char *dflt)
{
    enum { COL = 34, WIDTH = 100 };
    char left[200];
    if (!dflt[0])
        dflt = "\"\"";
    int n = snprintf(left, sizeof left, "  --%s %s", path, type);
    if (n + 2 > COL)
        fprintf(f, "%s\n%*s%s", left, COL, "", help);
    else
        fprintf(f, "%-*s%s", COL, left, help);
    if (COL + strlen(help) + strlen(dflt) + 12 > WIDTH)
        fprintf(f, "\n%*s(default: %s)\n", COL, "", dflt);
    else
        fprintf(f, " (default: %s)\n", dflt);
}

static void table_row(FILE *f, const lh_trainer_key *k)
{
    static const char *const types[] = {"", "", "INT", "FLOAT", "BOOL", "STR", "", "LIST",
                                         "MAP|STR"};
    char type[128] = "";
    if (k->type == LH_KEY_ENUM || k->type == LH_KEY_CUSTOM)
        for (int32_t c = 0; k->choices[c]; c++)
            snprintf(type + strlen(type), sizeof type - strlen(type), "%s%s", c ? "|" : "",
                     k->choices[c]);
    else
        snprintf(type, sizeof type, "%s", types[k->type]);
    key_row(f, k->path, type, k->help, k->dflt);
}

static void optimizer_row(void *user, const char *key, const char *type, const char *help,
                          const char *dflt)
{
    char path[96];
    snprintf(path, sizeof path, "optimizer.%s", key);
    key_row(user, path, type, help, dflt);
}

/* The optimizer's keys, as host/nn/optim.c reads them. */
static void optimizer_rows(FILE *f)
{
    lh_error err;
    if (lh_optim_describe(optimizer_row, f, &err))
        fprintf(f, "  (optimizer defaults unavailable: %s)\n", err.msg);
}

static void layer_row(void *user, const char *name, const char *torch_name, const char *keys)
{
    enum { COL = 34, WIDTH = 100 };
    FILE *f = user;
    char left[96];
    int col;
    snprintf(left, sizeof left, "  - {type: %s, ...}", name);
    col = fprintf(f, "%-*s%s%s", COL, left, torch_name, keys[0] ? ":" : "");
    /* The keys, ", "-separated, wrapped under the column. */
    while (*keys) {
        const char *end = strstr(keys, ", ");
        int len = end ? (int)(end - keys) : (int)strlen(keys);
        if (col + 1 + len > WIDTH && col > COL + 2)
            col = fprintf(f, "\n%*s", COL + 1, "") - 1;
        col += fprintf(f, " %.*s%s", len, keys, end ? "," : "");
        keys += len + (end ? 2 : 0);
    }
    fputc('\n', f);
}

static void config_help(FILE *f)
{
    int32_t i, j;
    fprintf(f, "\nconfig keys (top level; --seed_everything is --seed):\n");
    for (i = 0; i < lh_trainer_n_keys; i++)
        if (!strchr(lh_trainer_keys[i].path, '.') && lh_trainer_keys[i].type != LH_KEY_SECTION)
            table_row(f, &lh_trainer_keys[i]);
    for (i = 0; i < lh_trainer_n_keys; i++) {
        const lh_trainer_key *sec = &lh_trainer_keys[i];
        size_t len = strlen(sec->path);
        if (sec->type != LH_KEY_SECTION)
            continue;
        fprintf(f, "\n%s: %s\n", sec->path, sec->help);
        for (j = 0; j < lh_trainer_n_keys; j++)
            if (strncmp(lh_trainer_keys[j].path, sec->path, len) == 0 &&
                lh_trainer_keys[j].path[len] == '.')
                table_row(f, &lh_trainer_keys[j]);
        if (strcmp(sec->path, "optimizer") == 0)
            optimizer_rows(f);
        if (strcmp(sec->path, "model") == 0) {
            fprintf(f, "  model.layers: each layer's type (its PyTorch class) and keys; every "
                       "layer also takes\n  name (its state_dict prefix):\n");
            lh_layer_describe(layer_row, f);
        }
    }
    fprintf(f, "\n'lhost plugins' lists the plugins; 'lhost plugins --verbose NAME' a plugin's "
               "parameters\nand defaults, which --callbacks.KEY.PARAM=VALUE and the like set.\n");
}

/* ---- the commands --------------------------------------------------------------------------- */

static int fail(const lh_error *err)
{
    fprintf(stderr, "lhost: %s%s\n", lh_dist_prefix(), err->msg);
    return 1;
}

/* What a training, validation or prediction command holds; run_end releases it all. */
typedef struct cmd_run {
    lh_args args;
    lh_error err;
    lh_config *cfg;
    lh_registry *reg;
    lh_trainer *t;
    lh_trainer_opts opts;
    int printed; /* --print_config did the command's work */
} cmd_run;

/* A command's end: report a failure (rc 1), then release what it set up. */
static int run_end(cmd_run *r, int rc)
{
    int sig = lh_signals_pending();
    if (rc)
        fail(&r->err);
    if (rc && sig)
        rc = 128 + sig;
    lh_trainer_destroy(r->t);
    if (r->reg)
        lh_registry_close(r->reg);
    lh_config_free(r->cfg);
    lh_args_free(&r->args);
    lh_dist_finalize();
    /* After a signal the handler stays until exit, so a second one ends the process at once
     * with the same status, however late it comes; otherwise the shell's disposition returns. */
    if (!sig)
        lh_signals_restore();
    return rc;
}

/* --plugin-timeout SECONDS: the watchdog for plugin calls that never return (guard.h). */
static int watchdog(const char *text, lh_error *err)
{
    char *end;
    double s;
    if (!text)
        return 0;
    s = strtod(text, &end);
    if (end == text || *end || !(s > 0) || s > 1e9)
        return lh_error_set(err, "--plugin-timeout: expected a number of seconds > 0, got \"%s\"",
                            text);
    return lh_guard_watchdog(s) ? lh_error_set(err, "--plugin-timeout: cannot start the watchdog")
                                : 0;
}

/* Plugin directories: --plugin-dir first, then the config's plugin_dirs. */
static int open_registry(const lh_args *a, const lh_config *cfg, lh_registry **reg,
                         lh_error *err)
{
    const char *dirs[2 * MAX_DIRS];
    int32_t n = lh_args_all(a, "plugin-dir", dirs, MAX_DIRS), i;
    lh_registry_opts o;
    const lh_config_node *pd = cfg ? lh_config_get(lh_config_root(cfg), "plugin_dirs") : NULL;
    if (pd) {
        if (lh_config_type(pd) != LH_CFG_SEQ)
            return lh_error_set(err, "config %s: plugin_dirs: expected a list of directories",
                                lh_config_where(pd));
        for (i = 0; i < lh_config_len(pd) && n < 2 * MAX_DIRS; i++) {
            const char *s = lh_config_scalar(lh_config_at(pd, i));
            if (!s || !s[0])
                return lh_error_set(err, "config %s: plugin_dirs.%d: expected a directory",
                                    lh_config_where(lh_config_at(pd, i)), i);
            dirs[n++] = s;
        }
    }
    memset(&o, 0, sizeof o);
    o.plugin_dirs = dirs;
    o.n_plugin_dirs = n;
    o.allow_insecure = lh_args_get(a, "allow-insecure-plugins") != NULL;
    /* Every file is judged in a child first; only the plugins the config names are then loaded
     * here (lh_registry_use), so a crashing or hanging file costs a line, not the run. */
    o.scan_in_child = 1;
    if (lh_registry_open(reg, &o, lh_services_table(), err))
        return -1;
    for (i = 0; i < lh_registry_count(*reg); i++) {
        const lh_plugin_row *r = lh_registry_row(*reg, i);
        if (r->status == LH_PLUGIN_BROKEN && r->id)
            fprintf(stderr, "lhost: warning: plugin %s (%s) refused: %s\n", r->id, r->path,
                    r->reason);
        else if (r->status == LH_PLUGIN_BROKEN)
            fprintf(stderr, "lhost: warning: plugin file %s refused: %s\n", r->path, r->reason);
    }
    /* From here a crash inside a plugin's create or hook is reported with its id (guard.h). */
    if (lh_guard_install())
        return lh_error_set(err, "cannot install the handler for plugin crashes");
    return watchdog(lh_args_get(a, "plugin-timeout"), err);
}

/* Overrides, then the checks of the trainer's keys; with --print_config, print the config. */
static int merge(const lh_args *a, lh_config *cfg, lh_trainer_opts *o, int *printed,
                 lh_error *err)
{
    char *text;
    *printed = 0;
    if (lh_args_apply_overrides(a, cfg, err) || lh_trainer_opts_from_cfg(cfg, o, err))
        return -1;
    if (!lh_args_get(a, "print_config"))
        return 0;
    if (!(text = lh_config_to_yaml(lh_config_root(cfg), err)))
        return -1;
    fputs(text, stdout);
    free(text);
    *printed = 1;
    return fflush(stdout) ? lh_error_set(err, "cannot write the config to stdout: %s",
                                         strerror(errno))
                          : 0;
}

int lh_cmd_train(int argc, char **argv)
{
    cmd_run r = {0};
    const char *config, *resume;
    double t0 = lh_clock_now();
    int rc;
    if ((rc = parse(&r.args, &train_spec, argc, argv)) != 0)
        return rc == LH_ARGS_HELP ? 0 : 2;
    config = lh_args_get(&r.args, "config"), resume = lh_args_get(&r.args, "resume");
    if (!config && !lh_args_get(&r.args, "print_config")) {
        rc = lh_args_error(&r.args, "--config FILE is required");
        lh_args_free(&r.args);
        return rc;
    }
    if (lh_config_load(&r.cfg, config, &r.err) ||
        merge(&r.args, r.cfg, &r.opts, &r.printed, &r.err))
        return run_end(&r, 1);
    if (r.printed)
        return run_end(&r, 0);
    r.opts.t_start = t0;
    if (resume) /* a val_split is taken from the checkpoint, not drawn again */
        snprintf(r.opts.split_ckpt, sizeof r.opts.split_ckpt, "%s", resume);
    /* From here a Ctrl-C stops training at a batch boundary (host/train/trainer.c). */
    if (lh_signals_install()) {
        lh_error_set(&r.err, "cannot install the SIGINT/SIGTERM handlers");
        return run_end(&r, 1);
    }
    /* MPI after the registry: plugin files are judged in forked children first. */
    if (open_registry(&r.args, r.cfg, &r.reg, &r.err) || lh_dist_init(&r.err) ||
        lh_trainer_create(&r.t, &r.opts, r.cfg, r.reg, LHOST_STAGE_FIT, NULL, &r.err) ||
        lh_trainer_prepare_fit(r.t, resume, &r.err) || lh_trainer_fit(r.t, &r.err))
        return run_end(&r, 1);
    return run_end(&r, 0);
}

/* validate, test (test = 1: the validation pass on the test split) and predict. */
static int eval_cmd(int argc, char **argv, int32_t stage, int32_t test)
{
    cmd_run r = {0};
    lh_model_spec spec;
    const char *ckpt, *data, *out;
    int rc;
    if ((rc = parse(&r.args, test ? &test_spec
                             : stage == LHOST_STAGE_VALIDATE ? &validate_spec : &predict_spec,
                    argc, argv)) != 0)
        return rc == LH_ARGS_HELP ? 0 : 2;
    ckpt = lh_args_get(&r.args, "ckpt"), data = lh_args_get(&r.args, "data");
    out = lh_args_get(&r.args, "out");
    if (!ckpt || (stage == LHOST_STAGE_PREDICT && (!out || !data))) {
        rc = lh_args_error(&r.args, !ckpt ? "--ckpt CKPT is required"
                                          : "--data DIR and --out FILE are required");
        lh_args_free(&r.args);
        return rc;
    }
    /* Predict computes no metric: the checkpoint's metrics (whose plugins, say a custom top2,
     * may not be installed here) are dropped before anything looks their plugins up. */
    if (lh_ckpt_read_spec(ckpt, &spec, NULL, 0, &r.err) ||
        lh_ckpt_config_read(ckpt, data, &r.cfg, &r.err) ||
        (stage == LHOST_STAGE_PREDICT && lh_config_override(r.cfg, "metrics={}", &r.err)) ||
        merge(&r.args, r.cfg, &r.opts, &r.printed, &r.err))
        return run_end(&r, 1);
    if (r.printed)
        return run_end(&r, 0);
    /* Ctrl-C stops at a batch boundary; predict's output file is then left as it was. */
    if (lh_signals_install()) {
        lh_error_set(&r.err, "cannot install the SIGINT/SIGTERM handlers");
        return run_end(&r, 1);
    }
    r.opts.eval_test = test;
    snprintf(r.opts.split_ckpt, sizeof r.opts.split_ckpt, "%s", ckpt);
    if (open_registry(&r.args, r.cfg, &r.reg, &r.err) || lh_dist_init(&r.err) ||
        lh_trainer_create(&r.t, &r.opts, r.cfg, r.reg, stage, &spec, &r.err) ||
        lh_ckpt_load(r.t, ckpt, 0, &r.err) ||
        (stage == LHOST_STAGE_VALIDATE ? lh_trainer_validate(r.t, 1, &r.err)
                                       : lh_trainer_predict(r.t, out, &r.err)))
        return run_end(&r, 1);
    return run_end(&r, 0);
}

int lh_cmd_validate(int argc, char **argv)
{
    return eval_cmd(argc, argv, LHOST_STAGE_VALIDATE, 0);
}

/* The ABI has no test stage yet: plugins see a validation run; the keys are test_*. */
int lh_cmd_test(int argc, char **argv)
{
    return eval_cmd(argc, argv, LHOST_STAGE_VALIDATE, 1);
}

int lh_cmd_predict(int argc, char **argv)
{
    return eval_cmd(argc, argv, LHOST_STAGE_PREDICT, 0);
}
