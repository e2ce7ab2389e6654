/* host/plugin/bare/bare.h — SDK-free ("bare") plugins: plain exported C functions plus a
 * signature string, called through libffi.
 *
 * A bare plugin is a .so with no lhost_plugin_entry that exports
 *
 *     const char lhost_bare_signatures[] =
 *         "on_validation_end: int stop_when(double val_acc, int64 epoch)\n"
 *         "metric top1 max: double top1(const float *logits, const int32 *targets, int64 n, int32
 * num_classes)\n";
 *
 * (or ships the same lines in a sidecar file NAME.lhost next to NAME.so). One declaration per
 * line; '#' starts a comment. Grammar:
 *
 *     line   := target ':' type SYMBOL '(' [param {',' param}] ')' [';']
 *     target := HOOK | 'metric' NAME ['max' | 'min']
 *     HOOK   := a hook name of LH_HOOK_MAP (hooks.h): on_fit_start | on_train_epoch_start
 *             | on_train_batch_end | on_validation_end | on_train_epoch_end | on_fit_end | ...
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

#include "dispatch.h"
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
    int32_t hook;              /* LH_HOOK_* for callbacks (lh_dispatch_hook_name names it) */
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
/* The whole declaration line, target included, in a form lh_bare_parse reads back:
 * "on_validation_end: int stop_when(double val_acc, int64 epoch)". Truncates to len - 1. */
void lh_bare_format_line(const lh_bare_decl *d, char *buf, int32_t len);
const char *lh_bare_type_name(int32_t type);

/* Is `name` a trainer field a hook argument can bind to? */
int32_t lh_bare_is_trainer_field(const char *name);
/* The i-th trainer field's name (i from 0), NULL past the last. */
const char *lh_bare_trainer_field(int32_t i);

/* Load-time binding check: every hook argument must be a trainer field or one of the
 * `known_keys` the trainer will log (loss, train_loss, val_loss, <metric>, val_<metric>, ...).
 *   bare plugin stop_at: line 1: argument 'val_acuracy' binds to nothing (trainer fields:
 *   epoch, ...; logged values: loss, ...) */
int lh_bare_check_names(const lh_bare_spec *spec, const char *const *known_keys,
                        int32_t n_known, const char *origin, lh_error *err);

/* Where a library's signature text comes from: the exported string LH_BARE_SYMBOL (looked up
 * in `handle`, which may be NULL) or else a sidecar manifest NAME.lhost next to `so_path`
 * (NAME.so). Returns 1 with *text_out malloc'ed (the caller frees it), 0 when the library is
 * not a bare plugin (neither exists), -1 with err set (unreadable or oversized manifest). */
int lh_bare_signatures_for(void *handle, const char *so_path, char **text_out, lh_error *err);

/* A loaded bare library: symbols resolved, libffi call interfaces prepared, and synthesized
 * descriptors (one callback plugin with every hook, one metric plugin per metric line) so the
 * rest of the host treats it like any other plugin. */
typedef struct lh_bare_lib lh_bare_lib;

/* `handle` is the dlopen handle (borrowed: close it after lh_bare_close); `stem` the file name
 * without .so (the plugin's short name, also the `origin` to give lh_bare_parse). Resolves every
 * symbol and prepares its libffi call; fails with
 *   bare plugin STEM: line N: symbol 'foo' not found in STEM.so
 * The synthesized library holds a callback plugin "bare.STEM" (name STEM, every declared hook)
 * when any hook is declared, then one metric plugin "bare.STEM.NAME" (name NAME) per metric
 * line. A metric keeps two F64 SUM buffers, "sum" (value * n) and "count" (n), and computes
 * sum / count (NaN before any sample). Hook calls bind arguments through host->trainer_state
 * and host->get_value; a bare return of 1 calls host->request_stop and returns LHOST_STOP. */
int lh_bare_open(void *handle, const char *stem, const lh_bare_spec *spec, lh_bare_lib **out,
                 lh_error *err);
void lh_bare_close(lh_bare_lib *lib);
/* The synthesized library (ABI v1.0 structs, owned by lib). */
const lhost_library *lh_bare_library(const lh_bare_lib *lib);
/* The parsed declarations (for `lhost plugins`: print each with lh_bare_format_line). */
const lh_bare_spec *lh_bare_lib_spec(const lh_bare_lib *lib);

/* The registry's one call for a .so with no lhost_plugin_entry: signatures_for + parse + open.
 * Returns 1 with *out set, 0 when it is not a bare plugin either, -1 with err set. */
int lh_bare_load(void *handle, const char *so_path, const char *stem, lh_bare_lib **out,
                 lh_error *err);

#endif
