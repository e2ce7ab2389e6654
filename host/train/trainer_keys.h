/* host/train/trainer_keys.h — the config keys a run has: the top-level sections, and the seed,
 * data.* and trainer.* keys that fill lh_trainer_opts, each with its type, default and one-line
 * help. One table serves the reader (lh_trainer_opts_from_cfg), the unknown-key checks and
 * `lhost train --help`, so what the help says is what the config reads. */
#ifndef LH_TRAINER_KEYS_H
#define LH_TRAINER_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "trainer.h"

#define LH_KEY_SECTION 1 /* a top-level mapping; its keys follow in the table or are read
                          * elsewhere (model, optimizer, the plugin sections) */
#define LH_KEY_INT 2     /* int64_t field, imin..imax */
#define LH_KEY_FLOAT 3   /* double field, fmin..fmax; default null is NAN */
#define LH_KEY_BOOL 4    /* int32_t field 0/1; default null is -1 (decided at run time) */
#define LH_KEY_STRING 5  /* char[size] field */
#define LH_KEY_ENUM 6    /* int32_t field: the index of the value in `choices` */
#define LH_KEY_LIST 7    /* a sequence, read elsewhere */
#define LH_KEY_MAP 8     /* a mapping or a name, read elsewhere */
#define LH_KEY_CUSTOM 9  /* one of several forms (int or float, bool or int, string or
                          * mapping), read by lh_loop_read_key (loop_limits.h); `choices` names
                          * the forms for --help */

#define LH_KEY_ELSEWHERE ((size_t)-1) /* offset of a key lh_trainer_opts does not hold */

typedef struct lh_trainer_key {
    const char *path;            /* "seed", "data", "trainer.max_epochs" */
    int32_t type;                /* LH_KEY_* */
    const char *dflt;            /* the default as a config spells it ("1000", "null"); NULL
                                  * for a section */
    int64_t imin, imax;          /* LH_KEY_INT: the allowed range */
    double fmin, fmax;           /* LH_KEY_FLOAT: the allowed range */
    const char *const *choices;  /* LH_KEY_ENUM: NULL-terminated */
    size_t offset, size;         /* the lh_trainer_opts field, or LH_KEY_ELSEWHERE */
    const char *help;            /* one line */
} lh_trainer_key;

/* Every key, sections before their keys, in the order --help lists them. */
extern const lh_trainer_key lh_trainer_keys[];
extern const int32_t lh_trainer_n_keys;

/* The entry for a dotted path, or NULL. */
const lh_trainer_key *lh_trainer_keys_find(const char *path);

/* Check that root and its data/trainer sections hold only keys of the table, then read every
 * key the table places in `o` (its default where absent or null). Errors name file:line. */
int lh_trainer_keys_read(const lh_config_node *root, lh_trainer_opts *o, lh_error *err);

#endif
