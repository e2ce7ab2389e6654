/* host/config/config.h — the run configuration: a YAML file (parsed with libyaml) plus
 * LightningCLI-style dotted overrides from the command line (--trainer.max_epochs=10).
 *
 * The config is a tree of nodes (mappings, sequences, scalars), each remembering where it came
 * from ("examples/seed.yaml:12" or "command line (--trainer.max_epochs=10)") and its dotted path
 * ("trainer.max_epochs", "model.layers.0.out_channels"), so every error names both:
 *   config examples/x.yaml:12: trainer.max_epochs: expected an integer >= 1, got "abc"
 * Nodes belong to the lh_config and live until lh_config_free (an override replaces a subtree, so
 * pointers into a replaced subtree die then). Not thread-safe; read it from one thread. */
#ifndef LH_CONFIG_H
#define LH_CONFIG_H

#include <stdint.h>

#include "error.h"

#define LH_CFG_SCALAR 1
#define LH_CFG_MAP 2
#define LH_CFG_SEQ 3

typedef struct lh_config lh_config;
typedef struct lh_config_node lh_config_node;

/* Parse a YAML file whose top level is a mapping (an empty file is an empty mapping). path NULL
 * gives an empty config. Duplicate keys, aliases and non-scalar keys are errors. */
int lh_config_load(lh_config **out, const char *path, lh_error *err);
/* The same from a string; `name` stands for the file name in messages. */
int lh_config_load_string(lh_config **out, const char *name, const char *yaml, lh_error *err);
void lh_config_free(lh_config *cfg);

/* Apply "--a.b.c=VALUE" (the leading "--" is optional). Missing mappings on the way are created
 * (a null on the way becomes a mapping); a numeric part indexes a sequence (an index equal to
 * its length appends). VALUE is a YAML scalar taken literally (an empty value or ~ / null is
 * null), or, when it starts with [ { " or ', parsed as YAML flow: [1,28,28], {a: 1}, "x y". */
int lh_config_override(lh_config *cfg, const char *arg, lh_error *err);

const lh_config_node *lh_config_root(const lh_config *cfg);
/* The node at a dotted path under `map` ("trainer.max_epochs", "model.layers.0"); NULL if absent
 * or map is NULL. */
const lh_config_node *lh_config_get(const lh_config_node *map, const char *dotted);

int lh_config_type(const lh_config_node *n);   /* LH_CFG_*, 0 for NULL */
int32_t lh_config_len(const lh_config_node *n); /* entries of a mapping or sequence, else 0 */
const char *lh_config_key_at(const lh_config_node *map, int32_t i); /* i-th key in file order */
const lh_config_node *lh_config_at(const lh_config_node *n, int32_t i); /* i-th value / item */
/* The scalar's text; NULL unless a scalar. A YAML null (~, null, empty) reads as "" and
 * lh_config_is_null is true for it. */
const char *lh_config_scalar(const lh_config_node *n);
int lh_config_is_null(const lh_config_node *n);
const char *
lh_config_where(const lh_config_node *n); /* "examples/seed.yaml:12", "command line (...)" */
const char *lh_config_path(const lh_config_node *n);  /* "trainer.max_epochs"; "" for the root */

/* Typed getters for key `key` (may be dotted) of `map`. Absent key, a null value or a NULL map
 * give the default. A wrong value fails with "config WHERE: PATH: expected ..., got ...".
 * Integers are decimal; floats accept 1e-3 style; bools are true/false, yes/no, on/off, 1/0
 * (any case). A string getter's result lives as long as the node. */
int lh_config_get_int(const lh_config_node *map, const char *key, int64_t dflt, int64_t min,
                      int64_t max, int64_t *out, lh_error *err);
int lh_config_get_float(const lh_config_node *map, const char *key, double dflt, double min,
                        double max, double *out, lh_error *err);
int lh_config_get_bool(const lh_config_node *map, const char *key, int dflt, int *out,
                       lh_error *err);
int lh_config_get_string(const lh_config_node *map, const char *key, const char *dflt,
                         const char **out, lh_error *err);
/* *out = index of the value in `choices` (NULL-terminated, case-sensitive). */
int lh_config_get_enum(const lh_config_node *map, const char *key, const char *const *choices,
                    int dflt_index, int *out, lh_error *err);
/* Every key of `map` must be in `allowed` (NULL-terminated); a NULL map passes. */
int lh_config_check_keys(const lh_config_node *map, const char *const *allowed, lh_error *err);

/* The subtree at n (lh_config_root for the whole config) as a YAML document, malloc'd, for the
 * caller to free. Loading it back gives the same keys in the same order, the same scalar texts
 * and the same nulls (config_emit.c). NULL with a message on failure. */
char *lh_config_to_yaml(const lh_config_node *n, lh_error *err);

/* Fail with "config WHERE: PATH: MESSAGE" about node n (for callers' own checks). */
int lh_config_error(const lh_config_node *n, lh_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
