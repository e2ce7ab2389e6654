/* host/cli/cmd_train.c — `lhost train`, `lhost validate` and `lhost predict`.
 *
 *   lhost train --config FILE.yaml [--resume CKPT] [--plugin-dir DIR]... [--key.path=VALUE]...
 *   lhost validate --ckpt CKPT [--data DIR] [--plugin-dir DIR]... [--key.path=VALUE]...
 *   lhost predict --ckpt CKPT --data DIR --out FILE.csv [--key.path=VALUE]...
 *
 * Each returns the process exit code: 0 success, 1 failure, 2 usage error. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "clock.h"
#include "progress.h"
#include "safetensors.h"
#include "ckpt.h"
#include "trainer.h"

#define MAX_DIRS 64

typedef struct cli {
    const char *config, *resume, *ckpt, *data, *out;
    const char *dirs[MAX_DIRS];
    int32_t n_dirs, allow_insecure;
    const char *overrides[256];
    int32_t n_overrides;
} cli;

static int usage(const char *cmd, const char *msg)
{
    fprintf(stderr, "lhost %s: %s\nTry 'lhost %s --help'.\n", cmd, msg, cmd);
    return 2;
}

static int parse_cli(int argc, char **argv, cli *c, const char *help)
{
    int i;
    memset(c, 0, sizeof *c);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(help, stdout);
            return 1;
        }
        if (strcmp(a, "--config") == 0) slot = &c->config;
        else if (strcmp(a, "--resume") == 0) slot = &c->resume;
        else if (strcmp(a, "--ckpt") == 0) slot = &c->ckpt;
        else if (strcmp(a, "--data") == 0) slot = &c->data;
        else if (strcmp(a, "--out") == 0) slot = &c->out;
        else if (strcmp(a, "--allow-insecure-plugins") == 0) {
            c->allow_insecure = 1;
            continue;
        } else if (strcmp(a, "--plugin-dir") == 0) {
            if (i + 1 >= argc || c->n_dirs == MAX_DIRS)
                return usage(argv[0], "--plugin-dir needs a directory");
            c->dirs[c->n_dirs++] = argv[++i];
            continue;
        } else if (strncmp(a, "--", 2) == 0 && strchr(a, '=') && strchr(a, '.') &&
                   strchr(a, '.') < strchr(a, '=')) {
            if (c->n_overrides == 256)
                return usage(argv[0], "too many overrides");
            c->overrides[c->n_overrides++] = a;
            continue;
        } else {
            char msg[300];
            snprintf(msg, sizeof msg, "unknown argument '%s'", a);
            return usage(argv[0], msg);
        }
        if (i + 1 >= argc) {
            char msg[300];
            snprintf(msg, sizeof msg, "%s needs a value", a);
            return usage(argv[0], msg);
        }
        *slot = argv[++i];
    }
    return 0;
}

static int fail(const lh_error *err)
{
    fprintf(stderr, "lhost: %s\n", err->msg);
    return 1;
}

/* A command's end: report a failure, then release what it set up (t may be NULL). */
static int finish(int rc, const lh_error *err, lh_trainer *t, lh_registry *reg, lh_config *cfg)
{
    if (rc)
        fail(err);
    if (t)
        lh_trainer_free(t);
    if (reg)
        lh_registry_close(reg);
    lh_config_free(cfg);
    return rc;
}

/* Plugin directories: --plugin-dir first, then the config's plugin_dirs. */
static int open_registry(const cli *c, const lh_config *cfg, lh_registry **reg, lh_error *err)
{
    const char *dirs[2 * MAX_DIRS];
    int32_t n = 0, i;
    lh_registry_opts o;
    const lh_config_node *pd = cfg ? lh_config_get(lh_config_root(cfg), "plugin_dirs") : NULL;
    for (i = 0; i < c->n_dirs; i++)
        dirs[n++] = c->dirs[i];
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
    o.allow_insecure = c->allow_insecure;
    return lh_registry_open(reg, &o, lh_services_table(), err);
}

static int apply_overrides(lh_config *cfg, const cli *c, lh_error *err)
{
    int32_t i;
    for (i = 0; i < c->n_overrides; i++)
        if (lh_config_override(cfg, c->overrides[i], err))
            return -1;
    return 0;
}

static const char train_help[] =
    "Usage: lhost train --config FILE.yaml [--resume CKPT] [--plugin-dir DIR]...\n"
    "                   [--allow-insecure-plugins] [--SECTION.KEY=VALUE]...\n"
    "Train the model the config describes (sections: seed, data, model, optimizer, trainer,\n"
    "metrics, callbacks, loggers, plugin_dirs). Dotted overrides replace config values, e.g.\n"
    "  --trainer.max_epochs=10 --data.batch_size=128 --callbacks.early_stopping.patience=5\n"
    "--resume continues a run exactly from a checkpoint written by lhost.\n";

