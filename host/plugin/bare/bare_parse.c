/* host/plugin/bare/bare_parse.c — the bare-plugin signature parser (grammar in bare.h). Every
 * error names the plugin, the line and the offending token. Hook names are LH_HOOK_MAP's. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "bare.h"
#include "dispatch.h"
#include "instance.h"

static const char *const trainer_fields[] = {"epoch", "global_step", "batch_idx", "rank",
                                             "world_size", "max_epochs", "stage", NULL};

const char *lh_bare_trainer_field(int32_t i)
{
    return i >= 0 && i < (int32_t)(sizeof trainer_fields / sizeof trainer_fields[0]) ?
               trainer_fields[i] : NULL;
}

int32_t lh_bare_is_trainer_field(const char *name)
{
    int32_t i;
    for (i = 0; trainer_fields[i]; i++)
        if (strcmp(trainer_fields[i], name) == 0)
            return 1;
    return 0;
}

const char *lh_bare_type_name(int32_t type)
{
    static const char *const n[] = {"void", "int32", "int64", "double", "float", "bool",
                                    "const char *", "const float *", "const int32 *"};
    return type >= 0 && type <= LH_BT_INT32_PTR ? n[type] : "?";
}

/* "on_fit_start, on_train_epoch_start, ..., on_fit_end": every hook, for messages. */
static const char *hook_list(char *buf, size_t cap)
{
    size_t used = 0;
    int32_t h;
    buf[0] = '\0';
    for (h = 0; h < LH_HOOK_COUNT && used < cap; h++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", h ? ", " : "",
                                 lh_dispatch_hook_name(h));
    return buf;
}

/* What goes between a type and a name: nothing after a '*'. */
static const char *sep(int32_t type)
{
    return type >= LH_BT_STRING && type <= LH_BT_INT32_PTR ? "" : " ";
}

/* A cursor over one line. Tokens: identifiers, and single characters : ( ) , * ; */
typedef struct lexer {
    const char *p, *end;
    char tok[160];
    int32_t is_ident;
} lexer;

static int next(lexer *lx)
{
    size_t n = 0;
    while (lx->p < lx->end && isspace((unsigned char)*lx->p))
        lx->p++;
    lx->tok[0] = 0;
    lx->is_ident = 0;
    if (lx->p >= lx->end)
        return 0;
    if (isalpha((unsigned char)*lx->p) || *lx->p == '_') {
        while (lx->p < lx->end && (isalnum((unsigned char)*lx->p) || *lx->p == '_')) {
            if (n + 1 < sizeof lx->tok)
                lx->tok[n++] = *lx->p;
            lx->p++;
        }
        lx->tok[n] = 0;
        lx->is_ident = 1;
        return 1;
    }
    /* anything else is one character; show it readably */
    if (isprint((unsigned char)*lx->p))
        snprintf(lx->tok, sizeof lx->tok, "%c", *lx->p);
    else
        snprintf(lx->tok, sizeof lx->tok, "\\x%02x", (unsigned char)*lx->p);
    lx->p++;
    return 1;
}

static int is(const lexer *lx, const char *s)
{
    return strcmp(lx->tok, s) == 0;
}

#define FAIL(...)                                                                         \
    do {                                                                                  \
        char m_[1024];                                                                    \
        snprintf(m_, sizeof m_, __VA_ARGS__);                                             \
        return lh_error_set(err, "bare plugin %s: line %d: %s", origin, line, m_);       \
    } while (0)

