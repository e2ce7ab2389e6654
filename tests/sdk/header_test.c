/* tests/sdk/header_test.c — the SDK headers used as a plugin author uses them, compiled as C99,
 * C11 and C++17 (header_test.cpp) with -Wall -Wextra -pedantic -Werror by tests/sdk/tests.cmake.
 * Each build is an executable that checks the version macros, the inline helpers, LHOST_HOST_HAS
 * and a descriptor reached through the entry function; it exits non-zero on the first mismatch.
 * Run: ctest --test-dir build -R sdk_header */
#include <lhost/lhost.h>

#include <stdio.h>
#include <string.h>

#include "abi_layout.h"

static int failures;

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                            \
        }                                                                          \
    } while (0)

static int32_t t_create(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *params,
                        void **self)
{
    (void)host;
    (void)ctx;
    (void)params;
    *self = NULL;
    return LHOST_OK;
}

static void t_destroy(void *self) { (void)self; }

static int32_t t_on_fit_start(void *self, lhost_ctx *ctx)
{
    (void)self;
    (void)ctx;
    return LHOST_STOP;
}

static const char *const t_modes[] = {"min", "max", NULL};

static const lhost_param t_params[] = {
    {sizeof(lhost_param), LHOST_PARAM_ENUM, "mode", "min or max", "max", t_modes, 0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_INT, "patience", "epochs", "3", NULL, 0, 0,
     LHOST_PARAM_HAS_MIN},
};

static const lhost_callback_vtable t_vtable = {
    sizeof(lhost_callback_vtable), 1, t_create, t_destroy, t_on_fit_start,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    /* since ABI 1.1: stages, reserved_, then the 13 hooks */
    0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
};

static const lhost_plugin_desc t_desc = {
    sizeof(lhost_plugin_desc), LHOST_KIND_CALLBACK, "org.lhost.test.header", "header",
    "1.0.0", "header test", t_params, 2, LHOST_PRIORITY_MONITOR, &t_vtable,
};

static const lhost_plugin_desc *const t_plugins[] = {&t_desc};

static const lhost_library t_library = {
    sizeof(lhost_library), LHOST_ABI_VERSION_INIT, NULL, 1, t_plugins,
};

#ifdef __cplusplus
extern "C"
#endif
LHOST_EXPORT const lhost_library *lhost_plugin_entry(const lhost_version *host_abi,
                                                    const lhost_host *host)
{
    (void)host_abi;
    (void)host;
    return &t_library;
}

static void t_log(lhost_ctx *ctx, int32_t level, const char *msg)
{
    (void)ctx;
    (void)level;
    (void)msg;
}

