/* tests/unit/test_backend_select.c — trainer.device parsing, the CUDA module's loading and its
 * failure messages (including backend tables of another version or size: the fixture modules
 * of tests/cuda/fixture_backend.c), and auto's fallback to the CPU.
 * Run: ctest --test-dir build -R test_backend_select --output-on-failure */
#include <check.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"

/* The op list of table version 1 (op_list_matches_its_version). */
#define OP_LIST_V1 0x6e578019a128c955ull
#define OP_LIST_V2 0x620af52f46003f3dull
#define OP_LIST_V3 0xf075baa8fc4700d8ull
#define MISSING_MODULE "/nonexistent-lhost-dir/liblhost_cuda.so"

static void assert_one_line(const lh_error *err)
{
    ck_assert_msg(err->msg[0] != '\0', "empty error message");
    ck_assert_msg(strchr(err->msg, '\n') == NULL, "multi-line error: %s", err->msg);
}

START_TEST(bad_strings_are_refused)
{
    static const char *const bad[] = {"xyz", "", "gpu", "cuda:", "cuda:-1", "cuda:1x", "CPU",
                                      "cuda:99999999999", "cuda0", "auto "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const lh_backend *be = NULL;
        lh_backend_ctx *ctx = NULL;
        lh_error err = {{0}};
        char want[256];
        ck_assert_int_eq(lh_backend_select(bad[i], 1, &be, &ctx, &err), -1);
        snprintf(want, sizeof want, "trainer.device: expected auto, cpu, cuda or cuda:N, got \"%s\"",
                 bad[i]);
        ck_assert_str_eq(err.msg, want);
        ck_assert_ptr_null(ctx);
    }
}
END_TEST

START_TEST(cpu_is_the_cpu_backend)
{
    const lh_backend *be = NULL;
    lh_backend_ctx *ctx = NULL;
    lh_error err = {{0}};
    ck_assert_msg(lh_backend_select("cpu", 1, &be, &ctx, &err) == 0, "%s", err.msg);
    ck_assert_ptr_eq(be, lh_cpu_backend());
    ck_assert_ptr_nonnull(ctx);
    be->close(ctx);
}
END_TEST

START_TEST(missing_module_is_a_clear_error)
{
    const lh_backend *be = NULL;
    lh_backend_ctx *ctx = NULL;
    lh_error err = {{0}};
    setenv("LHOST_CUDA_MODULE", MISSING_MODULE, 1);
    ck_assert_int_eq(lh_backend_select("cuda", 1, &be, &ctx, &err), -1);
    assert_one_line(&err);
    ck_assert_msg(strncmp(err.msg, "device cuda: CUDA module " MISSING_MODULE ": ",
                          strlen("device cuda: CUDA module " MISSING_MODULE ": ")) == 0,
                  "got: %s", err.msg);
    ck_assert_int_eq(lh_backend_select("cuda:3", 1, &be, &ctx, &err), -1);
    ck_assert_msg(strncmp(err.msg, "device cuda:3: ", 15) == 0, "got: %s", err.msg);
    ck_assert_ptr_null(ctx);
}
END_TEST

START_TEST(auto_falls_back_to_cpu_without_module)
{
    const lh_backend *be = NULL;
    lh_backend_ctx *ctx = NULL;
    lh_error err = {{0}};
    setenv("LHOST_CUDA_MODULE", MISSING_MODULE, 1);
    ck_assert_msg(lh_backend_select("auto", 1, &be, &ctx, &err) == 0, "%s", err.msg);
    ck_assert_ptr_eq(be, lh_cpu_backend());
    be->close(ctx);
}
END_TEST

START_TEST(broken_module_is_a_clear_error)
{
    char path[] = "/tmp/lhost-not-a-module-XXXXXX";
    const lh_backend *be = NULL;
    lh_backend_ctx *ctx = NULL;
    lh_error err = {{0}};
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "not an ELF file\n", 16), 16);
    close(fd);
    setenv("LHOST_CUDA_MODULE", path, 1);
    ck_assert_int_eq(lh_backend_select("cuda", 1, &be, &ctx, &err), -1);
    unlink(path);
    assert_one_line(&err);
    ck_assert_msg(strstr(err.msg, path) != NULL, "path not named: %s", err.msg);
    ck_assert_msg(lh_backend_select("auto", 1, &be, &ctx, &err) == 0, "%s", err.msg);
    ck_assert_ptr_eq(be, lh_cpu_backend());
    be->close(ctx);
}
END_TEST

START_TEST(build_tree_module_path)
{
    char path[4096];
    unsetenv("LHOST_CUDA_MODULE");
    lh_backend_cuda_module_path(path, sizeof path);
    ck_assert_str_eq(path, LH_MODULE_BUILD_DIR "/liblhost_cuda.so");
}
END_TEST