/* Read a type starting at the current token; leaves the token after it. */
static int read_type(lexer *lx, int32_t *type, const char *origin, int32_t line, lh_error *err)
{
    if (!lx->tok[0])
        FAIL("expected a type, found the end of the line");
    if (is(lx, "const")) {
        int32_t base;
        next(lx);
        if (is(lx, "char"))
            base = LH_BT_STRING;
        else if (is(lx, "float"))
            base = LH_BT_FLOAT_PTR;
        else if (is(lx, "int32") || is(lx, "int32_t") || is(lx, "int"))
            base = LH_BT_INT32_PTR;
        else
            FAIL("unsupported type 'const %s' (expected const char *, const float * or "
                 "const int32 *)", lx->tok[0] ? lx->tok : "<end>");
        next(lx);
        if (!is(lx, "*"))
            FAIL("expected '*' after 'const %.*s', found '%s'",
                 (int)strlen(lh_bare_type_name(base)) - 8, lh_bare_type_name(base) + 6,
                 lx->tok[0] ? lx->tok : "<end>");
        next(lx);
        *type = base;
        return 0;
    }
    if (is(lx, "int32") || is(lx, "int32_t") || is(lx, "int"))
        *type = LH_BT_INT32;
    else if (is(lx, "int64") || is(lx, "int64_t") || is(lx, "long"))
        *type = LH_BT_INT64;
    else if (is(lx, "double"))
        *type = LH_BT_DOUBLE;
    else if (is(lx, "float"))
        *type = LH_BT_FLOAT;
    else if (is(lx, "bool") || is(lx, "_Bool"))
        *type = LH_BT_BOOL;
    else if (is(lx, "void"))
        *type = LH_BT_VOID;
    else
        FAIL("unsupported type '%s' (expected int32, int64, double, float, bool or const char *)",
             lx->tok);
    next(lx);
    if (is(lx, "*"))
        FAIL("unsupported pointer type '%s *' (only const char *, const float * and "
             "const int32 * are allowed)", lh_bare_type_name(*type));
    return 0;
}

/* target ':' — a hook name or 'metric NAME [max|min]' — from the line's start; leaves the token
 * after the ':'. */
static int parse_target(lexer *lx, lh_bare_decl *d, const char *origin, int32_t line,
                        lh_error *err)
{
    next(lx);
    if (!lx->is_ident)
        FAIL("expected a hook name or 'metric', found '%s'", lx->tok);
    if (is(lx, "metric")) {
        d->is_metric = 1;
        next(lx);
        if (!lx->is_ident)
            FAIL("expected the metric's name after 'metric', found '%s'",
                 lx->tok[0] ? lx->tok : "<end>");
        if (strlen(lx->tok) >= sizeof d->metric)
            FAIL("metric name '%.40s...' is too long", lx->tok);
        memcpy(d->metric, lx->tok, strlen(lx->tok) + 1); /* length checked above */
        next(lx);
        if (is(lx, "max") || is(lx, "min")) {
            d->higher_is_better = is(lx, "max");
            next(lx);
        }
    } else {
        if ((d->hook = lh_dispatch_hook_find(lx->tok)) < 0) {
            char names[LH_HOOK_COUNT * 32];
            FAIL("unknown hook '%s' (expected %s or 'metric NAME')", lx->tok,
                 hook_list(names, sizeof names));
        }
        next(lx);
    }
    if (!is(lx, ":"))
        FAIL("expected ':' after '%s', found '%s'",
             d->is_metric ? d->metric : lh_dispatch_hook_name(d->hook),
             lx->tok[0] ? lx->tok : "<end>");
    next(lx);
    return 0;
}

/* '(' [param {',' param}] ')' [';'] up to the end of the line, from the token after the
 * function's name. */
