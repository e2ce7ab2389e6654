/* host/bare.h — SDK-free ("bare") plugins: plain exported C functions plus a signature string,
 * called through libffi.
 *
 * A bare plugin is a .so with no lhost_plugin_entry that exports
 *
 *     const char lhost_bare_signatures[] =
 *         "on_validation_end: int stop_when(double val_acc, int64 epoch)\n"
 *         "metric top1 max: double top1(const float *logits, const int32 *targets, int64 n, int32 num_classes)\n";
 *
 * (or ships the same lines in a sidecar file NAME.lhost next to NAME.so). One declaration per
 * line; '#' starts a comment. Grammar:
 *
 *     line   := target ':' type SYMBOL '(' [param {',' param}] ')' [';']
 *     target := HOOK | 'metric' NAME ['max' | 'min']
 *     HOOK   := on_fit_start | on_train_epoch_start | on_train_batch_end | on_validation_end
 *             | on_train_epoch_end | on_fit_end
 *     param  := type NAME
 *     type   := int32 | int | int64 | long | double | float | bool | const char *
 *             | const float * | const int32 *          (the last two for metrics only)
 *
 * Hooks return int: 0 continue, 1 stop, < 0 error. Each argument binds by name to a trainer
 * field (epoch, global_step, batch_idx, rank, world_size, max_epochs: integers; stage: string)
 * or to a logged value (val_acc, loss, ...: the latest value, converted to the declared type).
 * A metric declares `double NAME(const float *logits, const int32 *targets, int64 n,
 * int32 num_classes)` returning the batch's value; the host keeps its sample-weighted mean over
 * the epoch in host-allocated state, as for any metric ('max'/'min' = higher/lower is better,
 * default max). */
#ifndef LH_BARE_H
#define LH_BARE_H

#include <stdint.h>

#include "error.h"
#include "lhost/lhost.h"

#define LH_BARE_SYMBOL "lhost_bare_signatures"
#define LH_BARE_MAX_ARGS 16
#define LH_BARE_MAX_DECLS 32

/* Argument / return types. */
#define LH_BT_VOID 0
#define LH_BT_INT32 1
#define LH_BT_INT64 2
#define LH_BT_DOUBLE 3
#define LH_BT_FLOAT 4
#define LH_BT_BOOL 5
#define LH_BT_STRING 6
#define LH_BT_FLOAT_PTR 7
#define LH_BT_INT32_PTR 8

typedef struct lh_bare_arg {
    int32_t type;
    char name[64];
} lh_bare_arg;

typedef struct lh_bare_decl {
    int32_t is_metric;
    int32_t hook;              /* LH_HOOK_* for callbacks */
    char metric[64];           /* metric name */
    int32_t higher_is_better;
    int32_t ret;               /* LH_BT_* */
    char symbol[128];
    int32_t n_args;
    lh_bare_arg args[LH_BARE_MAX_ARGS];
    int32_t line;
} lh_bare_decl;

typedef struct lh_bare_spec {
    int32_t n_decls;
    lh_bare_decl decls[LH_BARE_MAX_DECLS];
} lh_bare_spec;

/* Parse signature text. `origin` names the plugin in messages:
 *   bare plugin stop.so: line 2: unsupported type 'uint8' (expected int32, int64, double, float,
 *   bool or const char *) */
int lh_bare_parse(const char *text, const char *origin, lh_bare_spec *out, lh_error *err);

/* One declaration back as C-like text ("int stop_when(double val_acc, int64 epoch)"). */
void lh_bare_format(const lh_bare_decl *d, char *buf, int32_t len);
const char *lh_bare_type_name(int32_t type);
const char *lh_bare_hook_name(int32_t hook);

/* Is `name` a trainer field a hook argument can bind to? */
int32_t lh_bare_is_trainer_field(const char *name);

/* A loaded bare library: symbols resolved, libffi call interfaces prepared, and synthesized
 * descriptors (one callback plugin with every hook, one metric plugin per metric line) so the
 * rest of the host treats it like any other plugin. */
typedef struct lh_bare_lib lh_bare_lib;

/* `handle` is the dlopen handle; `stem` the file name without .so (the plugin's short name).
 * Fails with the symbol or token named when a symbol is missing. */
int lh_bare_open(void *handle, const char *stem, const lh_bare_spec *spec, lh_bare_lib **out,
                 lh_error *err);
void lh_bare_close(lh_bare_lib *lib);
/* The synthesized library (ABI v1.0 structs, owned by lib). */
const lhost_library *lh_bare_library(const lh_bare_lib *lib);

#endif