/* The real module: with a GPU "cuda" opens it; without one (or without nvcc at build time) the
 * error is one line naming the device, and auto falls back to the CPU. */
START_TEST(real_module_opens_or_explains)
{
    const lh_backend *be = NULL;
    lh_backend_ctx *ctx = NULL;
    lh_error err = {{0}};
    unsetenv("LHOST_CUDA_MODULE");
    if (lh_backend_select("cuda", 1, &be, &ctx, &err) == 0) {
        ck_assert_str_eq(be->name, "cuda");
        ck_assert_msg(strncmp(be->describe(ctx), "cuda:0: ", 8) == 0, "%s", be->describe(ctx));
        printf("cuda opened: %s\n", be->describe(ctx));
        be->close(ctx);
        ck_assert_int_eq(lh_backend_select("auto", 1, &be, &ctx, &err), 0);
        ck_assert_str_eq(be->name, "cuda");
        be->close(ctx);
        return;
    }
    printf("cuda refused, as expected without a GPU: %s\n", err.msg);
    assert_one_line(&err);
    ck_assert_msg(strncmp(err.msg, "device cuda: ", 13) == 0, "got: %s", err.msg);
    if (access(LH_MODULE_BUILD_DIR "/liblhost_cuda.so", F_OK) == 0)
        ck_assert_msg(strstr(err.msg, "CUDA") != NULL, "reason does not mention CUDA: %s",
                      err.msg);
    ck_assert_msg(lh_backend_select("auto", 1, &be, &ctx, &err) == 0, "%s", err.msg);
    ck_assert_ptr_eq(be, lh_cpu_backend());
    be->close(ctx);
}
END_TEST

/* ---- versioned tables: fixture modules that break one rule each ------------------------- */

/* Load fixture `kind` as the CUDA module: refused with exactly "device cuda: CUDA module <path>: "
 * and the formatted rest; auto then falls back to the CPU. */
