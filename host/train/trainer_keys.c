/* host/train/trainer_keys.c — the table of config keys (see trainer_keys.h) and its reader. */
#include "trainer_keys.h"

#include "backend.h"
#include "loop_limits.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define OPT(f) offsetof(lh_trainer_opts, f), sizeof(((lh_trainer_opts *)0)->f)
#define ELSEWHERE LH_KEY_ELSEWHERE, 0
#define SECTION(p, h) {.path = p, .type = LH_KEY_SECTION, .offset = LH_KEY_ELSEWHERE, .help = h}

static const char *const profilers[] = {"null", "simple", NULL};
static const char *const clip_algorithms[] = {"norm", "value", NULL};
/* In LH_DATA_FMT_* order. */
static const char *const formats[] = {"auto", "idx", "npy", "npz", "csv", NULL};

static const char *const int_float[] = {"INT", "FLOAT", NULL};
static const char *const int_null[] = {"INT", "null", NULL};
static const char *const bool_int[] = {"BOOL", "INT", NULL};
static const char *const str_map[] = {"STR", "MAP", NULL};
/* An LH_KEY_CUSTOM entry: `forms` for --help, read by lh_loop_read_key. */
#define CUSTOM(p_, d_, forms_, f_, h_) {p_, LH_KEY_CUSTOM, d_, 0, 0, 0, 0, forms_, OPT(f_), h_}
#define LIMIT(p_, d_, f_, h_) CUSTOM(p_, d_, int_float, f_, h_)

/* Continuation lines of a long help text start under the help column of --help. */
#define MORE "\n                                  "

