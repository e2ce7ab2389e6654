/* plugins/model_checkpoint/ckpt_name.h — checkpoint file names from Lightning's filename
 * templates ("modelo-{val_acc:.5f}" -> "modelo-val_acc=0.91230"), without the ".ckpt" suffix. */
#ifndef MC_CKPT_NAME_H
#define MC_CKPT_NAME_H

#include <stddef.h>
#include <stdint.h>

/* The value of a template key. Fill *is_int and *i for integers (epoch, step), else *d. Return 0
 * when the key exists; on -1 the key formats as integer 0 (Lightning's behaviour). */
typedef int (*mc_lookup_fn)(void *user, const char *key, int *is_int, int64_t *i, double *d);

#define MC_NAME_SUFFIX ".ckpt"

/* Format `tmpl` into out[cap]. Fields are {key} or {key:spec}, spec = [0][width][.prec][f|e|g|d];
 * with auto_insert each field is written "key=value". Inserted text never holds '/' or '\\'
 * (replaced by '_'), and the literal text of tmpl may hold neither '/' nor "..", so the result
 * is a single path component that, with MC_NAME_SUFFIX, fits NAME_MAX. Returns 0, or -1 with
 * a one-line reason in err[errcap]. */
int mc_name_format(const char *tmpl, int auto_insert, mc_lookup_fn lookup, void *user, char *out,
                   size_t cap, char *err, size_t errcap);

/* 1 when `file` (a base name) is one mc_name_format could have made from `tmpl`, with
 * MC_NAME_SUFFIX and an optional version counter "-v<N>" before it, else 0. A checkpoint
 * callback deletes nothing else: its saved state may have been crafted. */
int mc_name_matches(const char *tmpl, int auto_insert, const char *file);

#endif
