/* tests/unit/test_bare.c — SDK-free ("bare") plugins: the signature parser's errors, loading
 * fixture .so files built without the SDK (tests/bare/), and calling them through the
 * synthesized ABI structs and libffi with a scripted fake host.
 * Run: ctest --test-dir build -R test_bare --output-on-failure */
#include <check.h>
#include <dlfcn.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bare.h"

#define FIX(c) LH_BARE_FIXTURE_DIR "/" c "/" c ".so"

/* ---- a scripted host ------------------------------------------------------------------- */

typedef struct fake_host {
    lhost_trainer_state ts;
    const char *keys[8];
    double vals[8];
    int32_t n;
    char error[1024];
    char stop_reason[256];
    int32_t stops;
} fake_host;

static fake_host F;
#define CTX ((lhost_ctx *)&F)

static void fake_set(const char *key, double v)
{
    int32_t i;
    for (i = 0; i < F.n; i++)
        if (strcmp(F.keys[i], key) == 0) {
            F.vals[i] = v;
            return;
        }
    F.keys[F.n] = key;
    F.vals[F.n++] = v;
}

static void h_set_error(lhost_ctx *ctx, const char *msg)
{
    snprintf(((fake_host *)ctx)->error, sizeof F.error, "%s", msg);
}

static int32_t h_get_value(lhost_ctx *ctx, const char *key, double *out)
{
    fake_host *f = (fake_host *)ctx;
    int32_t i;
    for (i = 0; i < f->n; i++)
        if (strcmp(f->keys[i], key) == 0) {
            *out = f->vals[i];
            return LHOST_OK;
        }
    return LHOST_ENOTFOUND;
}

static int32_t h_request_stop(lhost_ctx *ctx, const char *reason)
{
    fake_host *f = (fake_host *)ctx;
    snprintf(f->stop_reason, sizeof f->stop_reason, "%s", reason);
    f->stops++;
    return LHOST_OK;
}

static int32_t h_trainer_state(lhost_ctx *ctx, lhost_trainer_state *out)
{
    uint32_t size = out->struct_size;
    memcpy(out, &((fake_host *)ctx)->ts, size < sizeof F.ts ? size : sizeof F.ts);
    out->struct_size = size;
    return LHOST_OK;
}

static int32_t h_list_values(lhost_ctx *ctx, lhost_value_visitor visit, void *user)
{
    fake_host *f = (fake_host *)ctx;
    int32_t i;
    for (i = 0; i < f->n; i++)
        if (visit(user, f->keys[i], f->vals[i]))
            break;
    return LHOST_OK;
}

static const lhost_host HOST = {
    .struct_size = sizeof(lhost_host),
    .abi = LHOST_ABI_VERSION_INIT,
    .name = "fake",
    .version = "0",
    .set_error = h_set_error,
    .get_value = h_get_value,
    .request_stop = h_request_stop,
    .trainer_state = h_trainer_state,
    .list_values = h_list_values,
};

static void fake_reset(void)
{
    memset(&F, 0, sizeof F);
    F.ts.struct_size = sizeof F.ts;
    F.ts.stage = LHOST_STAGE_FIT;
    F.ts.world_size = 1;
    F.ts.max_epochs = 10;
    F.ts.batch_idx = -1;
}

/* ---- loading helpers ------------------------------------------------------------------- */

typedef struct loaded {
    void *handle;
    lh_bare_lib *lib;
    const lhost_library *library;
} loaded;

static loaded load(const char *path, const char *stem)
{
    loaded l = {0};
    lh_error err = {{0}};
    int rc;
    l.handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(l.handle, "dlopen %s: %s", path, dlerror());
    rc = lh_bare_load(l.handle, path, stem, &l.lib, &err);
    ck_assert_msg(rc == 1, "lh_bare_load %s: rc %d: %s", path, rc, err.msg);
    l.library = lh_bare_library(l.lib);
    ck_assert_uint_eq(l.library->abi.major, LHOST_ABI_VERSION_MAJOR);
    ck_assert_ptr_null(l.library->error);
    return l;
}

static void unload(loaded *l)
{
    lh_bare_close(l->lib);
    dlclose(l->handle);
}

static const lhost_plugin_desc *find(const lhost_library *lib, const char *id)
{
    uint32_t i;
    for (i = 0; i < lib->n_plugins; i++)
        if (strcmp(lib->plugins[i]->id, id) == 0)
            return lib->plugins[i];
    ck_abort_msg("no plugin %s", id);
    return NULL;
}

/* ---- (a) malformed signatures ---------------------------------------------------------- */