static void assert_refused(const char *kind, const char *want_fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void assert_refused(const char *kind, const char *want_fmt, ...)
{
    char path[1024], want[512], full[2048];
    const lh_backend *be = NULL;
    lh_backend_ctx *ctx = NULL;
    lh_error err = {{0}};
    va_list ap;
    snprintf(path, sizeof path, "%s/%s.so", LH_BACKEND_FIXTURE_DIR, kind);
    va_start(ap, want_fmt);
    vsnprintf(want, sizeof want, want_fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "device cuda: CUDA module %s: %s", path, want);
    setenv("LHOST_CUDA_MODULE", path, 1);
    ck_assert_int_eq(lh_backend_select("cuda", 1, &be, &ctx, &err), -1);
    assert_one_line(&err);
    ck_assert_str_eq(err.msg, full);
    ck_assert_ptr_null(ctx);
    /* auto still gets a working backend */
    ck_assert_msg(lh_backend_select("auto", 1, &be, &ctx, &err) == 0, "%s", err.msg);
    ck_assert_ptr_eq(be, lh_cpu_backend());
    be->close(ctx);
}

START_TEST(newer_table_is_refused)
{
    assert_refused("newer", "backend table version %u, this lhost needs %u",
                   LH_BACKEND_VERSION + 1, LH_BACKEND_VERSION);
}
END_TEST

START_TEST(older_table_is_refused)
{
    assert_refused("older", "backend table version %u, this lhost needs %u",
                   LH_BACKEND_VERSION - 1, LH_BACKEND_VERSION);
}
END_TEST

/* Only struct_size and version: the page after them is unreadable, so reading name or open
 * would crash this test. */
START_TEST(small_table_is_not_read_past_its_end)
{
    assert_refused("small", "backend table version %u of 8 bytes, this lhost's is %zu bytes "
                   "(module and lhost built from different sources)", LH_BACKEND_VERSION,
                   sizeof(lh_backend));
}
END_TEST

START_TEST(table_without_required_ops_is_refused)
{
    assert_refused("no_ops", "backend table has no %s, which every backend must have",
                   lh_backend_op_name(0));
}
END_TEST

/* A module from before versioned tables: its first field is the name pointer. Its low half
 * reads as a huge struct_size (refused as unversioned), or, with odds of 1 in 65536, as a
 * plausible one (then refused for its version, the pointer's high half): refused either way,
 * naming the version this lhost needs. */
START_TEST(unversioned_table_is_refused)
{
    char path[1024], prefix[1100], needs[64];
    const lh_backend *be = NULL;
    lh_backend_ctx *ctx = NULL;
    lh_error err = {{0}};
    snprintf(path, sizeof path, "%s/unversioned.so", LH_BACKEND_FIXTURE_DIR);
    snprintf(prefix, sizeof prefix, "device cuda: CUDA module %s: backend table ", path);
    snprintf(needs, sizeof needs, "this lhost needs version %u", LH_BACKEND_VERSION);
    setenv("LHOST_CUDA_MODULE", path, 1);
    ck_assert_int_eq(lh_backend_select("cuda", 1, &be, &ctx, &err), -1);
    assert_one_line(&err);
    printf("unversioned: %s\n", err.msg);
    ck_assert_msg(strncmp(err.msg, prefix, strlen(prefix)) == 0, "got: %s", err.msg);
    ck_assert_msg(strstr(err.msg, "has no version") || strstr(err.msg, "this lhost needs"),
                  "got: %s", err.msg);
    if (strstr(err.msg, "has no version"))
        ck_assert_msg(strstr(err.msg, needs) != NULL, "got: %s", err.msg);
    ck_assert_ptr_null(ctx);
}
END_TEST

/* The tables lhost itself builds follow the rules the host checks. */
START_TEST(cpu_table_is_versioned)
{
    const lh_backend *be = lh_cpu_backend();
    ck_assert_uint_eq(be->struct_size, sizeof(lh_backend));
    ck_assert_uint_eq(be->version, LH_BACKEND_VERSION);
#define ASSERT_REQUIRED(name, kind, params, args)                                                \
    ck_assert_msg(!LH_BACKEND_REQUIRED(kind) || be->name, "cpu backend lacks " #name);
    LH_BACKEND_OPS(ASSERT_REQUIRED)
#undef ASSERT_REQUIRED
}
END_TEST

/* The op list as text (name, kind, parameters) under each table version: a module built from
 * another list has another layout, so changing LH_BACKEND_OPS without raising
 * LH_BACKEND_VERSION would let the host call into a table it misreads. When this fails, raise
 * the version in kernels/backend.h and add the new version's hash below (parameter names are in
 * the text too: renaming one asks for a bump it does not strictly need). */
static uint64_t op_list_hash(void)
{
    static const char *const entries[] = {
#define OP_TEXT(name, kind, params, args) #name " " #kind " " #params,
        LH_BACKEND_OPS(OP_TEXT)
#undef OP_TEXT
    };
    uint64_t h = 1469598103934665603ull; /* FNV-1a, 64 bits */
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++)
        for (const char *c = entries[i]; ; c++) {
            h = (h ^ (unsigned char)*c) * 1099511628211ull;
            if (!*c)
                break;
        }
    return h;
}

START_TEST(op_list_matches_its_version)
{
    static const struct {
        uint32_t version;
        uint64_t hash;
    } known[] = {
        {1, OP_LIST_V1},
        {2, OP_LIST_V2},
        {3, OP_LIST_V2}, /* the collectives were added after the ops, not in their list */
        {4, OP_LIST_V3}, /* the gradient norm ops */
        {5, OP_LIST_V3}, /* lh_adam_args grew its exact scalars */
        {6, OP_LIST_V3}, /* configure appended */
        {7, OP_LIST_V3}, /* configure's precision takes LH_PRECISION_FLAG_TF32 */
    };
    uint64_t h = op_list_hash();
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (known[i].version == LH_BACKEND_VERSION) {
            ck_assert_msg(known[i].hash == h,
                          "LH_BACKEND_OPS changed (hash 0x%016llx) but LH_BACKEND_VERSION is "
                          "still %u (hash 0x%016llx): raise the version and record its hash",
                          (unsigned long long)h, (unsigned)LH_BACKEND_VERSION,
                          (unsigned long long)known[i].hash);
            return;
        }
    ck_abort_msg("LH_BACKEND_VERSION %u has no recorded op-list hash; this one is 0x%016llx",
                 (unsigned)LH_BACKEND_VERSION, (unsigned long long)h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("backend_select");
    TCase *tc = tcase_create("select");
    SRunner *sr;
    int failed;
    tcase_add_test(tc, bad_strings_are_refused);
    tcase_add_test(tc, cpu_is_the_cpu_backend);
    tcase_add_test(tc, missing_module_is_a_clear_error);
    tcase_add_test(tc, auto_falls_back_to_cpu_without_module);
    tcase_add_test(tc, broken_module_is_a_clear_error);
    tcase_add_test(tc, build_tree_module_path);
    tcase_add_test(tc, real_module_opens_or_explains);
    tcase_add_test(tc, newer_table_is_refused);
    tcase_add_test(tc, older_table_is_refused);
    tcase_add_test(tc, small_table_is_not_read_past_its_end);
    tcase_add_test(tc, table_without_required_ops_is_refused);
    tcase_add_test(tc, unversioned_table_is_refused);
    tcase_add_test(tc, cpu_table_is_versioned);
    tcase_add_test(tc, op_list_matches_its_version);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