int main(void)
{
    lhost_version host_v = LHOST_ABI_VERSION_INIT;
    lhost_version v;
    lhost_entry_fn entry = lhost_plugin_entry;
    const lhost_library *lib;
    const lhost_callback_vtable *vt;
    lhost_value vals[2];
    lhost_param_values pv;
    lhost_host host;
    void *self = &failures;

    CHECK(LHOST_ABI_VERSION_MAJOR == 1);
    CHECK(LHOST_ABI_VERSION_MINOR == 1);
    CHECK(host_v.major == 1 && host_v.minor == 1 && host_v.patch == 0);
    CHECK(strcmp(LHOST_ENTRY_SYMBOL, "lhost_plugin_entry") == 0);

    /* Version rules: different major refused, newer minor refused, older minor and any patch ok. */
    v = host_v;
    CHECK(lhost_version_check(host_v, v) == LHOST_VERSION_COMPATIBLE);
    v.major = 2;
    CHECK(lhost_version_check(host_v, v) == LHOST_VERSION_MAJOR_MISMATCH);
    v = host_v;
    v.minor = 2;
    CHECK(lhost_version_check(host_v, v) == LHOST_VERSION_PLUGIN_NEWER);
    v.minor = 0; /* a 1.0 plugin in a 1.1 host */
    CHECK(lhost_version_check(host_v, v) == LHOST_VERSION_COMPATIBLE);
    v = host_v;
    v.patch = 9;
    CHECK(lhost_version_check(host_v, v) == LHOST_VERSION_COMPATIBLE);
    host_v.minor = 3;
    v.minor = 2;
    CHECK(lhost_version_check(host_v, v) == LHOST_VERSION_COMPATIBLE);

    /* The descriptor as the host reads it through the entry. */
    lib = entry(&host_v, NULL);
    CHECK(lib != NULL && lib->struct_size == sizeof(lhost_library));
    CHECK(lib->abi.major == LHOST_ABI_VERSION_MAJOR && lib->error == NULL);
    CHECK(lib->n_plugins == 1 && lib->plugins[0]->kind == LHOST_KIND_CALLBACK);
    CHECK(lib->plugins[0]->params[0].choices[1] != NULL &&
          strcmp(lib->plugins[0]->params[0].choices[1], "max") == 0);
    vt = (const lhost_callback_vtable *)lib->plugins[0]->vtable;
    CHECK(vt->create(NULL, NULL, NULL, &self) == LHOST_OK && self == NULL);
    CHECK(vt->on_fit_start(self, NULL) == LHOST_STOP && LHOST_STOP != LHOST_ERROR);
    CHECK(vt->on_fit_end == NULL);

    /* Parameter helpers. */
    memset(vals, 0, sizeof vals);
    vals[0].struct_size = sizeof(lhost_value);
    vals[0].type = LHOST_PARAM_ENUM;
    vals[0].name = "mode";
    vals[0].is_set = 1;
    vals[0].i = 1;
    vals[0].s = "max";
    vals[1].struct_size = sizeof(lhost_value);
    vals[1].type = LHOST_PARAM_INT;
    vals[1].name = "patience";
    vals[1].is_set = 0;
    pv.struct_size = sizeof pv;
    pv.count = 2;
    pv.values = vals;
    CHECK(lhost_param_find(&pv, "mode") == &vals[0]);
    CHECK(lhost_param_find(&pv, "nope") == NULL);
    CHECK(lhost_param_find(NULL, "mode") == NULL);
    CHECK(strcmp(lhost_param_string(&pv, "mode", "min"), "max") == 0);
    CHECK(lhost_param_int(&pv, "mode", -1) == 1);
    CHECK(lhost_param_int(&pv, "patience", 7) == 7); /* unset: the caller's default */
    CHECK(lhost_param_float(&pv, "nope", 2.5) == 2.5);
    CHECK(lhost_param_is_set(&pv, "mode") == 1 && lhost_param_is_set(&pv, "patience") == 0);

    /* LHOST_HOST_HAS: a member exists when struct_size covers it and it is non-NULL. */
    memset(&host, 0, sizeof host);
    host.struct_size = sizeof host;
    host.log = t_log;
    CHECK(LHOST_HOST_HAS(&host, log));
    CHECK(!LHOST_HOST_HAS(&host, set_error));
    host.struct_size = (uint32_t)offsetof(lhost_host, log); /* an older, shorter host */
    CHECK(!LHOST_HOST_HAS(&host, log));
    /* A 1.0 host's table ends after value_higher_is_better: no 1.1 member, even if set. */
    host.grad_norm = (int32_t(*)(lhost_ctx *, double, double *, double *))0x1;
    host.struct_size = (uint32_t)sizeof host;
    CHECK(LHOST_HOST_HAS(&host, grad_norm));
    host.struct_size = (uint32_t)(offsetof(lhost_host, value_higher_is_better) + sizeof(void *));
    CHECK(!LHOST_HOST_HAS(&host, grad_norm));

#if defined(__x86_64__) && defined(__LP64__)
    CHECK(lh_abi_layout_frozen() == 1);
#else
    printf("ABI layout freeze not checked on this target\n");
#endif

    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("SDK headers OK (%s)\n",
#ifdef __cplusplus
           "C++"
#else
           "C"
#endif
    );
    return 0;
}