static const struct {
    const char *text, *msg;
} bad[] = {
    {"on_fit_end: int f(uint8 x)",
     "bare plugin t: line 1: unsupported type 'uint8' (expected int32, int64, double, float, "
     "bool or const char *)"},
    {"on_fit_end: int f(double *x)",
     "bare plugin t: line 1: unsupported pointer type 'double *' (only const char *, "
     "const float * and const int32 * are allowed)"},
    {"on_fit_end int f()", "bare plugin t: line 1: expected ':' after 'on_fit_end', found 'int'"},
    {"on_fit_end: int f", "bare plugin t: line 1: expected '(' after 'f', found '<end>'"},
    {"on_fit_end: int f(int epoch",
     "bare plugin t: line 1: expected ',' or ')' after argument 'epoch', found '<end>'"},
    {"on_fit_end: int f(int epoch, long epoch)",
     "bare plugin t: line 1: argument 'epoch' appears twice"},
    {"on_fit_end: int f()\n# again\non_fit_end: int g()",
     "bare plugin t: line 3: hook on_fit_end declared twice (first on line 1)"},
    {"metric acc: double acc(const float *logits, const int32 *targets, int64 n)",
     "bare plugin t: line 1: metric acc: expected (const float *logits, const int32 *targets, "
     "int64 n, int32 num_classes), got 3 arguments"},
    {"metric acc: double acc(const float *scores, const int32 *targets, int64 n, int32 "
     "num_classes)",
     "bare plugin t: line 1: metric acc: argument 1: expected 'const float *logits', got "
     "'const float *scores'"},
    {"on_fit_end: double f()",
     "bare plugin t: line 1: hook on_fit_end must return int (0 continue, 1 stop, < 0 error), "
     "not double"},
    {"on_fit_end: void f()",
     "bare plugin t: line 1: hook on_fit_end must return int (0 continue, 1 stop, < 0 error), "
     "not void"},
    {"metric acc: int acc(const float *logits, const int32 *targets, int64 n, int32 "
     "num_classes)",
     "bare plugin t: line 1: metric acc must return double, not int32"},
    {"on_fit_end: int f(const char *name)",
     "bare plugin t: line 1: argument 'name': const char * binds only to 'stage'"},
    {"on_fit_end: int f(int stage)",
     "bare plugin t: line 1: argument 'stage' must be const char *"},
    {"on_fit_end: int f(const float *x)",
     "bare plugin t: line 1: argument 'x': const float * is only for metrics"},
    {"on_fit_end: int f() junk", "bare plugin t: line 1: unexpected 'junk' after the closing ')'"},
    {"on_fit_end: int f(); ;", "bare plugin t: line 1: unexpected ';' after the closing ')'"},
    {"", "bare plugin t: no declarations in its signatures"},
    {"# only a comment\n   \n", "bare plugin t: no declarations in its signatures"},
    {"on_fit_end: int f(int a1, int a2, int a3, int a4, int a5, int a6, int a7, int a8, int a9, "
     "int a10, int a11, int a12, int a13, int a14, int a15, int a16, int a17)",
     "bare plugin t: line 1: more than 16 arguments"},
    {"on_fit_end: int f(int a@)",
     "bare plugin t: line 1: expected ',' or ')' after argument 'a', found '@'"},
    {"on_fit_end: int f(int a\x01)",
     "bare plugin t: line 1: expected ',' or ')' after argument 'a', found '\\x01'"},
    {"on_fit_end: int f(const int epoch)",
     "bare plugin t: line 1: expected '*' after 'const int32', found 'epoch'"},
    {"on_fit_end: int f(const unsigned *x)",
     "bare plugin t: line 1: unsupported type 'const unsigned' (expected const char *, "
     "const float * or const int32 *)"},
    {"on_fit_end: int f(void x)", "bare plugin t: line 1: argument 1: 'void' is not a value type"},
    {"on_fit_end: int f(int)",
     "bare plugin t: line 1: argument 1: expected a name after its type, found ')'"},
    {"on_fit_end: int f(int a,)",
     "bare plugin t: line 1: expected an argument after ',', found ')'"},
    {"on_fit_end: int (int a)", "bare plugin t: line 1: expected the function's name, found '('"},
    {"metric: double f()",
     "bare plugin t: line 1: expected the metric's name after 'metric', found ':'"},
    {"1on_fit_end: int f()", "bare plugin t: line 1: expected a hook name or 'metric', found '1'"},
    {"on_fit_end:", "bare plugin t: line 1: expected a type, found the end of the line"},
    {"metric m: double m(const float *logits, const int32 *targets, int64 n, int32 num_classes)\n"
     "metric m: double m2(const float *logits, const int32 *targets, int64 n, int32 num_classes)",
     "bare plugin t: line 2: metric m declared twice (first on line 1)"},
};

START_TEST(malformed_signature_errors)
{
    lh_bare_spec *spec = malloc(sizeof *spec);
    lh_error err = {{0}};
    ck_assert_int_ge((int)(sizeof bad / sizeof bad[0]), 20);
    ck_assert_int_eq(lh_bare_parse(bad[_i].text, "t", spec, &err), -1);
    ck_assert_msg(strcmp(err.msg, bad[_i].msg) == 0, "case %d: %s\n got  %s\n want %s", _i,
                  bad[_i].text, err.msg, bad[_i].msg);
    free(spec);
}
END_TEST

