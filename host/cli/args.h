/* host/cli/args.h — the one command-line parser every lhost subcommand uses, with
 * LightningCLI's habits.
 *
 * A subcommand describes itself in one lh_args_spec: its options (one table), how many operands
 * it takes, and whether it takes config overrides. The parser then gives every subcommand the
 * same rules:
 *   --name VALUE, --name=VALUE, -c VALUE, -cVALUE   (a value may not start with '-' unless it is
 *                                                   a number; write --name=-x for that)
 *   --flag                                          (a value given to a flag is an error)
 *   --a.b.c=VALUE, --a.b.c VALUE                    config overrides (dotted paths), and
 *   --seed=1                                        undotted top-level keys the spec lists, with
 *                                                   aliases (--seed_everything=1 is --seed=1)
 *   -h, --help                                      the help, on stdout, exit status 0
 *   --                                              everything after it is an operand
 * and the same errors, one line on stderr, exit status 2:
 *   lhost: train: unknown argument '--bogus'
 *   lhost: train: --config needs a value (FILE)
 *   Try 'lhost train --help'.                        (the second line of each) */
#ifndef LH_ARGS_H
#define LH_ARGS_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "error.h"

#define LH_ARG_FLAG 0  /* --json */
#define LH_ARG_VALUE 1 /* --config FILE; the last one given wins */
#define LH_ARG_LIST 2  /* --plugin-dir DIR, repeatable, in order */

#define LH_ARGS_HELP 1  /* lh_args_parse printed the help: exit 0 */
#define LH_ARGS_USAGE 2 /* lh_args_parse printed a usage error: exit 2 */

#define LH_ARGS_MAX 512 /* arguments a command line may hold */

typedef struct lh_arg_opt {
    const char *name;    /* the long name without "--"; NULL ends a table */
    char short_name;     /* 'c' for -c, or 0 */
    int32_t kind;        /* LH_ARG_* */
    const char *metavar; /* "FILE" for a value, NULL for a flag */
    int32_t max;         /* LH_ARG_LIST: at most this many (0: any) */
    const char *help;    /* one line */
} lh_arg_opt;

typedef struct lh_args_spec {
    const char *cmd;                   /* the name in messages ("ckpt inspect"); NULL: argv[0] */
    const char *usage;                 /* what follows "usage: lhost CMD " */
    const char *about;                 /* text after the usage line, lines ending in \n */
    const lh_arg_opt *opts;            /* ends with {NULL}; -h, --help is implied */
    int32_t max_operands;              /* operands (NAME, PATH) it takes */
    const char *operand;               /* their name in messages ("NAME") */
    int32_t overrides;                 /* 1: --a.b=VALUE and top_keys set config keys */
    const char *const *top_keys;       /* undotted keys taken as overrides; NULL-terminated */
    const char *const *aliases;        /* pairs alias, key ("seed_everything", "seed"), NULL */
    void (*help_more)(FILE *f);        /* prints more help after the options, or NULL */
} lh_args_spec;

typedef struct lh_arg_item {
    int32_t opt;       /* index into spec->opts, or LH_ARGS_OPERAND / LH_ARGS_OVERRIDE */
    const char *value; /* the value ("" for a flag); an override is "--a.b=VALUE" */
    char *owned;       /* value when this item allocated it, else NULL */
} lh_arg_item;

#define LH_ARGS_OPERAND (-1)
#define LH_ARGS_OVERRIDE (-2)

typedef struct lh_args {
    const lh_args_spec *spec;
    const char *cmd;           /* the command's name in messages */
    int32_t n;
    lh_arg_item item[LH_ARGS_MAX];
    char msg[512];             /* the last usage error, without "lhost: CMD: " */
} lh_args;

/* Parse argv[1..argc-1] (argv[0] is the command's name) by spec. Returns 0 to run the command
 * (then lh_args_free a), or LH_ARGS_HELP / LH_ARGS_USAGE after printing the help to stdout or
 * the error to stderr (a holds nothing to free then; a->msg keeps the error). */
int lh_args_parse(lh_args *a, const lh_args_spec *spec, int argc, char **argv);
void lh_args_free(lh_args *a);

/* The last value of option `name`: "" for a flag that was given, NULL if it was not. */
const char *lh_args_get(const lh_args *a, const char *name);
/* The values of option `name` in order into out[cap]; returns how many were given. */
int32_t lh_args_all(const lh_args *a, const char *name, const char **out, int32_t cap);
/* The i-th operand, or NULL. */
const char *lh_args_operand(const lh_args *a, int32_t i);
/* Apply the overrides to cfg in command-line order (lh_config_override). */
int lh_args_apply_overrides(const lh_args *a, lh_config *cfg, lh_error *err);

/* Print a usage error of the command (as lh_args_parse does) and return LH_ARGS_USAGE. */
int lh_args_error(lh_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The help: usage line, text, options, then spec->help_more. `cmd` NULL means spec->cmd. */
void lh_args_help(const lh_args_spec *spec, const char *cmd, FILE *f);

#endif
