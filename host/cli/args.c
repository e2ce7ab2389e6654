/* host/cli/args.c — the command-line parser of every subcommand (see args.h). */
#include "args.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define HELP_COLUMN 30 /* where an option's help starts */
/* How much of a long key a message shows: the cause must fit in the line (a->msg). */
#define SHOWN(len) ((int)((len) > 200 ? 200 : (len)))

static const char *cmd_name(const lh_args_spec *spec, const char *argv0)
{
    return spec->cmd ? spec->cmd : argv0 ? argv0 : "?";
}

static int verror(lh_args *a, const char *fmt, va_list ap)
{
    vsnprintf(a->msg, sizeof a->msg, fmt, ap);
    fprintf(stderr, "lhost: %s: %s\nTry 'lhost %s --help'.\n", a->cmd, a->msg, a->cmd);
    return LH_ARGS_USAGE;
}

int lh_args_error(lh_args *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(a, fmt, ap);
    va_end(ap);
    return LH_ARGS_USAGE;
}

/* A usage error during the parse: nothing stays allocated. */
static int fail(lh_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(lh_args *a, const char *fmt, ...)
{
    va_list ap;
    lh_args_free(a);
    va_start(ap, fmt);
    verror(a, fmt, ap);
    va_end(ap);
    return LH_ARGS_USAGE;
}

void lh_args_free(lh_args *a)
{
    for (int32_t i = 0; i < a->n; i++)
        free(a->item[i].owned);
    a->n = 0;
}

/* "-1", "-0.5", "-1e-3": a value, not an option. */
static int is_number(const char *s)
{
    char *end;
    if (!*s)
        return 0;
    strtod(s, &end);
    return *end == '\0';
}

/* The next argument as the value of `opt`, or NULL when there is none: an argument that starts
 * with '-' (other than "-" and numbers) is taken for the next option, as argparse does. */
static const char *next_value(int argc, char **argv, int *i)
{
    const char *v;
    if (*i + 1 >= argc)
        return NULL;
    v = argv[*i + 1];
    if (v[0] == '-' && v[1] && !is_number(v))
        return NULL;
    return argv[++*i];
}

static int in_list(const char *const *list, const char *s, size_t len)
{
    for (int32_t k = 0; list && list[k]; k++)
        if (strlen(list[k]) == len && strncmp(list[k], s, len) == 0)
            return 1;
    return 0;
}

/* The key an alias stands for, or NULL. */
static const char *alias_of(const lh_args_spec *spec, const char *s, size_t len)
{
    for (int32_t k = 0; spec->aliases && spec->aliases[k] && spec->aliases[k + 1]; k += 2)
        if (strlen(spec->aliases[k]) == len && strncmp(spec->aliases[k], s, len) == 0)
            return spec->aliases[k + 1];
    return NULL;
}

static int add(lh_args *a, int32_t opt, const char *value, char *owned)
{
    if (a->n == LH_ARGS_MAX) {
        free(owned);
        return fail(a, "more than %d arguments", LH_ARGS_MAX);
    }
    a->item[a->n].opt = opt;
    a->item[a->n].value = owned ? owned : value;
    a->item[a->n].owned = owned;
    a->n++;
    return 0;
}

static int32_t count_of(const lh_args *a, int32_t opt)
{
    int32_t n = 0;
    for (int32_t i = 0; i < a->n; i++)
        n += a->item[i].opt == opt;
    return n;
}

/* --KEY[=VALUE] for a config key: stored as "--KEY=VALUE" (the alias replaced), which is how
 * lh_config_override names where a value came from. */
static int add_override(lh_args *a, const char *key, size_t klen, const char *value,
                        const char *arg, int inline_value)
{
    const char *alias = alias_of(a->spec, key, klen);
    char *s;
    if (!alias && inline_value)
        return add(a, LH_ARGS_OVERRIDE, arg, NULL);
    if (alias)
        key = alias, klen = strlen(alias);
    if (asprintf(&s, "--%.*s=%s", (int)klen, key, value) < 0)
        return fail(a, "out of memory");
    return add(a, LH_ARGS_OVERRIDE, NULL, s);
}

/* One "--name[=value]" argument at argv[*i]. */
static int long_arg(lh_args *a, int argc, char **argv, int *i)
{
    const lh_args_spec *spec = a->spec;
    const char *arg = argv[*i], *name = arg + 2, *eq = strchr(name, '='), *v;
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    for (int32_t k = 0; spec->opts && spec->opts[k].name; k++) {
        const lh_arg_opt *o = &spec->opts[k];
        if (strlen(o->name) != len || strncmp(o->name, name, len) != 0)
            continue;
        if (o->kind == LH_ARG_FLAG) {
            if (eq)
                return fail(a, "--%s takes no value (got '%s')", o->name, eq + 1);
            return add(a, k, "", NULL);
        }
        v = eq ? eq + 1 : next_value(argc, argv, i);
        if (!v)
            return fail(a, "--%s needs a value (%s)", o->name, o->metavar);
        if (o->kind == LH_ARG_LIST && o->max && count_of(a, k) == o->max)
            return fail(a, "--%s: at most %d", o->name, (int)o->max);
        return add(a, k, v, NULL);
    }
    if (spec->overrides && len &&
        (memchr(name, '.', len) || in_list(spec->top_keys, name, len) ||
         alias_of(spec, name, len))) {
        v = eq ? eq + 1 : next_value(argc, argv, i);
        if (!v)
            return fail(a, "--%.*s%s needs a value", SHOWN(len), name, len > 200 ? "..." : "");
        return add_override(a, name, len, v, arg, eq != NULL);
    }
    return fail(a, "unknown argument '--%.*s%s'", SHOWN(len), name, len > 200 ? "..." : "");
}

/* One "-x" or "-xVALUE" argument at argv[*i]. */
static int short_arg(lh_args *a, int argc, char **argv, int *i)
{
    const char *arg = argv[*i], *v;
    for (int32_t k = 0; a->spec->opts && a->spec->opts[k].name; k++) {
        const lh_arg_opt *o = &a->spec->opts[k];
        if (o->short_name != arg[1])
            continue;
        if (o->kind == LH_ARG_FLAG) {
            if (arg[2])
                break;
            return add(a, k, "", NULL);
        }
        v = arg[2] ? arg + 2 : next_value(argc, argv, i);
        if (!v)
            return fail(a, "-%c needs a value (%s)", arg[1], o->metavar);
        if (o->kind == LH_ARG_LIST && o->max && count_of(a, k) == o->max)
            return fail(a, "-%c: at most %d", arg[1], (int)o->max);
        return add(a, k, v, NULL);
    }
    return fail(a, "unknown argument '%s'", arg);
}

int lh_args_parse(lh_args *a, const lh_args_spec *spec, int argc, char **argv)
{
    int i, operands_only = 0, rc;
    memset(a, 0, sizeof *a);
    a->spec = spec;
    a->cmd = cmd_name(spec, argc > 0 ? argv[0] : NULL);
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!operands_only && (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)) {
            lh_args_free(a);
            lh_args_help(spec, a->cmd, stdout);
            return LH_ARGS_HELP;
        }
        if (!operands_only && strcmp(arg, "--") == 0) {
            operands_only = 1;
            continue;
        }
        if (!operands_only && strncmp(arg, "--", 2) == 0)
            rc = long_arg(a, argc, argv, &i);
        else if (!operands_only && arg[0] == '-' && arg[1] && !is_number(arg))
            rc = short_arg(a, argc, argv, &i);
        else if (count_of(a, LH_ARGS_OPERAND) < spec->max_operands)
            rc = add(a, LH_ARGS_OPERAND, arg, NULL);
        else if (spec->max_operands == 1)
            rc = fail(a, "one %s expected, got '%s' and '%s'", spec->operand,
                      lh_args_operand(a, 0), arg);
        else
            rc = fail(a, "unexpected argument '%s'", arg);
        if (rc)
            return rc;
    }
    return 0;
}

