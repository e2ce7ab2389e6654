/* tests/fuzz/fuzz_config.c — fuzz target for the YAML config and its dotted overrides
 * (host/config/config.c, config_emit.c). The input is a YAML document, optionally followed by a
 * line "%%" and one override per line (--a.b.c=VALUE). Loading either fails with a message or
 * gives a tree every getter walks safely; each override either applies or fails with a message;
 * the result emitted as YAML loads back and emits to the same text. Run: tests/fuzz/README.md. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "fuzz_config: %s:%d: invariant failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                                    \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

#define MAX_OVERRIDES 16

static void check_error(const lh_error *err)
{
    CHECK(memchr(err->msg, 0, sizeof err->msg) && err->msg[0]);
}

/* Every node answers every getter without harm. */
static void walk(const lh_config_node *n, int depth)
{
    static const char *const choices[] = {"min", "max", NULL};
    lh_error err;
    int32_t i;
    CHECK(depth <= 200);
    CHECK(lh_config_where(n) && lh_config_path(n));
    if (lh_config_type(n) == LH_CFG_SCALAR) {
        CHECK(lh_config_scalar(n));
        return;
    }
    for (i = 0; i < lh_config_len(n); i++) {
        const lh_config_node *kid = lh_config_at(n, i);
        CHECK(kid);
        if (lh_config_type(n) == LH_CFG_MAP) {
            const char *key = lh_config_key_at(n, i);
            int64_t iv;
            double dv;
            int bv, ev;
            const char *sv;
            CHECK(key);
            /* A dotted key may reach elsewhere, or nowhere: either is fine. */
            (void)lh_config_get(n, key);
            if (lh_config_get_int(n, key, 0, -100, 100, &iv, &err))
                check_error(&err);
            if (lh_config_get_float(n, key, 0, -1e9, 1e9, &dv, &err))
                check_error(&err);
            if (lh_config_get_bool(n, key, 0, &bv, &err))
                check_error(&err);
            if (lh_config_get_string(n, key, "", &sv, &err))
                check_error(&err);
            if (lh_config_get_enum(n, key, choices, 0, &ev, &err))
                check_error(&err);
        }
        walk(kid, depth + 1);
    }
}

/* Emit, load back, emit again: the same text. */
static void check_emit(const lh_config *cfg)
{
    lh_config *again = NULL;
    lh_error err;
    char *a = lh_config_to_yaml(lh_config_root(cfg), &err), *b;
    if (!a) {
        check_error(&err);
        return;
    }
    if (lh_config_load_string(&again, "emitted", a, &err) != 0) {
        fprintf(stderr, "fuzz_config: emitted YAML does not load back: %s\n--- yaml ---\n%s",
                err.msg, a);
        abort();
    }
    b = lh_config_to_yaml(lh_config_root(again), &err);
    CHECK(b);
    if (strcmp(a, b) != 0) {
        fprintf(stderr, "fuzz_config: emit is not a fixed point\n--- first ---\n%s--- second "
                        "---\n%s", a, b);
        abort();
    }
    free(a);
    free(b);
    lh_config_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), *ov[MAX_OVERRIDES], *sep;
    lh_config *cfg = NULL;
    lh_error err;
    int n_ov = 0, k;
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    /* The YAML itself may hold NULs: libyaml sees it up to the first one, as a file would be
     * read by lh_config_load. */
    sep = strstr(text, "\n%%\n");
    if (sep) {
        char *line = sep + 4, *save = NULL;
        *sep = '\0';
        for (line = strtok_r(line, "\n", &save); line && n_ov < MAX_OVERRIDES;
             line = strtok_r(NULL, "\n", &save))
            ov[n_ov++] = line;
    }
    err.msg[0] = '\0';
    if (lh_config_load_string(&cfg, "fuzz.yaml", text, &err) != 0) {
        check_error(&err);
        CHECK(cfg == NULL);
        free(text);
        return 0;
    }
    walk(lh_config_root(cfg), 0);
    for (k = 0; k < n_ov; k++) {
        if (lh_config_override(cfg, ov[k], &err) != 0)
            check_error(&err);
    }
    if (n_ov)
        walk(lh_config_root(cfg), 0);
    check_emit(cfg);
    lh_config_free(cfg);
    free(text);
    return 0;
}