static int parse_args(lexer *lx, lh_bare_decl *d, const char *origin, int32_t line,
                      lh_error *err)
{
    int32_t i;
    if (!is(lx, "("))
        FAIL("expected '(' after '%s', found '%s'", d->symbol, lx->tok[0] ? lx->tok : "<end>");
    next(lx);
    if (is(lx, "void")) { /* f(void) */
        const char *save = lx->p;
        next(lx);
        if (!is(lx, ")")) {
            lx->p = save;
            snprintf(lx->tok, sizeof lx->tok, "void");
        }
    }
    while (!is(lx, ")")) {
        lh_bare_arg *a;
        if (d->n_args == LH_BARE_MAX_ARGS)
            FAIL("more than %d arguments", LH_BARE_MAX_ARGS);
        a = &d->args[d->n_args];
        if (read_type(lx, &a->type, origin, line, err))
            return -1;
        if (a->type == LH_BT_VOID)
            FAIL("argument %d: 'void' is not a value type", d->n_args + 1);
        if (!lx->is_ident)
            FAIL("argument %d: expected a name after its type, found '%s'", d->n_args + 1,
                 lx->tok[0] ? lx->tok : "<end>");
        if (strlen(lx->tok) >= sizeof a->name)
            FAIL("argument name '%.40s...' is too long", lx->tok);
        memcpy(a->name, lx->tok, strlen(lx->tok) + 1); /* length checked above */
        for (i = 0; i < d->n_args; i++)
            if (strcmp(d->args[i].name, a->name) == 0)
                FAIL("argument '%s' appears twice", a->name);
        d->n_args++;
        next(lx);
        if (is(lx, ",")) {
            next(lx);
            if (is(lx, ")"))
                FAIL("expected an argument after ',', found ')'");
        } else if (!is(lx, ")"))
            FAIL("expected ',' or ')' after argument '%s', found '%s'", a->name,
                 lx->tok[0] ? lx->tok : "<end>");
    }
    next(lx);
    if (is(lx, ";"))
        next(lx);
    if (lx->tok[0])
        FAIL("unexpected '%s' after the closing ')'", lx->tok);
    return 0;
}

/* What each argument may bind to: a metric takes the fixed four; a hook takes no pointer but
 * const char *stage (whether a name binds is checked at load: lh_bare_check_names). */
static int check_arg_kinds(const lh_bare_decl *d, const char *origin, int32_t line,
                           lh_error *err)
{
    int32_t i;
    if (d->is_metric) {
        static const struct {
            const char *name;
            int32_t type;
        } want[4] = {{"logits", LH_BT_FLOAT_PTR}, {"targets", LH_BT_INT32_PTR},
                     {"n", LH_BT_INT64}, {"num_classes", LH_BT_INT32}};
        if (d->n_args != 4)
            FAIL("metric %s: expected (const float *logits, const int32 *targets, int64 n, "
                 "int32 num_classes), got %d arguments", d->metric, d->n_args);
        for (i = 0; i < 4; i++)
            if (strcmp(d->args[i].name, want[i].name) || d->args[i].type != want[i].type)
                FAIL("metric %s: argument %d: expected '%s%s%s', got '%s%s%s'", d->metric,
                     i + 1, lh_bare_type_name(want[i].type), sep(want[i].type), want[i].name,
                     lh_bare_type_name(d->args[i].type), sep(d->args[i].type), d->args[i].name);
    } else {
        for (i = 0; i < d->n_args; i++) {
            const lh_bare_arg *a = &d->args[i];
            if (a->type == LH_BT_FLOAT_PTR || a->type == LH_BT_INT32_PTR)
                FAIL("argument '%s': %s is only for metrics", a->name, lh_bare_type_name(a->type));
            if (a->type == LH_BT_STRING && strcmp(a->name, "stage") != 0)
                FAIL("argument '%s': const char * binds only to 'stage'", a->name);
            if (strcmp(a->name, "stage") == 0 && a->type != LH_BT_STRING)
                FAIL("argument 'stage' must be const char *");
        }
    }
    return 0;
}