static int32_t opt_index(const lh_args *a, const char *name)
{
    for (int32_t k = 0; a->spec->opts && a->spec->opts[k].name; k++)
        if (strcmp(a->spec->opts[k].name, name) == 0)
            return k;
    return -3; /* matches no item */
}

const char *lh_args_get(const lh_args *a, const char *name)
{
    int32_t k = opt_index(a, name);
    for (int32_t i = a->n - 1; i >= 0; i--)
        if (a->item[i].opt == k)
            return a->item[i].value;
    return NULL;
}

int32_t lh_args_all(const lh_args *a, const char *name, const char **out, int32_t cap)
{
    int32_t k = opt_index(a, name), n = 0;
    for (int32_t i = 0; i < a->n; i++)
        if (a->item[i].opt == k) {
            if (n < cap)
                out[n] = a->item[i].value;
            n++;
        }
    return n;
}

const char *lh_args_operand(const lh_args *a, int32_t i)
{
    for (int32_t j = 0; j < a->n; j++)
        if (a->item[j].opt == LH_ARGS_OPERAND && i-- == 0)
            return a->item[j].value;
    return NULL;
}

int lh_args_apply_overrides(const lh_args *a, lh_config *cfg, lh_error *err)
{
    for (int32_t i = 0; i < a->n; i++)
        if (a->item[i].opt == LH_ARGS_OVERRIDE && lh_config_override(cfg, a->item[i].value, err))
            return -1;
    return 0;
}

/* "  -c, --config FILE" padded to HELP_COLUMN, then the help (on the next line if too long). */
static void help_row(FILE *f, char short_name, const char *name, const char *metavar,
                     const char *help)
{
    char left[160];
    int n;
    if (short_name)
        n = snprintf(left, sizeof left, "  -%c, --%s%s%s", short_name, name, metavar ? " " : "",
                     metavar ? metavar : "");
    else
        n = snprintf(left, sizeof left, "      --%s%s%s", name, metavar ? " " : "",
                     metavar ? metavar : "");
    if (n + 2 > HELP_COLUMN)
        fprintf(f, "%s\n%*s%s\n", left, HELP_COLUMN, "", help);
    else
        fprintf(f, "%-*s%s\n", HELP_COLUMN, left, help);
}

void lh_args_help(const lh_args_spec *spec, const char *cmd, FILE *f)
{
    const char *name = cmd ? cmd : cmd_name(spec, NULL);
    fprintf(f, "usage: lhost %s %s\n", name, spec->usage);
    if (spec->about)
        fprintf(f, "%s", spec->about);
    fprintf(f, "\noptions:\n");
    for (int32_t k = 0; spec->opts && spec->opts[k].name; k++) {
        const lh_arg_opt *o = &spec->opts[k];
        char help[400];
        snprintf(help, sizeof help, "%s%s", o->help, o->kind == LH_ARG_LIST ? " (repeatable)" : "");
        help_row(f, o->short_name, o->name, o->metavar, help);
    }
    help_row(f, 'h', "help", NULL, "show this help and exit");
    if (spec->overrides)
        fprintf(
            f,
            "\nEvery config key below can be set on the command line: --KEY=VALUE or "
            "--KEY VALUE\n(--trainer.max_epochs=3, --callbacks.early_stopping.patience 5); "
            "a VALUE that\nstarts with [ { \" or ' is YAML flow (--optimizer.betas=[0.8,0.9]).\n");
    if (spec->help_more)
        spec->help_more(f);
}