const lh_trainer_key lh_trainer_keys[] = {
    {"seed", LH_KEY_INT, "0", 0, INT64_MAX, 0, 0, NULL, OPT(seed),
     "seeds weight init, shuffling and dropout"},
    SECTION("data", "the dataset: a folder of IDX files (as Fashion-MNIST's), or .npy, .npz and "
                    ".csv files"),
    {"data.path", LH_KEY_STRING, LH_DATA_DEFAULT_DIR, 0, 0, 0, 0, NULL, OPT(data_dir),
     "folder with train-* and t10k-* IDX images and labels (.gz or"
     MORE "not), or a data file read as data.train (and evaluated by"
     MORE "validate, test and predict)"},
    {"data.batch_size", LH_KEY_INT, "64", 1, 1 << 20, 0, 0, NULL, OPT(batch_size),
     "samples per batch, training and validation"},
    {"data.shuffle", LH_KEY_BOOL, "true", 0, 0, 0, 0, NULL, OPT(shuffle),
     "a fresh seeded order of the training samples every epoch;"
     MORE "false: the dataset's order, every epoch (DataLoader's shuffle)"},
    {"data.num_classes", LH_KEY_INT, "10", 2, 1 << 16, 0, 0, NULL, OPT(num_classes),
     "classes; the model's last layer has as many outputs"},
    {"data.mean", LH_KEY_FLOAT, "null", 0, 0, -1e9, 1e9, NULL, OPT(mean),
     "normalisation mean of the pixels in [0, 1]; null: the dataset's"},
    {"data.std", LH_KEY_FLOAT, "null", 0, 0, 1e-12, 1e9, NULL, OPT(std),
     "normalisation std; null: the dataset's"},
    {"data.format", LH_KEY_ENUM, "auto", 0, 0, 0, 0, formats, OPT(data_format),
     "how files are read; auto: by their first bytes (IDX, .npy, .npz),"
     MORE "else as CSV"},
    {"data.train", LH_KEY_STRING, "", 0, 0, 0, 0, NULL, OPT(data_train),
     "the training split: a .csv, an .npz (x, y or Keras' x_train,"
     MORE "y_train, x_test, y_test), a .npy or IDX images file (with"
     MORE "train_labels) or an IDX folder; \"\": data.path"},
    {"data.val", LH_KEY_STRING, "", 0, 0, 0, 0, NULL, OPT(data_val),
     "the validation split, as data.train; \"\": data.val_split, else the"
     MORE "test split"},
    {"data.test", LH_KEY_STRING, "", 0, 0, 0, 0, NULL, OPT(data_test),
     "the split `lhost test` evaluates; \"\": an .npz's x_test / y_test or"
     MORE "the IDX"
     MORE "folder's t10k-* files"},
    {"data.train_labels", LH_KEY_STRING, "", 0, 0, 0, 0, NULL, OPT(train_labels),
     "labels (.npy of integers, or IDX) of data.train's images file"},
    {"data.val_labels", LH_KEY_STRING, "", 0, 0, 0, 0, NULL, OPT(val_labels),
     "labels of data.val's images file"},
    {"data.test_labels", LH_KEY_STRING, "", 0, 0, 0, 0, NULL, OPT(test_labels),
     "labels of data.test's images file"},
    {"data.label_column", LH_KEY_STRING, "label", 0, 0, 0, 0, NULL, OPT(label_column),
     "CSV: the column of class indices 0..num_classes-1"},
    {"data.feature_columns", LH_KEY_LIST, "[]", 0, 0, 0, 0, NULL, ELSEWHERE,
     "CSV: the feature columns, in order; []: every column but the label"},
    {"data.val_split", LH_KEY_FLOAT, "null", 0, 0, -1e300, 1e300, NULL, OPT(val_split),
     "hold out this fraction (0 < f < 1) of data.train per class for"
     MORE "validation, chosen by the seed and kept in checkpoints; null: none"},
    {"data.normalize", LH_KEY_MAP, "auto", 0, 0, 0, 0, NULL, ELSEWHERE,
     "auto, train, fashion_mnist, mnist or {mean: M, std: S}."
     MORE "auto: uint8 images use data.mean / data.std if set, else"
     MORE "Fashion-MNIST's 0.2860 / 0.3530 when a path contains 'fashion',"
     MORE "MNIST's 0.1307 / 0.3081 when a path component starts with"
     MORE "'mnist', else the training pixels' mean / std (as train does);"
     MORE "float data (.csv, float32 .npy) uses each feature's mean / std"
     MORE "over the training split, or lists M, S (one value per feature)"},
    SECTION("model", "the network: layers, a list of {type: ..., name: ..., ...} as in "
                     "examples/seed.yaml"),
    {"model.input_shape", LH_KEY_LIST, "[]", 0, 0, 0, 0, NULL, ELSEWHERE,
     "[C, H, W] of a sample; []: the data's"},
    {"model.layers", LH_KEY_LIST, "[]", 0, 0, 0, 0, NULL, ELSEWHERE,
     "the layers, in order (examples/seed.yaml)"},
    {"model.init_weights", LH_KEY_STRING, "", 0, 0, 0, 0, NULL, OPT(init_weights),
     "start from the weights of a .safetensors file under PyTorch's"
     MORE "state_dict names (or of an lhost .ckpt) instead of the seeded"
     MORE "init; \"\": the seeded init"},
    {"model.init_strict", LH_KEY_BOOL, "true", 0, 0, 0, 0, NULL, OPT(init_strict),
     "model.init_weights must hold every key of the model and no other"
     MORE "(load_state_dict's strict); false: missing ones keep the init"},
    SECTION("optimizer", "the optimizer, as torch.optim's"),
    SECTION("trainer", "Lightning's Trainer arguments"),
    {"trainer.max_epochs", LH_KEY_INT, "1000", -1, INT32_MAX, 0, 0, NULL, OPT(max_epochs),
     "stop after this many epochs; -1: no limit"},
    {"trainer.min_epochs", LH_KEY_INT, "0", 0, INT32_MAX, 0, 0, NULL, OPT(min_epochs),
     "train at least this many epochs, whatever a callback asks"},
    {"trainer.device", LH_KEY_STRING, "auto", 0, 0, 0, 0, NULL, OPT(device),
     "auto, cpu, cuda or cuda:N (Lightning's accelerator and devices)"},
    {"trainer.threads", LH_KEY_INT, "0", 0, 1024, 0, 0, NULL, OPT(threads),
     "CPU threads; 0: all cores"},
    {"trainer.conv_algorithm", LH_KEY_ENUM, "gemm", 0, 0, 0, 0, lh_backend_conv_algorithms,
     OPT(conv_algorithm),
     "CPU conv2d: gemm (im2col + sgemm), direct or winograd (oneDNN's"
     MORE "primitives; winograd without AVX-512: lhost's F(2x2,3x3); gemm"
     MORE "where there is no kernel), auto (the fastest per shape, measured"
     MORE "once per run; not bit-reproducible across runs)"},
    {"trainer.precision", LH_KEY_ENUM, "32", 0, 0, 0, 0, lh_backend_precisions, OPT(precision),
     "32 (or 32-true), or bf16-mixed: conv2d in bfloat16 with fp32 weights,"
     MORE "loss and optimizer (cpu: avx512_bf16 or AMX, conv_algorithm direct,"
     MORE "the default there, or auto: per shape bf16 direct or fp32 gemm;"
     MORE "cuda: its gemm, cuBLAS bf16 with fp32 accumulation)"},
    {"trainer.float32_matmul_precision", LH_KEY_ENUM, "highest", 0, 0, 0, 0,
     lh_backend_matmul_precisions, OPT(matmul_precision),
     "torch.set_float32_matmul_precision: highest (fp32 GEMMs), high or"
     MORE "medium (cuda: fp32 GEMMs on TF32 tensor cores; no effect on the cpu)"},
    {"trainer.log_every_n_steps", LH_KEY_INT, "50", 1, INT32_MAX, 0, 0, NULL,
     OPT(log_every_n_steps), "write a metrics.csv row every N training steps"},
    {"trainer.default_root_dir", LH_KEY_STRING, ".", 0, 0, 0, 0, NULL, OPT(root_dir),
     "runs are written to DIR/lightning_logs/version_N"},
    LIMIT("trainer.limit_train_batches", "1.0", limit_train_batches,
          "training batches per epoch: an int N (at most N) or a fraction"
          MORE "of the epoch's batches (rounded down); 0: no training"),
    LIMIT("trainer.limit_val_batches", "1.0", limit_val_batches,
          "validation batches per run, as limit_train_batches; 0: no"
          MORE "validation"),
    LIMIT("trainer.limit_test_batches", "1.0", limit_test_batches,
          "batches `lhost test` evaluates, as limit_train_batches (a"
          MORE "training run's limit_val_batches does not apply)"),
    LIMIT("trainer.limit_predict_batches", "1.0", limit_predict_batches,
          "batches `lhost predict` writes, as limit_train_batches"),
    LIMIT("trainer.val_check_interval", "1.0", val_check_interval,
          "validate every N training batches (an int), or this fraction of"
          MORE "an epoch (a float, 1.0: at each epoch's end)"),
    CUSTOM("trainer.check_val_every_n_epoch", "1", int_null, check_val_every_n_epoch,
           "validate in every N-th epoch; null: val_check_interval (an int)"
           MORE "counts training batches across epochs"),
    {"trainer.accumulate_grad_batches", LH_KEY_INT, "1", 1, INT32_MAX, 0, 0, NULL,
     OPT(accumulate_grad_batches),
     "sum the gradients of N batches (each loss / N) into one"
     MORE "optimizer step; the epoch's last batch always steps"},
    {"trainer.max_steps", LH_KEY_INT, "-1", -1, INT64_MAX, 0, 0, NULL, OPT(max_steps),
     "stop after this many optimizer steps; -1: no limit"},
    {"trainer.min_steps", LH_KEY_INT, "0", 0, INT64_MAX, 0, 0, NULL, OPT(min_steps),
     "a stop request waits for this many optimizer steps; 0: none"},
    CUSTOM("trainer.max_time", "null", str_map, max_time,
           "stop after this much training time, \"DD:HH:MM:SS\" or {days: D,"
           MORE "hours: H, minutes: M, seconds: S} (Lightning's Timer); null: none"),
    CUSTOM("trainer.fast_dev_run", "false", bool_int, fast_dev_run,
           "true (1) or N: N training and validation batches in one epoch,"
           MORE "no sanity check, no checkpoints, no loggers or metrics.csv"),
    LIMIT("trainer.overfit_batches", "0.0", overfit_batches,
          "train and validate on these first batches (an int or a"
          MORE "fraction), unshuffled; 0.0: off"),
    {"trainer.num_sanity_val_steps", LH_KEY_INT, "2", -1, INT32_MAX, 0, 0, NULL,
     OPT(num_sanity_val_steps),
     "validation batches run before training (not logged); -1: all"},
    {"trainer.enable_progress_bar", LH_KEY_BOOL, "null", 0, 0, 0, 0, NULL, OPT(progress_bar),
     "draw a progress bar; null: when stdout is a terminal"},
    {"trainer.enable_model_summary", LH_KEY_BOOL, "true", 0, 0, 0, 0, NULL, OPT(summary),
     "print the device, the layers and their parameter counts first"},
    {"trainer.profiler", LH_KEY_ENUM, "null", 0, 0, 0, 0, profilers, OPT(profiler),
     "simple: time every backend op and print a report at the end"},
    {"trainer.gradient_clip_val", LH_KEY_FLOAT, "null", 0, 0, 0, 1e9, NULL,
     OPT(gradient_clip_val), "clip gradients before each optimizer step; null or 0: off"},
    {"trainer.gradient_clip_algorithm", LH_KEY_ENUM, "norm", 0, 0, 0, 0, clip_algorithms,
     OPT(gradient_clip_algorithm),
     "norm: clip_grad_norm_ (2-norm over all gradients); value: clip_grad_value_"},
    {"trainer.dist_timeout", LH_KEY_FLOAT, "600", 0, 0, 0, 1e9, NULL, OPT(dist_timeout),
     "under mpirun/srun: seconds to wait for the other ranks before ending the job; 0: forever"},
    SECTION("metrics", "metric plugins, KEY: {plugin: NAME, PARAM: VALUE, ...}; plugin "
                       "defaults to KEY"),
    SECTION("callbacks", "callback plugins, as metrics"),
    SECTION("loggers", "logger plugins, as metrics"),
    {"plugin_dirs", LH_KEY_LIST, "[]", 0, 0, 0, 0, NULL, ELSEWHERE,
     "folders searched for plugins after --plugin-dir"},
};