static int parse_line(const char *s, const char *e, int32_t line, const char *origin,
                      lh_bare_decl *d, lh_error *err)
{
    lexer lx = {s, e, {0}, 0};
    memset(d, 0, sizeof *d);
    d->line = line;
    d->higher_is_better = 1;
    if (parse_target(&lx, d, origin, line, err))
        return -1;
    if (read_type(&lx, &d->ret, origin, line, err))
        return -1;
    if (d->is_metric && d->ret != LH_BT_DOUBLE)
        FAIL("metric %s must return double, not %s", d->metric, lh_bare_type_name(d->ret));
    if (!d->is_metric && d->ret != LH_BT_INT32)
        FAIL("hook %s must return int (0 continue, 1 stop, < 0 error), not %s",
             lh_dispatch_hook_name(d->hook), lh_bare_type_name(d->ret));
    if (!lx.is_ident)
        FAIL("expected the function's name, found '%s'", lx.tok[0] ? lx.tok : "<end>");
    if (strlen(lx.tok) >= sizeof d->symbol)
        FAIL("function name '%.40s...' is too long", lx.tok);
    memcpy(d->symbol, lx.tok, strlen(lx.tok) + 1); /* length checked above */
    next(&lx);
    if (parse_args(&lx, d, origin, line, err))
        return -1;
    return check_arg_kinds(d, origin, line, err);
}

int lh_bare_parse(const char *text, const char *origin, lh_bare_spec *out, lh_error *err)
{
    const char *p = text;
    int32_t line = 0;
    memset(out, 0, sizeof *out);
    if (!text)
        return lh_error_set(err, "bare plugin %s: no signature text", origin);
    while (*p) {
        const char *e = p + strcspn(p, "\n"), *hash = memchr(p, '#', (size_t)(e - p));
        const char *stop = hash ? hash : e, *q = p;
        line++;
        while (q < stop && isspace((unsigned char)*q))
            q++;
        if (q < stop) {
            int32_t i;
            if (out->n_decls == LH_BARE_MAX_DECLS)
                return lh_error_set(err, "bare plugin %s: line %d: more than %d declarations",
                                    origin, line, LH_BARE_MAX_DECLS);
            if (parse_line(q, stop, line, origin, &out->decls[out->n_decls], err))
                return -1;
            for (i = 0; i < out->n_decls; i++) {
                const lh_bare_decl *a = &out->decls[i], *b = &out->decls[out->n_decls];
                if (!a->is_metric && !b->is_metric && a->hook == b->hook)
                    return lh_error_set(err, "bare plugin %s: line %d: hook %s declared twice "
                                        "(first on line %d)", origin, line,
                                        lh_dispatch_hook_name(b->hook), a->line);
                if (a->is_metric && b->is_metric && strcmp(a->metric, b->metric) == 0)
                    return lh_error_set(err, "bare plugin %s: line %d: metric %s declared twice "
                                        "(first on line %d)", origin, line, b->metric, a->line);
            }
            out->n_decls++;
        }
        p = *e ? e + 1 : e;
    }
    if (out->n_decls == 0)
        return lh_error_set(err, "bare plugin %s: no declarations in its signatures", origin);
    return 0;
}

void lh_bare_format(const lh_bare_decl *d, char *buf, int32_t len)
{
    int32_t i, n = snprintf(buf, (size_t)len, "%s %s(", lh_bare_type_name(d->ret), d->symbol);
    for (i = 0; i < d->n_args && n < len; i++) {
        const char *t = lh_bare_type_name(d->args[i].type);
        size_t tl = strlen(t);
        n += snprintf(buf + n, (size_t)(len - n), "%s%s%s%s", i ? ", " : "", t,
                      t[tl - 1] == '*' ? "" : " ", d->args[i].name);
    }
    if (n < len)
        snprintf(buf + n, (size_t)(len - n), ")");
}

void lh_bare_format_line(const lh_bare_decl *d, char *buf, int32_t len)
{
    int32_t n;
    if (len <= 0)
        return;
    if (d->is_metric)
        n = snprintf(buf, (size_t)len, "metric %s %s: ", d->metric,
                     d->higher_is_better ? "max" : "min");
    else
        n = snprintf(buf, (size_t)len, "%s: ", lh_dispatch_hook_name(d->hook));
    if (n >= 0 && n < len)
        lh_bare_format(d, buf + n, len - n);
}