/* The message lists every hook of the table (hooks.h) in its order, so it grows with the table. */
START_TEST(unknown_hook_lists_every_hook)
{
    static const char *const abi_1_0[] = {"on_fit_start", "on_train_epoch_start",
                                          "on_train_batch_end", "on_validation_end",
                                          "on_train_epoch_end", "on_fit_end"};
    lh_bare_spec *spec = malloc(sizeof *spec);
    lh_error err = {{0}};
    char want[1024];
    size_t used;
    int32_t h;
    used = (size_t)snprintf(want, sizeof want,
                            "bare plugin t: line 1: unknown hook 'on_validaton_end' (expected ");
    for (h = 0; h < LH_HOOK_COUNT; h++)
        used += (size_t)snprintf(want + used, sizeof want - used, "%s%s", h ? ", " : "",
                                 lh_dispatch_hook_name(h));
    snprintf(want + used, sizeof want - used, " or 'metric NAME')");
    ck_assert_int_eq(lh_bare_parse("on_validaton_end: int f()", "t", spec, &err), -1);
    ck_assert_str_eq(err.msg, want);
    for (h = 0; h < 6; h++) {
        char name[64];
        snprintf(name, sizeof name, " %s,", abi_1_0[h]); /* none is last: ABI 1.1 hooks follow */
        ck_assert_msg(strstr(err.msg, name) != NULL, "'%s' not in %s", name, err.msg);
    }
    free(spec);
}
END_TEST

