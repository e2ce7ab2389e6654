/* tests/fuzz/fuzz_bare_parse.c — fuzz target for the bare-plugin signature parser
 * (host/plugin/bare/bare_parse.c). On any input the parser must either fail with a one-line
 * message that names the plugin, or succeed with declarations that format within bounds and
 * parse back to the same declarations.
 *
 * Run: ctest -L fuzz (the standalone driver, fuzz_main.c), or the libFuzzer build as
 * tests/fuzz/README.md says; once a finding is fixed, add its input to corpus_bare_parse/. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bare.h"
#include "dispatch.h"
#include "instance.h"

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "fuzz_bare_parse: %s:%d: invariant failed: %s\n", __FILE__, \
                    __LINE__, #cond);                                                 \
            abort();                                                                  \
        }                                                                             \
    } while (0)

/* Format into a buffer of exactly `len` bytes followed by guard bytes; check the guard and
 * that the result is NUL-terminated within len. */
static void check_format_bounds(const lh_bare_decl *d, int32_t len)
{
    char buf[2048 + 16];
    int32_t i;
    memset(buf, 0x5a, sizeof buf);
    lh_bare_format_line(d, buf, len);
    for (i = len; i < len + 16; i++)
        CHECK(buf[i] == 0x5a);
    if (len > 0)
        CHECK(memchr(buf, 0, (size_t)len) != NULL);
}

static void check_spec(const lh_bare_spec *spec)
{
    static lh_bare_spec again;
    static char text[LH_BARE_MAX_DECLS * 2100];
    lh_error err;
    size_t at = 0;
    int32_t i, j;
    CHECK(spec->n_decls >= 1 && spec->n_decls <= LH_BARE_MAX_DECLS);
    for (i = 0; i < spec->n_decls; i++) {
        const lh_bare_decl *d = &spec->decls[i];
        char line[2048];
        CHECK(d->n_args >= 0 && d->n_args <= LH_BARE_MAX_ARGS);
        CHECK(d->symbol[0] && memchr(d->symbol, 0, sizeof d->symbol));
        CHECK(d->is_metric ? d->ret == LH_BT_DOUBLE && d->n_args == 4
                           : d->ret == LH_BT_INT32 && d->hook >= 0 && d->hook < LH_HOOK_COUNT);
        for (j = 0; j < d->n_args; j++)
            CHECK(d->args[j].name[0] && d->args[j].type > LH_BT_VOID &&
                  d->args[j].type <= LH_BT_INT32_PTR);
        check_format_bounds(d, 0);
        check_format_bounds(d, 1);
        check_format_bounds(d, 17);
        check_format_bounds(d, 64);
        lh_bare_format_line(d, line, sizeof line);
        CHECK(strlen(line) + 1 < sizeof line); /* the largest declaration fits */
        at += (size_t)snprintf(text + at, sizeof text - at, "%s\n", line);
        CHECK(at < sizeof text);
    }
    /* Formatted declarations parse back to the same declarations. */
    err.msg[0] = 0;
    if (lh_bare_parse(text, "fuzz", &again, &err) != 0) {
        fprintf(stderr, "fuzz_bare_parse: reparse failed: %s\n--- text ---\n%s", err.msg, text);
        abort();
    }
    CHECK(again.n_decls == spec->n_decls);
    for (i = 0; i < spec->n_decls; i++) {
        const lh_bare_decl *a = &spec->decls[i], *b = &again.decls[i];
        CHECK(a->is_metric == b->is_metric && a->hook == b->hook && a->ret == b->ret);
        CHECK(a->higher_is_better == b->higher_is_better && a->n_args == b->n_args);
        CHECK(strcmp(a->metric, b->metric) == 0 && strcmp(a->symbol, b->symbol) == 0);
        for (j = 0; j < a->n_args; j++)
            CHECK(a->args[j].type == b->args[j].type &&
                  strcmp(a->args[j].name, b->args[j].name) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lh_bare_spec spec;
    lh_error err;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    err.msg[0] = 0;
    if (lh_bare_parse(text, "fuzz", &spec, &err) == 0) {
        check_spec(&spec);
    } else {
        /* one line, naming the plugin */
        CHECK(strncmp(err.msg, "bare plugin fuzz: ", 18) == 0);
        CHECK(strchr(err.msg, '\n') == NULL);
        CHECK(memchr(err.msg, 0, sizeof err.msg) != NULL);
    }
    free(text);
    return 0;
}