const int32_t lh_trainer_n_keys = (int32_t)(sizeof lh_trainer_keys / sizeof lh_trainer_keys[0]);

const lh_trainer_key *lh_trainer_keys_find(const char *path)
{
    for (int32_t i = 0; i < lh_trainer_n_keys; i++)
        if (strcmp(lh_trainer_keys[i].path, path) == 0)
            return &lh_trainer_keys[i];
    return NULL;
}

/* The keys directly under `section` ("" for the top level), NULL-terminated into names[cap].
 * Returns how many. */
static int32_t keys_under(const char *section, const char **names, int32_t cap)
{
    size_t len = strlen(section);
    int32_t n = 0;
    for (int32_t i = 0; i < lh_trainer_n_keys && n < cap - 1; i++) {
        const char *p = lh_trainer_keys[i].path;
        if (!len && !strchr(p, '.'))
            names[n++] = p;
        else if (len && strncmp(p, section, len) == 0 && p[len] == '.')
            names[n++] = p + len + 1;
    }
    names[n] = NULL;
    return n;
}

/* Read one key into its field; `map` is its section (NULL when absent). */
static int read_key(const lh_trainer_key *k, const lh_config_node *map, const char *name,
                    lh_trainer_opts *o, lh_error *err)
{
    char *field = (char *)o + k->offset;
    const char *s;
    int64_t i64;
    double f64;
    int b;
    int32_t i32 = 0;
    switch (k->type) {
    case LH_KEY_INT:
        if (lh_config_get_int(map, name, strtoll(k->dflt, NULL, 10), k->imin, k->imax, &i64, err))
            return -1;
        memcpy(field, &i64, sizeof i64);
        return 0;
    case LH_KEY_FLOAT:
        if (lh_config_get_float(map, name, strcmp(k->dflt, "null") ? strtod(k->dflt, NULL) : NAN,
                                k->fmin, k->fmax, &f64, err))
            return -1;
        memcpy(field, &f64, sizeof f64);
        return 0;
    case LH_KEY_BOOL: /* a null default stays -1: the trainer decides */
        b = !strcmp(k->dflt, "true") ? 1 : !strcmp(k->dflt, "false") ? 0 : -1;
        if (lh_config_get_bool(map, name, b, &b, err))
            return -1;
        i32 = b;
        memcpy(field, &i32, sizeof i32);
        return 0;
    case LH_KEY_STRING:
        if (lh_config_get_string(map, name, k->dflt, &s, err))
            return -1;
        if (strlen(s) >= k->size)
            return lh_config_error(lh_config_get(map, name), err,
                                   "expected at most %zu characters", k->size - 1);
        memcpy(field, s, strlen(s) + 1);
        return 0;
    case LH_KEY_CUSTOM:
        return lh_loop_read_key(k, map, name, o, err);
    case LH_KEY_ENUM:
        while (k->choices[i32] && strcmp(k->choices[i32], k->dflt))
            i32++;
        if (lh_config_get_enum(map, name, k->choices, i32, &b, err))
            return -1;
        i32 = b;
        memcpy(field, &i32, sizeof i32);
        return 0;
    }
    return lh_error_set(err, "config: %s: unknown key type %d", k->path, (int)k->type);
}

int lh_trainer_keys_read(const lh_config_node *root, lh_trainer_opts *o, lh_error *err)
{
    const char *names[64];
    const lh_config_node *sec = root;
    if (keys_under("", names, 64) && lh_config_check_keys(root, names, err))
        return -1;
    for (int32_t i = 0; i < lh_trainer_n_keys; i++) {
        const lh_trainer_key *k = &lh_trainer_keys[i];
        const char *dot = strchr(k->path, '.');
        if (k->type == LH_KEY_SECTION) {
            sec = lh_config_get(root, k->path);
            if (sec && keys_under(k->path, names, 64) && lh_config_check_keys(sec, names, err))
                return -1;
            continue;
        }
        if (k->offset == LH_KEY_ELSEWHERE)
            continue;
        if (read_key(k, dot ? sec : root, dot ? dot + 1 : k->path, o, err))
            return -1;
    }
    return 0;
}