/* Every hook of the table can be declared, once each, and formats back to what parses. */
START_TEST(every_table_hook_parses)
{
    lh_bare_spec *spec = malloc(sizeof *spec), *again = malloc(sizeof *again);
    lh_error err = {{0}};
    char text[4096] = "", line[256];
    int32_t h;
    for (h = 0; h < LH_HOOK_COUNT; h++) {
        snprintf(line, sizeof line, "%s: int f%d(int64 epoch)\n", lh_dispatch_hook_name(h), h);
        strcat(text, line);
    }
    ck_assert_msg(lh_bare_parse(text, "t", spec, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(spec->n_decls, LH_HOOK_COUNT);
    text[0] = '\0';
    for (h = 0; h < LH_HOOK_COUNT; h++) {
        char want[256];
        ck_assert_int_eq(spec->decls[h].hook, h);
        lh_bare_format_line(&spec->decls[h], line, sizeof line);
        snprintf(want, sizeof want, "%s: int32 f%d(int64 epoch)", lh_dispatch_hook_name(h), h);
        ck_assert_str_eq(line, want);
        strcat(text, line);
        strcat(text, "\n");
    }
    ck_assert_msg(lh_bare_parse(text, "t", again, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(memcmp(spec, again, sizeof *spec), 0);
    free(spec);
    free(again);
}
END_TEST

START_TEST(too_many_declarations)
{
    lh_bare_spec *spec = malloc(sizeof *spec);
    lh_error err = {{0}};
    char text[8192] = "";
    int i;
    for (i = 0; i <= LH_BARE_MAX_DECLS; i++) {
        char line[200];
        snprintf(line, sizeof line, "metric m%d: double f%d(const float *logits, const int32 "
                 "*targets, int64 n, int32 num_classes)\n", i, i);
        strcat(text, line);
    }
    ck_assert_int_eq(lh_bare_parse(text, "t", spec, &err), -1);
    ck_assert_str_eq(err.msg, "bare plugin t: line 33: more than 32 declarations");
    free(spec);
}
END_TEST

START_TEST(good_signatures_round_trip)
{
    static const char *const good =
        "on_validation_end: int stop_when(double val_acc, long epoch)  # comment\n"
        "on_fit_start: int start(void);\n"
        "on_train_batch_end: int b(bool flag, float loss, int32_t batch_idx, const char *stage)\n"
        "metric acc min: double a(const float *logits, const int *targets, int64_t n, int "
        "num_classes)\n";
    lh_bare_spec *spec = malloc(sizeof *spec), *again = malloc(sizeof *again);
    lh_error err = {{0}};
    char buf[1024], all[4096] = "";
    int32_t i;
    ck_assert_msg(lh_bare_parse(good, "t", spec, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(spec->n_decls, 4);
    lh_bare_format_line(&spec->decls[0], buf, sizeof buf);
    ck_assert_str_eq(buf, "on_validation_end: int32 stop_when(double val_acc, int64 epoch)");
    lh_bare_format_line(&spec->decls[2], buf, sizeof buf);
    ck_assert_str_eq(buf, "on_train_batch_end: int32 b(bool flag, float loss, int32 batch_idx, "
                          "const char *stage)");
    lh_bare_format_line(&spec->decls[3], buf, sizeof buf);
    ck_assert_str_eq(buf, "metric acc min: double a(const float *logits, const int32 *targets, "
                          "int64 n, int32 num_classes)");
    ck_assert_int_eq(spec->decls[3].higher_is_better, 0);
    for (i = 0; i < spec->n_decls; i++) {
        lh_bare_format_line(&spec->decls[i], buf, sizeof buf);
        strcat(all, buf);
        strcat(all, "\n");
    }
    ck_assert_msg(lh_bare_parse(all, "t", again, &err) == 0, "%s", err.msg);
    for (i = 0; i < spec->n_decls; i++)
        ck_assert_int_eq(memcmp(&spec->decls[i], &again->decls[i], sizeof spec->decls[i]), 0);
    free(spec);
    free(again);
}
END_TEST

/* ---- (b) the bare callback stops at its declared condition ----------------------------- */

/* Load `path` (a library declaring stop_when(val_acc, epoch) as its STEM.so), run epochs 0..9
 * feeding val_acc from `seq`; return the epoch at which the hook said stop. */
static int64_t run_until_stop(const char *path, const char *stem, const double *seq)
{
    loaded l = load(path, stem);
    char id[128], reason[160];
    const lhost_plugin_desc *d;
    const lhost_callback_vtable *vt;
    void *self = NULL;
    int64_t e, stopped = -1;
    snprintf(id, sizeof id, "bare.%s", stem);
    snprintf(reason, sizeof reason, "%s.stop_when returned 1", stem);
    d = find(l.library, id);
    vt = d->vtable;
    fake_reset();
    ck_assert_int_eq(vt->create(&HOST, CTX, NULL, &self), LHOST_OK);
    ck_assert_ptr_nonnull(self);
    fake_set("loss", 0.3);
    for (e = 0; e < 10; e++) {
        int32_t rc;
        F.ts.epoch = e;
        fake_set("val_acc", seq[e]);
        rc = vt->on_validation_end(self, CTX);
        ck_assert_msg(rc == LHOST_OK || rc == LHOST_STOP, "epoch %lld: rc %d: %s", (long long)e,
                      rc, F.error);
        if (rc == LHOST_STOP) {
            stopped = e;
            break;
        }
    }
    ck_assert_int_eq(F.stops, 1);
    ck_assert_str_eq(F.stop_reason, reason);
    vt->destroy(self);
    unload(&l);
    return stopped;
}

START_TEST(callback_descriptor)
{
    loaded l = load(FIX("stop_at"), "stop_at");
    const lhost_plugin_desc *d;
    const lhost_callback_vtable *vt;
    ck_assert_uint_eq(l.library->n_plugins, 1);
    d = find(l.library, "bare.stop_at");
    ck_assert_int_eq(d->kind, LHOST_KIND_CALLBACK);
    ck_assert_str_eq(d->name, "stop_at");
    ck_assert_str_eq(d->description, "SDK-free plugin stop_at.so (1 hook): on_validation_end: int32 stop_when(double val_acc, int64 epoch)");
    ck_assert_uint_eq(d->n_params, 0);
    vt = d->vtable;
    ck_assert_uint_eq(vt->struct_size, sizeof(lhost_callback_vtable));
    ck_assert_ptr_nonnull(vt->create);
    ck_assert_ptr_nonnull(vt->destroy);
    ck_assert_ptr_nonnull(vt->on_validation_end);
    ck_assert_ptr_null(vt->on_fit_start);
    ck_assert_ptr_null(vt->on_train_batch_end);
    ck_assert_ptr_null(vt->state_save);
    ck_assert_int_eq(lh_bare_lib_spec(l.lib)->n_decls, 1);
    unload(&l);
}
END_TEST

START_TEST(callback_stops_on_val_acc)
{
    static const double seq[10] = {0.40, 0.81, 0.951, 0.97, 0.99, 1, 1, 1, 1, 1};
    ck_assert_int_eq(run_until_stop(FIX("stop_at"), "stop_at", seq), 2);
}
END_TEST

START_TEST(callback_stops_on_epoch)
{
    static const double seq[10] = {0.40, 0.50, 0.60, 0.70, 0.80, 0.9, 0.9, 0.9, 0.9, 0.9};
    ck_assert_int_eq(run_until_stop(FIX("stop_at"), "stop_at", seq), 3);
}
END_TEST

START_TEST(callback_unlogged_argument)
{
    loaded l = load(FIX("stop_at"), "stop_at");
    const lhost_callback_vtable *vt = find(l.library, "bare.stop_at")->vtable;
    void *self = NULL;
    fake_reset();
    fake_set("loss", 0.3);
    fake_set("val_loss", 0.4);
    ck_assert_int_eq(vt->create(&HOST, CTX, NULL, &self), LHOST_OK);
    ck_assert_int_eq(vt->on_validation_end(self, CTX), LHOST_ERROR);
    ck_assert_str_eq(F.error, "on_validation_end: argument 'val_acc': no value logged under that "
                              "name (logged: loss, val_loss)");
    vt->destroy(self);
    unload(&l);
}
END_TEST

/* Every argument type through libffi, checked against what the function recorded. */
START_TEST(callback_argument_types)
{
    loaded l = load(FIX("calls"), "calls");
    const lhost_callback_vtable *vt = find(l.library, "bare.calls")->vtable;
    void *self = NULL;
    ck_assert_str_eq(find(l.library, "bare.calls")->description,
                     "SDK-free plugin calls.so (2 hooks): on_train_epoch_end: int32 seen(int32 epoch, int64 global_step, double val_acc, float loss, bool flag, const char *stage, int32 world_size, float batch_idx); on_fit_end: int32 code(int32 wanted)");
    fake_reset();
    F.ts.epoch = 7;
    F.ts.global_step = 5000000000LL;
    F.ts.world_size = 4;
    F.ts.batch_idx = 12;
    F.ts.stage = LHOST_STAGE_VALIDATE;
    fake_set("val_acc", 0.8125);
    fake_set("loss", 1.5);
    fake_set("flag", 0.25);
    ck_assert_int_eq(vt->create(&HOST, CTX, NULL, &self), LHOST_OK);
    ck_assert_msg(vt->on_train_epoch_end(self, CTX) == LHOST_OK, "%s", F.error);
    ck_assert_int_eq(*(int32_t *)dlsym(l.handle, "seen_calls"), 1);
    ck_assert_int_eq(*(int32_t *)dlsym(l.handle, "seen_epoch"), 7);
    ck_assert(*(int64_t *)dlsym(l.handle, "seen_global_step") == 5000000000LL);
    ck_assert(*(double *)dlsym(l.handle, "seen_val_acc") == 0.8125);
    ck_assert(*(float *)dlsym(l.handle, "seen_loss") == 1.5f);
    ck_assert(*(bool *)dlsym(l.handle, "seen_flag") == true);
    ck_assert_str_eq((char *)dlsym(l.handle, "seen_stage"), "validate");
    ck_assert_int_eq(*(int32_t *)dlsym(l.handle, "seen_world_size"), 4);
    ck_assert(*(float *)dlsym(l.handle, "seen_batch_idx") == 12.0f);
    vt->destroy(self);
    unload(&l);
}
END_TEST

/* on_fit_end: int code(int32 wanted) returns the logged value `wanted`. */
START_TEST(callback_return_codes)
{
    static const struct {
        double wanted;
        int32_t rc;
        const char *error;
    } cases[] = {
        {0, LHOST_OK, ""},
        {-0.9, LHOST_OK, ""}, /* rounded toward zero */
        {1.7, LHOST_STOP, ""},
        {-3, LHOST_ERROR, "code returned -3"},
        {7, LHOST_ERROR, "code returned 7 (expected 0, 1 or < 0)"},
        {NAN, LHOST_ERROR, "on_fit_end: argument 'wanted': value nan does not fit int32"},
        {3e9, LHOST_ERROR, "on_fit_end: argument 'wanted': value 3e+09 does not fit int32"},
    };
    loaded l = load(FIX("calls"), "calls");
    const lhost_callback_vtable *vt = find(l.library, "bare.calls")->vtable;
    void *self = NULL;
    size_t i;
    fake_reset();
    ck_assert_int_eq(vt->create(&HOST, CTX, NULL, &self), LHOST_OK);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        F.error[0] = 0;
        F.stops = 0;
        fake_set("wanted", cases[i].wanted);
        ck_assert_int_eq(vt->on_fit_end(self, CTX), cases[i].rc);
        ck_assert_str_eq(F.error, cases[i].error);
        ck_assert_int_eq(F.stops, cases[i].rc == LHOST_STOP);
    }
    ck_assert_str_eq(F.stop_reason, "calls.code returned 1");
    vt->destroy(self);
    unload(&l);
}
END_TEST

/* ---- (c) the bare metric equals a reference accuracy ----------------------------------- */

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* Drive a metric's synthesized vtable over `nb` batches of sizes `sizes`; return compute(). */
static double run_metric(const lhost_metric_vtable *vt, const int64_t *sizes, int32_t nb,
                         int32_t k, int64_t *correct_out, int64_t *total_out)
{
    const lhost_state_decl *decls = NULL;
    uint32_t n_decls = 0, n_out = 0;
    double sum = 0, count = 0, out = -1;
    void *bufs[2] = {&sum, &count};
    lhost_metric_state st = {.struct_size = sizeof st, .count = 2, .buffers = bufs};
    void *self = NULL;
    int32_t b;
    *correct_out = *total_out = 0;
    ck_assert_int_eq(vt->create(&HOST, CTX, NULL, &self), LHOST_OK);
    ck_assert_int_eq(vt->state_layout(self, &decls, &n_decls, &n_out), LHOST_OK);
    ck_assert_uint_eq(n_decls, 2);
    ck_assert_uint_eq(n_out, 1);
    ck_assert_str_eq(decls[0].name, "sum");
    ck_assert_str_eq(decls[1].name, "count");
    ck_assert_int_eq(decls[0].dtype, LHOST_DTYPE_F64);
    ck_assert_int_eq(decls[1].reduction, LHOST_REDUCE_SUM);
    ck_assert_uint_eq(decls[1].length, 1);
    ck_assert_int_eq(vt->compute(self, CTX, &st, &out), LHOST_OK);
    ck_assert(isnan(out)); /* nothing seen yet */
    for (b = 0; b < nb; b++) {
        int64_t n = sizes[b], i;
        float *scores = malloc(sizeof(float) * (size_t)(n * k + 1));
        int32_t *targets = malloc(sizeof(int32_t) * (size_t)(n + 1));
        lhost_metric_batch batch = {sizeof batch, n, k, 0, scores, targets};
        for (i = 0; i < n * k; i++)
            scores[i] = (float)(uniform() * 4 - 2);
        for (i = 0; i < n; i++) {
            int32_t c, best = 0;
            targets[i] = (int32_t)(uniform() * k);
            if (uniform() < 0.6) /* make ~60% right so the value is not trivial */
                scores[i * k + targets[i]] = 10;
            for (c = 1; c < k; c++)
                if (scores[i * k + c] > scores[i * k + best])
                    best = c;
            *correct_out += best == targets[i];
        }
        *total_out += n;
        ck_assert_msg(vt->update(self, CTX, &st, &batch) == LHOST_OK, "%s", F.error);
        free(scores);
        free(targets);
    }
    ck_assert_int_eq(vt->compute(self, CTX, &st, &out), LHOST_OK);
    ck_assert(count == (double)*total_out);
    vt->destroy(self);
    return out;
}

START_TEST(metric_matches_reference_accuracy)
{
    static const int64_t sizes[] = {64, 64, 17, 1, 0, 100, 33};
    loaded l = load(FIX("top1"), "top1");
    const lhost_plugin_desc *d;
    const lhost_metric_vtable *vt;
    int64_t correct, total;
    double got, want;
    ck_assert_uint_eq(l.library->n_plugins, 1);
    d = find(l.library, "bare.top1.top1");
    ck_assert_int_eq(d->kind, LHOST_KIND_METRIC);
    ck_assert_str_eq(d->name, "top1");
    vt = d->vtable;
    ck_assert_int_eq(vt->higher_is_better, 1);
    fake_reset();
    got = run_metric(vt, sizes, 7, 10, &correct, &total);
    want = (double)correct / (double)total;
    ck_assert_msg(fabs(got - want) <= 1e-12, "bare top1 %.15f, reference %.15f (%lld / %lld)",
                  got, want, (long long)correct, (long long)total);
    ck_assert(want > 0.3 && want < 0.9);
    unload(&l);
}
END_TEST

/* ---- the Rust example (examples/bare_rust), run by the bare_rust_example test ----------- */

/* LH_BARE_RUST_SO is the cargo-built library, copied as stop_at_rs.so. */
START_TEST(rust_example)
{
    static const double seq[10] = {0.40, 0.96, 0.97, 0.99, 1, 1, 1, 1, 1, 1};
    static const int64_t sizes[] = {64, 7, 100};
    const char *so = getenv("LH_BARE_RUST_SO");
    loaded l;
    const lhost_plugin_desc *m;
    int64_t correct, total;
    double got;
    ck_assert_int_eq(run_until_stop(so, "stop_at_rs", seq), 1);
    l = load(so, "stop_at_rs");
    ck_assert_uint_eq(l.library->n_plugins, 2);
    m = find(l.library, "bare.stop_at_rs.top1");
    fake_reset();
    got = run_metric(m->vtable, sizes, 3, 10, &correct, &total);
    ck_assert_msg(fabs(got - (double)correct / (double)total) <= 1e-12,
                  "rust top1 %.15f vs %lld / %lld", got, (long long)correct, (long long)total);
    unload(&l);
}
END_TEST

/* ---- (d) sidecar manifest -------------------------------------------------------------- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = calloc(1, 65536);
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_gt(fread(buf, 1, 65535, f), 0);
    fclose(f);
    return buf;
}

START_TEST(sidecar_manifest)
{
    void *h = dlopen(FIX("sidecar"), RTLD_NOW | RTLD_LOCAL);
    char *text = NULL, *want = slurp(LH_BARE_FIXTURE_DIR "/sidecar/sidecar.lhost");
    lh_error err = {{0}};
    loaded l;
    const lhost_plugin_desc *cb, *m;
    const lhost_callback_vtable *cvt;
    void *self = NULL;
    int64_t correct, total;
    static const int64_t sizes[] = {5, 9};
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(lh_bare_signatures_for(h, FIX("sidecar"), &text, &err), 1);
    ck_assert_str_eq(text, want);
    free(text);
    free(want);
    dlclose(h);

    l = load(FIX("sidecar"), "sidecar");
    ck_assert_uint_eq(l.library->n_plugins, 2);
    cb = find(l.library, "bare.sidecar");
    m = find(l.library, "bare.sidecar.half");
    ck_assert_str_eq(m->name, "half");
    ck_assert_int_eq(((const lhost_metric_vtable *)m->vtable)->higher_is_better, 0);
    fake_reset();
    ck_assert_double_eq(run_metric(m->vtable, sizes, 2, 3, &correct, &total), 0.5);
    cvt = cb->vtable;
    ck_assert_ptr_nonnull(cvt->on_train_epoch_start);
    ck_assert_int_eq(cvt->create(&HOST, CTX, NULL, &self), LHOST_OK);
    F.ts.max_epochs = 3;
    F.ts.epoch = 1;
    ck_assert_int_eq(cvt->on_train_epoch_start(self, CTX), LHOST_OK);
    F.ts.epoch = 2;
    ck_assert_int_eq(cvt->on_train_epoch_start(self, CTX), LHOST_STOP);
    ck_assert_str_eq(F.stop_reason, "sidecar.every_epoch returned 1");
    cvt->destroy(self);
    unload(&l);
}
END_TEST

START_TEST(not_a_bare_plugin)
{
    char *text = (char *)"x";
    lh_error err = {{0}};
    lh_bare_lib *lib = (lh_bare_lib *)&err;
    ck_assert_int_eq(lh_bare_signatures_for(NULL, LH_BARE_FIXTURE_DIR "/nowhere/x.so", &text,
                                            &err), 0);
    ck_assert_ptr_null(text);
    ck_assert_int_eq(lh_bare_load(NULL, LH_BARE_FIXTURE_DIR "/nowhere/x.so", "x", &lib, &err),
                     0);
    ck_assert_ptr_null(lib);
}
END_TEST

START_TEST(unreadable_manifest)
{
    char dir[] = "/tmp/lh_bare_XXXXXX", so[128], side[128];
    char *text = NULL;
    lh_error err = {{0}};
    FILE *f;
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(so, sizeof so, "%s/odd.so", dir);
    snprintf(side, sizeof side, "%s/odd.lhost", dir);
    ck_assert_int_eq(mkdir(side, 0700), 0); /* a directory where the manifest should be */
    ck_assert_int_eq(lh_bare_signatures_for(NULL, so, &text, &err), -1);
    ck_assert_msg(strstr(err.msg, "odd.lhost: not a regular file") != NULL, "%s", err.msg);
    ck_assert_int_eq(rmdir(side), 0);
    f = fopen(side, "wb"); /* a NUL byte inside */
    ck_assert_ptr_nonnull(f);
    fwrite("on_fit_end: int f()\0x\n", 1, 22, f);
    fclose(f);
    ck_assert_int_eq(lh_bare_signatures_for(NULL, so, &text, &err), -1);
    ck_assert_msg(strstr(err.msg, "odd.lhost: contains a NUL byte") != NULL, "%s", err.msg);
    ck_assert_int_eq(unlink(side), 0);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* ---- (e) missing symbol, malformed library --------------------------------------------- */

START_TEST(missing_symbol)
{
    void *h = dlopen(FIX("missing_symbol"), RTLD_NOW | RTLD_LOCAL);
    lh_bare_lib *lib = NULL;
    lh_error err = {{0}};
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(lh_bare_load(h, FIX("missing_symbol"), "missing_symbol", &lib, &err), -1);
    ck_assert_ptr_null(lib);
    ck_assert_str_eq(err.msg, "bare plugin missing_symbol: line 2: symbol 'stop_whenn' not "
                              "found in missing_symbol.so");
    dlclose(h);
}
END_TEST

START_TEST(malformed_library)
{
    void *h = dlopen(FIX("malformed"), RTLD_NOW | RTLD_LOCAL);
    lh_bare_lib *lib = NULL;
    lh_error err = {{0}};
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(lh_bare_load(h, FIX("malformed"), "malformed", &lib, &err), -1);
    ck_assert_str_eq(err.msg, "bare plugin malformed: line 2: argument 1: expected a name after "
                              "its type, found ')'");
    dlclose(h);
}
END_TEST

/* ---- (g) each hook of the table through a synthesized vtable --------------------------- */

/* Call vt's member for `hook` with its kind's arguments; -99 for no hook. */
static int32_t call_member(const lhost_callback_vtable *vt, int32_t hook, void *self,
                           const lhost_batch_info *b)
{
    switch (hook) {
#define CALL_CTX(member) vt->member(self, CTX)
#define CALL_BATCH(member) vt->member(self, CTX, b)
#define CASE(ID, member, KIND)                                                                 \
    case LH_HOOK_##ID: return CALL_##KIND(member);
        LH_HOOK_MAP(CASE)
#undef CASE
#undef CALL_BATCH
#undef CALL_CTX
    }
    return -99;
}

/* A library declaring hook _i alone, as calls.so's code(int32 batch_idx) (which returns its
 * argument): the synthesized vtable has that member and no other hook, and batch_idx binds to
 * the batch info for hooks that take one (1: stop) and to the trainer state for the others
 * (0: continue). */
START_TEST(each_table_hook_binds)
{
    void *h = dlopen(FIX("calls"), RTLD_NOW | RTLD_LOCAL);
    lh_bare_spec *spec = malloc(sizeof *spec);
    lh_bare_lib *lib = NULL;
    lh_error err = {{0}};
    lhost_batch_info b = {.struct_size = sizeof b, .batch_idx = 1, .batch_size = 64, .loss = 0.5};
    const lhost_callback_vtable *vt;
    char text[128];
    void *self = NULL;
    int32_t k, takes_batch = lh_dispatch_hook_kind(_i) == LH_HOOK_KIND_BATCH;
    ck_assert_ptr_nonnull(h);
    snprintf(text, sizeof text, "%s: int code(int32 batch_idx)\n", lh_dispatch_hook_name(_i));
    ck_assert_msg(lh_bare_parse(text, "calls", spec, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(spec->decls[0].hook, _i);
    ck_assert_msg(lh_bare_open(h, "calls", spec, &lib, &err) == 0, "%s", err.msg);
    vt = find(lh_bare_library(lib), "bare.calls")->vtable;
    for (k = 0; k < LH_HOOK_COUNT; k++)
        ck_assert_msg(lh_dispatch_implements(vt, k) == (k == _i), "declared %s, has %s: %d",
                      lh_dispatch_hook_name(_i), lh_dispatch_hook_name(k),
                      (int)lh_dispatch_implements(vt, k));
    fake_reset();
    F.ts.batch_idx = 0;
    ck_assert_int_eq(vt->create(&HOST, CTX, NULL, &self), LHOST_OK);
    ck_assert_msg(call_member(vt, _i, self, &b) == (takes_batch ? LHOST_STOP : LHOST_OK),
                  "%s: %s", lh_dispatch_hook_name(_i), F.error);
    ck_assert_int_eq(F.stops, takes_batch);
    vt->destroy(self);
    lh_bare_close(lib);
    dlclose(h);
    free(spec);
}
END_TEST

/* ---- (f) argument names that bind to nothing ------------------------------------------- */

START_TEST(unknown_argument_name)
{
    static const char *const keys[] = {"loss", "train_loss", "val_loss", "acc", "val_acc"};
    lh_bare_spec *spec = malloc(sizeof *spec);
    lh_error err = {{0}};
    ck_assert_int_eq(lh_bare_parse("on_fit_start: int s(const char *stage)\n"
                                   "on_validation_end: int f(int64 epoch, double val_acuracy)\n",
                                   "stop_at", spec, &err), 0);
    ck_assert_int_eq(lh_bare_check_names(spec, keys, 5, "stop_at", &err), -1);
    ck_assert_str_eq(err.msg, "bare plugin stop_at: line 2: argument 'val_acuracy' binds to "
                              "nothing (trainer fields: epoch, global_step, batch_idx, rank, "
                              "world_size, max_epochs, stage; logged values: loss, train_loss, "
                              "val_loss, acc, val_acc)");
    ck_assert_int_eq(lh_bare_check_names(spec, keys, 0, "stop_at", &err), -1);
    ck_assert_msg(strstr(err.msg, "logged values: none)") != NULL, "%s", err.msg);
    ck_assert_int_eq(lh_bare_parse("on_validation_end: int f(int64 epoch, double val_acc)\n"
                                   "metric m: double m(const float *logits, const int32 "
                                   "*targets, int64 n, int32 num_classes)\n",
                                   "stop_at", spec, &err), 0);
    ck_assert_int_eq(lh_bare_check_names(spec, keys, 5, "stop_at", &err), 0);
    free(spec);
}
END_TEST

static Suite *bare_suite(void)
{
    Suite *s = suite_create("bare");
    TCase *parse = tcase_create("parse"), *call = tcase_create("call"),
          *load_tc = tcase_create("load");
    tcase_add_loop_test(parse, malformed_signature_errors, 0, (int)(sizeof bad / sizeof bad[0]));
    tcase_add_test(parse, unknown_hook_lists_every_hook);
    tcase_add_test(parse, every_table_hook_parses);
    tcase_add_test(parse, too_many_declarations);
    tcase_add_test(parse, good_signatures_round_trip);
    tcase_add_test(parse, unknown_argument_name);
    tcase_add_test(call, callback_descriptor);
    tcase_add_test(call, callback_stops_on_val_acc);
    tcase_add_test(call, callback_stops_on_epoch);
    tcase_add_test(call, callback_unlogged_argument);
    tcase_add_test(call, callback_argument_types);
    tcase_add_test(call, callback_return_codes);
    tcase_add_test(call, metric_matches_reference_accuracy);
    tcase_add_loop_test(call, each_table_hook_binds, 0, LH_HOOK_COUNT);
    tcase_add_test(load_tc, sidecar_manifest);
    tcase_add_test(load_tc, not_a_bare_plugin);
    tcase_add_test(load_tc, unreadable_manifest);
    tcase_add_test(load_tc, missing_symbol);
    tcase_add_test(load_tc, malformed_library);
    suite_add_tcase(s, parse);
    suite_add_tcase(s, call);
    suite_add_tcase(s, load_tc);
    if (getenv("LH_BARE_RUST_SO")) {
        TCase *rust = tcase_create("rust");
        tcase_add_test(rust, rust_example);
        suite_add_tcase(s, rust);
    }
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bare_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