int lh_cmd_train(int argc, char **argv)
{
    cli c;
    lh_error err = {{0}};
    lh_config *cfg = NULL;
    lh_registry *reg = NULL;
    lh_trainer t;
    lh_trainer_opts o;
    int rc = 1, pr = parse_cli(argc, argv, &c, train_help), trainer_ready = 0;
    double t0 = lh_clock_now();
    if (pr)
        return pr == 1 ? 0 : pr;
    if (!c.config)
        return usage("train", "--config FILE.yaml is required");
    if (c.ckpt || c.data || c.out)
        return usage("train", "--ckpt, --data and --out belong to validate/predict");
    if (lh_config_load(&cfg, c.config, &err) || apply_overrides(cfg, &c, &err) ||
        lh_trainer_opts_from_cfg(cfg, &o, &err) || open_registry(&c, cfg, &reg, &err))
        goto done;
    trainer_ready = 1;
    if (lh_trainer_setup(&t, &o, cfg, reg, LHOST_STAGE_FIT, NULL, &err))
        goto done;
    t.t_start = t0;
    if (c.resume && lh_ckpt_load(&t, c.resume, 1, &err))
        goto done;
    if (lh_trainer_make_run_dir(&t, &err))
        goto done;
    if (c.resume && lh_trainer_reload_csv(&t, &err))
        goto done;
    if (o.summary) {
        fprintf(t.out, "Device: %s\n", t.be->describe(t.bctx));
        lh_model_summary(&t.model, t.out);
    }
    fprintf(t.out, "Logging to %s (setup %.0f ms)\n", t.csv_path, (lh_clock_now() - t0) * 1e3);
    if (c.resume)
        fprintf(t.out, "Resumed from %s at epoch %lld, batch %lld (global step %lld)\n", c.resume,
                (long long)t.resume_epoch, (long long)t.resume_batch, (long long)t.global_step);
    if (lh_trainer_fit(&t, &err))
        goto done;
    rc = 0;
done:
    return finish(rc, &err, trainer_ready ? &t : NULL, reg, cfg);
}

/* A config rebuilt from the checkpoint alone: data settings and the metrics it trained with. */
static int cfg_from_ckpt(const char *path, const char *data_dir, lh_config **cfg, lh_error *err)
{
    lh_safetensors_file *f;
    cJSON *root = cJSON_CreateObject(), *hp = NULL, *data, *metrics = NULL;
    const char *s;
    char *text;
    int rc = -1;
    if (lh_safetensors_read(path, &f, err))
        return -1;
    s = lh_safetensors_meta_get(f, "hparams");
    hp = s ? cJSON_Parse(s) : NULL;
    data = cJSON_AddObjectToObject(root, "data");
    if (hp) {
        static const char *const keys[] = {"batch_size", "num_classes", "mean", "std"};
        size_t k;
        const cJSON *p = cJSON_GetObjectItem(hp, "data_path");
        if (cJSON_IsString(p))
            cJSON_AddStringToObject(data, "path", p->valuestring);
        for (k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            const cJSON *v = cJSON_GetObjectItem(hp, keys[k]);
            if (cJSON_IsNumber(v))
                cJSON_AddNumberToObject(data, keys[k], v->valuedouble);
        }
    }
    if (data_dir) {
        cJSON_DeleteItemFromObject(data, "path");
        cJSON_AddStringToObject(data, "path", data_dir);
    }
    s = lh_safetensors_meta_get(f, "metrics");
    if (s && (metrics = cJSON_Parse(s)))
        cJSON_AddItemToObject(root, "metrics", metrics);
    text = cJSON_PrintUnformatted(root);
    rc = lh_config_load_string(cfg, path, text, err);
    free(text);
    cJSON_Delete(hp);
    cJSON_Delete(root);
    lh_safetensors_close(f);
    return rc;
}

static const char validate_help[] =
    "Usage: lhost validate --ckpt CKPT [--data DIR] [--plugin-dir DIR]... [--SECTION.KEY=VALUE]...\n"
    "Rebuild the model from the checkpoint alone (as Lightning's load_from_checkpoint) and print\n"
    "the validation loss and the metrics it was trained with, on DIR's test split (default: the\n"
    "data the checkpoint was trained on).\n";

static const char predict_help[] =
    "Usage: lhost predict --ckpt CKPT --data DIR --out FILE.csv [--SECTION.KEY=VALUE]...\n"
    "Write one CSV row per test sample of DIR: index,target,pred,logit_0..logit_{C-1}.\n";

static int eval_cmd(int argc, char **argv, int32_t stage)
{
    cli c;
    lh_error err = {{0}};
    lh_config *cfg = NULL;
    lh_registry *reg = NULL;
    lh_trainer t;
    lh_trainer_opts o;
    lh_model_spec spec;
    const char *name = stage == LHOST_STAGE_VALIDATE ? "validate" : "predict";
    int rc = 1, ready = 0,
        pr = parse_cli(argc, argv, &c, stage == LHOST_STAGE_VALIDATE ? validate_help : predict_help);
    if (pr)
        return pr == 1 ? 0 : pr;
    if (!c.ckpt)
        return usage(name, "--ckpt CKPT is required");
    if (stage == LHOST_STAGE_PREDICT && (!c.out || !c.data))
        return usage(name, "--data DIR and --out FILE are required");
    if (c.config || c.resume)
        return usage(name, "--config and --resume belong to train");
    if (lh_ckpt_read_spec(c.ckpt, &spec, NULL, 0, &err) ||
        cfg_from_ckpt(c.ckpt, c.data, &cfg, &err) || apply_overrides(cfg, &c, &err) ||
        lh_trainer_opts_from_cfg(cfg, &o, &err) || open_registry(&c, cfg, &reg, &err))
        goto done;
    ready = 1;
    if (lh_trainer_setup(&t, &o, cfg, reg, stage, &spec, &err) ||
        lh_ckpt_load(&t, c.ckpt, 0, &err))
        goto done;
    if (stage == LHOST_STAGE_VALIDATE ? lh_trainer_validate(&t, 1, &err)
                                      : lh_trainer_predict(&t, c.out, &err))
        goto done;
    rc = 0;
done:
    return finish(rc, &err, ready ? &t : NULL, reg, cfg);
}

int lh_cmd_validate(int argc, char **argv)
{
    return eval_cmd(argc, argv, LHOST_STAGE_VALIDATE);
}

int lh_cmd_predict(int argc, char **argv)
{
    return eval_cmd(argc, argv, LHOST_STAGE_PREDICT);
}
