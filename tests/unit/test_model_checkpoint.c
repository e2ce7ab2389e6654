/* tests/unit/test_model_checkpoint.c — the model_checkpoint.so reference plugin driven by
 * scripted metric sequences through the fake host (tests/unit/fake_host.h); each test checks
 * the exact set of files left in a scratch dirpath under the build tree.
 * Run: ctest --test-dir build -R test_model_checkpoint --output-on-failure */
#include <check.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_host.h"
#include "check_run.h"

static fh_plugin P;
static fh_params PV;
static char TMP[PATH_MAX];     /* scratch folder, removed after each test */
static char DIRPATH[PATH_MAX + 32]; /* TMP/ck */
static char DIRARG[PATH_MAX + 64];

static void setup(void)
{
    fh_reset();
    fh_tmpdir(TMP, sizeof TMP);
    ck_assert_msg(TMP[0], "mkdtemp failed");
    snprintf(DIRPATH, sizeof DIRPATH, "%s/ck", TMP);
    snprintf(DIRARG, sizeof DIRARG, "dirpath=%s", DIRPATH);
}

static void teardown(void) { fh_rmtree(TMP); }

/* Create an instance from NULL-terminated "key=value" strings (dirpath= is added unless one
 * is given) and run on_fit_start. Returns NULL when create fails (error in fh.error). */
static void *mc_try(const char *first, va_list ap)
{
    const char *kv[FH_MAX_PARAMS + 2];
    char err[512];
    void *self = NULL;
    int n = 0, has_dir = 0;
    for (const char *s = first; s && n < FH_MAX_PARAMS; s = va_arg(ap, const char *)) {
        has_dir |= strncmp(s, "dirpath=", 8) == 0;
        kv[n++] = s;
    }
    if (!has_dir)
        kv[n++] = DIRARG;
    kv[n] = NULL;
    ck_assert_int_eq(fh_load(&P, "model_checkpoint.so"), 0);
    ck_assert_msg(fh_params_build(&PV, P.desc, kv, err, sizeof err) == 0, "%s", err);
    if (P.vt->create(&fh_host, FH_CTX, &PV.pv, &self) != LHOST_OK)
        return NULL;
    ck_assert_int_eq(P.vt->on_fit_start(self, FH_CTX), LHOST_OK);
    return self;
}

static void *mc_new(const char *first, ...)
{
    va_list ap;
    void *self;
    va_start(ap, first);
    self = mc_try(first, ap);
    va_end(ap);
    ck_assert_msg(self != NULL, "create failed: %s", fh.error);
    return self;
}

static int mc_create_fails(const char *first, ...)
{
    va_list ap;
    void *self;
    va_start(ap, first);
    self = mc_try(first, ap);
    va_end(ap);
    if (self)
        P.vt->destroy(self);
    return self == NULL;
}

/* End of validation at `epoch` (global step (epoch+1)*100) with key = v. */
static int32_t mc_val(void *self, int64_t epoch, const char *key, double v)
{
    fh.ts.epoch = epoch;
    fh.ts.global_step = (epoch + 1) * 100;
    if (key)
        fh_set(key, v);
    return P.vt->on_validation_end(self, FH_CTX);
}

static void mc_run(void *self, const char *key, const double *v, int n)
{
    for (int k = 0; k < n; k++)
        ck_assert_msg(mc_val(self, k, key, v[k]) == LHOST_OK, "epoch %d: %s", k, fh.error);
}

#define ASSERT_FILES(expected)                                                                \
    do {                                                                                      \
        char got_[8192];                                                                      \
        fh_listdir(DIRPATH, got_, sizeof got_);                                               \
        ck_assert_str_eq(got_, expected);                                                     \
    } while (0)

START_TEST(test_descriptor)
{
    const char *identity[] = {"monitor", "mode", "every_n_epochs", "every_n_train_steps"};
    ck_assert_int_eq(fh_load(&P, "model_checkpoint.so"), 0);
    ck_assert_str_eq(P.desc->id, "org.lhost.model_checkpoint");
    ck_assert_str_eq(P.desc->name, "model_checkpoint");
    ck_assert_int_eq(P.desc->priority, LHOST_PRIORITY_MONITOR);
    ck_assert_uint_eq(P.vt->state_version, 1);
    for (uint32_t k = 0; k < P.desc->n_params; k++) {
        int want = 0;
        for (int j = 0; j < 4; j++)
            want |= !strcmp(P.desc->params[k].name, identity[j]);
        ck_assert_msg(!!(P.desc->params[k].flags & LHOST_PARAM_IDENTITY) == want, "%s",
                      P.desc->params[k].name);
    }
}
END_TEST

START_TEST(test_top1_tutorial_template)
{
    const double v[] = {0.5, 0.7, 0.6};
    void *self = mc_new("monitor=val_acc", "mode=max", "filename=modelo-{val_acc:.5f}", NULL);
    mc_run(self, "val_acc", v, 3);
    ASSERT_FILES("modelo-val_acc=0.70000.ckpt");
    ck_assert_int_eq(fh.n_saved, 2);
    ck_assert_uint_eq(fh.saved_flags[0], 0);
    ck_assert_int_eq(P.vt->on_fit_end(self, FH_CTX), LHOST_OK);
    ck_assert_str_eq(fh.logged_key, "best_model_score");
    ck_assert_double_eq(fh.logged_value, 0.7);
    ck_assert_msg(strstr(fh.log, "best_model_path=") &&
                      strstr(fh.log, "/ck/modelo-val_acc=0.70000.ckpt"),
                  "%s", fh.log);
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_top_k_all)
{
    const double v[] = {0.5, 0.4, 0.6};
    void *self = mc_new("monitor=val_loss", "save_top_k=-1", "filename={val_loss:.1f}", NULL);
    mc_run(self, "val_loss", v, 3);
    ASSERT_FILES("val_loss=0.4.ckpt val_loss=0.5.ckpt val_loss=0.6.ckpt");
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_top_k_none)
{
    const double v[] = {0.5, 0.4, 0.6};
    void *self = mc_new("monitor=val_loss", "save_top_k=0", NULL);
    mc_run(self, "val_loss", v, 3);
    ASSERT_FILES("");
    ck_assert_int_eq(fh.n_saved, 0);
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_top_k_3)
{
    const double v[] = {0.5, 0.7, 0.6, 0.8, 0.4, 0.65};
    void *self = mc_new("monitor=val_acc", "save_top_k=3", "filename={epoch}-{val_acc:.2f}",
                        NULL);
    mc_run(self, "val_acc", v, 6);
    ASSERT_FILES("epoch=1-val_acc=0.70.ckpt epoch=3-val_acc=0.80.ckpt "
                 "epoch=5-val_acc=0.65.ckpt");
    ck_assert_int_eq(fh.n_saved, 5); /* 0.4 was not in the top 3 */
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_tie_break_first_and_last)
{
    const double v[] = {0.5, 0.5};
    void *self = mc_new("monitor=val_acc", "filename={epoch}", NULL);
    mc_run(self, "val_acc", v, 2);
    ASSERT_FILES("epoch=0.ckpt");
    ck_assert_int_eq(fh.n_saved, 1);
    P.vt->destroy(self);
    fh_rmtree(DIRPATH);

    self = mc_new("monitor=val_acc", "filename={epoch}", "tie_break=last", NULL);
    mc_run(self, "val_acc", v, 2);
    ASSERT_FILES("epoch=1.ckpt");
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_nan_ranked_worst)
{
    const double v[] = {NAN, 0.3, 0.2, NAN};
    void *self = mc_new("monitor=val_acc", "save_top_k=2", "filename={epoch}", NULL);
    mc_run(self, "val_acc", v, 4);
    ASSERT_FILES("epoch=1.ckpt epoch=2.ckpt");
    ck_assert_int_eq(P.vt->on_fit_end(self, FH_CTX), LHOST_OK);
    ck_assert_double_eq(fh.logged_value, 0.3);
    P.vt->destroy(self);
    fh_rmtree(DIRPATH);

    /* mode min: NaN is still the worst, -inf the best */
    {
        const double w[] = {NAN, -INFINITY};
        self = mc_new("monitor=val_loss", "filename={epoch}", NULL);
        mc_run(self, "val_loss", w, 2);
        ASSERT_FILES("epoch=1.ckpt");
        P.vt->destroy(self);
    }
}
END_TEST

START_TEST(test_template_formats)
{
    void *self;
    fh_set("val_loss", 0.12345);
    fh_set("val_acc", 0.25);
    self = mc_new("monitor=val_loss", "save_top_k=-1", "auto_insert_metric_name=false",
                  "filename=e{epoch:03d}-{val_loss:.3f}-{val_acc}-{missing:.1f}", NULL);
    ck_assert_int_eq(mc_val(self, 2, NULL, 0), LHOST_OK);
    ASSERT_FILES("e002-0.123-0.25-0.0.ckpt");
    ck_assert_msg(strstr(fh.log, "{missing} is not a logged value"), "%s", fh.log);
    P.vt->destroy(self);
    fh_rmtree(DIRPATH);

    /* defaults: {epoch}-{step}; floats without a format print like Python's str() */
    self = mc_new(NULL);
    ck_assert_int_eq(mc_val(self, 2, NULL, 0), LHOST_OK);
    ASSERT_FILES("epoch=2-step=300.ckpt");
    P.vt->destroy(self);
    fh_rmtree(DIRPATH);

    fh_set("val_acc", 1.0);
    self = mc_new("filename={val_acc}-{val_loss:.2e}", NULL);
    ck_assert_int_eq(mc_val(self, 0, NULL, 0), LHOST_OK);
    ASSERT_FILES("val_acc=1.0-val_loss=1.23e-01.ckpt");
    P.vt->destroy(self);

    ck_assert(mc_create_fails("filename={val_acc:.5q}", NULL));
    ck_assert_msg(strstr(fh.error, "format \".5q\" of {val_acc}"), "%s", fh.error);
    ck_assert(mc_create_fails("filename={val_acc", NULL));
}
END_TEST

START_TEST(test_version_counter)
{
    const double v[] = {0.1, 0.2, 0.3};
    void *self = mc_new("monitor=val_loss", "save_top_k=-1", "filename=fixed", NULL);
    mc_run(self, "val_loss", v, 3);
    ASSERT_FILES("fixed-v1.ckpt fixed-v2.ckpt fixed.ckpt");
    P.vt->destroy(self);
    fh_rmtree(DIRPATH);
    fh.n_saved = 0;

    /* without the counter the name is reused and the file replaced */
    self = mc_new("monitor=val_loss", "save_top_k=-1", "filename=fixed",
                  "enable_version_counter=false", NULL);
    mc_run(self, "val_loss", v, 3);
    ASSERT_FILES("fixed.ckpt");
    ck_assert_int_eq(fh.n_saved, 3);
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_save_last_true)
{
    const double v[] = {0.5, 0.4};
    struct stat st;
    char path[PATH_MAX + 128];
    void *self = mc_new("monitor=val_acc", "filename={epoch}", "save_last=true", NULL);
    mc_run(self, "val_acc", v, 2);
    ASSERT_FILES("epoch=0.ckpt last.ckpt");
    snprintf(path, sizeof path, "%s/last.ckpt", DIRPATH);
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_int_eq(fh.n_saved, 3); /* epoch=0, last, last */
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_save_last_link)
{
    const double v[] = {0.5, 0.4, 0.6};
    char path[PATH_MAX + 128], target[PATH_MAX];
    ssize_t n;
    void *self = mc_new("monitor=val_acc", "filename={epoch}", "save_last=link", NULL);
    mc_run(self, "val_acc", v, 2);
    snprintf(path, sizeof path, "%s/last.ckpt", DIRPATH);
    n = readlink(path, target, sizeof target - 1);
    ck_assert_int_gt(n, 0);
    target[n] = '\0';
    ck_assert_str_eq(target, "epoch=0.ckpt"); /* epoch 1 was not saved: the latest save */
    ck_assert_int_eq(mc_val(self, 2, "val_acc", v[2]), LHOST_OK);
    n = readlink(path, target, sizeof target - 1);
    ck_assert_int_gt(n, 0);
    target[n] = '\0';
    ck_assert_str_eq(target, "epoch=2.ckpt");
    ASSERT_FILES("epoch=2.ckpt last.ckpt");
    ck_assert_int_eq(fh.n_saved, 2); /* the link is never a save */
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_path_escape)
{
    void *self;
    ck_assert(mc_create_fails("filename=../evil-{epoch}", NULL));
    ck_assert_msg(strstr(fh.error, ".."), "%s", fh.error);
    ck_assert(mc_create_fails("filename=sub/{epoch}", NULL));
    ck_assert(mc_create_fails("filename=..", NULL));

    /* a key with '/' is looked up as is and written with '_' */
    fh_set("val/acc", 0.5);
    self = mc_new("monitor=val/acc", "filename={val/acc:.2f}", NULL);
    ck_assert_int_eq(mc_val(self, 0, NULL, 0), LHOST_OK);
    ASSERT_FILES("val_acc=0.50.ckpt");
    P.vt->destroy(self);
    {
        char up[PATH_MAX];
        snprintf(up, sizeof up, "%s", TMP);
        fh_listdir(TMP, up, sizeof up);
        ck_assert_str_eq(up, "ck");
    }
}
END_TEST

START_TEST(test_every_n_epochs)
{
    const double v[] = {0.1, 0.2, 0.3, 0.4};
    void *self = mc_new("save_top_k=-1", "every_n_epochs=2", "filename={epoch}", NULL);
    mc_run(self, NULL, v, 4);
    ASSERT_FILES("epoch=1.ckpt epoch=3.ckpt");
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_every_n_train_steps)
{
    lhost_batch_info b = {.struct_size = sizeof b, .batch_idx = 0, .batch_size = 64, .loss = 0.5};
    void *self = mc_new("save_top_k=-1", "every_n_train_steps=2", "filename={step}", NULL);
    for (int64_t step = 1; step <= 5; step++) {
        fh.ts.global_step = step;
        b.batch_idx = step - 1;
        ck_assert_int_eq(P.vt->on_train_batch_end(self, FH_CTX, &b), LHOST_OK);
    }
    /* every_n_epochs defaults to 0 once every_n_train_steps is given */
    fh.ts.global_step = 6;
    ck_assert_int_eq(P.vt->on_validation_end(self, FH_CTX), LHOST_OK);
    ASSERT_FILES("step=2.ckpt step=4.ckpt");
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_deletes_only_own_files)
{
    const double v[] = {0.5, 0.7};
    FILE *f;
    char path[PATH_MAX + 128];
    mkdir(DIRPATH, 0755);
    snprintf(path, sizeof path, "%s/modelo-val_acc=0.50000.ckpt", DIRPATH);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    snprintf(path, sizeof path, "%s/notes.txt", DIRPATH);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    {
        void *self = mc_new("monitor=val_acc", "filename=modelo-{val_acc:.5f}", NULL);
        ck_assert_msg(strstr(fh.log, "exists and is not empty"), "%s", fh.log);
        ck_assert_int_eq(mc_val(self, 0, "val_acc", v[0]), LHOST_OK);
        ASSERT_FILES("modelo-val_acc=0.50000-v1.ckpt modelo-val_acc=0.50000.ckpt notes.txt");
        ck_assert_int_eq(mc_val(self, 1, "val_acc", v[1]), LHOST_OK);
        ASSERT_FILES("modelo-val_acc=0.50000.ckpt modelo-val_acc=0.70000.ckpt notes.txt");
        P.vt->destroy(self);
    }
}
END_TEST

START_TEST(test_default_dirpath_is_relative)
{
    char cwd[PATH_MAX];
    void *self;
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(TMP), 0);
    self = mc_new("dirpath=checkpoints", "filename=x", NULL);
    P.vt->destroy(self);
    /* omitted dirpath: the schema default */
    {
        const char *kv[] = {"filename=y", NULL};
        char err[256];
        void *s2 = NULL;
        ck_assert_int_eq(fh_params_build(&PV, P.desc, kv, err, sizeof err), 0);
        ck_assert_str_eq(lhost_param_string(&PV.pv, "dirpath", ""), "checkpoints");
        ck_assert_int_eq(P.vt->create(&fh_host, FH_CTX, &PV.pv, &s2), LHOST_OK);
        ck_assert_int_eq(P.vt->on_fit_start(s2, FH_CTX), LHOST_OK);
        ck_assert_int_eq(mc_val(s2, 0, NULL, 0), LHOST_OK);
        P.vt->destroy(s2);
    }
    snprintf(DIRPATH, sizeof DIRPATH, "%s/checkpoints", TMP);
    ASSERT_FILES("y.ckpt");
    ck_assert_str_eq(fh.saved[0], "checkpoints/y.ckpt");
    ck_assert_int_eq(chdir(cwd), 0);
}
END_TEST

START_TEST(test_state_save_restore)
{
    const double v[] = {0.5, 0.7};
    const void *data;
    uint64_t size;
    void *copy, *a, *b;
    a = mc_new("monitor=val_acc", "save_top_k=2", "filename={epoch}", "save_last=true", NULL);
    mc_run(a, "val_acc", v, 2);
    ASSERT_FILES("epoch=0.ckpt epoch=1.ckpt last.ckpt");
    ck_assert_int_eq(P.vt->state_save(a, FH_CTX, &data, &size), LHOST_OK);
    copy = malloc(size);
    memcpy(copy, data, size);
    P.vt->destroy(a);

    b = mc_new("monitor=val_acc", "save_top_k=2", "filename={epoch}", "save_last=true", NULL);
    ck_assert_int_eq(P.vt->state_restore(b, FH_CTX, 1, copy, size), LHOST_OK);
    /* 0.6 evicts the restored 0.5 entry (a file this callback wrote before the resume) */
    ck_assert_int_eq(mc_val(b, 2, "val_acc", 0.6), LHOST_OK);
    ASSERT_FILES("epoch=1.ckpt epoch=2.ckpt last.ckpt");
    ck_assert_int_eq(P.vt->on_fit_end(b, FH_CTX), LHOST_OK);
    ck_assert_double_eq(fh.logged_value, 0.7);
    ck_assert_msg(strstr(fh.log, "/ck/epoch=1.ckpt"), "%s", fh.log);
    ck_assert_int_eq(P.vt->state_restore(b, FH_CTX, 2, copy, size), LHOST_ERROR);
    ck_assert_int_eq(P.vt->state_restore(b, FH_CTX, 1, copy, size - 3), LHOST_ERROR);
    P.vt->destroy(b);
    free(copy);
}
END_TEST

/* A model_checkpoint v1 state for monitor val_acc in DIRPATH whose top-k entries are the files
 * `names` (each scored 0.1, so the first better value evicts them); best is the first. */
static size_t crafted_state(unsigned char *buf, const char *const *names, int64_t n)
{
    size_t len = 0;
    int64_t zero = 0, seq;
    uint32_t none = UINT32_MAX;
    double low = 0.1;
    char path[PATH_MAX + 64];
#define PUT(p, size) (memcpy(buf + len, (p), (size)), len += (size))
#define PUT_STR(str)                                                                          \
    do {                                                                                      \
        uint32_t l_ = (uint32_t)strlen(str);                                                  \
        PUT(&l_, 4);                                                                          \
        PUT((str), l_);                                                                       \
    } while (0)
    PUT_STR(DIRPATH);
    PUT_STR("val_acc");
    PUT(&n, 8);
    for (seq = 0; seq < n; seq++) {
        snprintf(path, sizeof path, "%s/%s", DIRPATH, names[seq]);
        PUT(&low, 8);
        PUT(&seq, 8);
        PUT_STR(path);
    }
    snprintf(path, sizeof path, "%s/%s", DIRPATH, names[0]);
    PUT_STR(path);
    PUT(&low, 8);
    PUT(&none, 4); /* no last_path */
    PUT(&none, 4); /* no last_saved */
    PUT(&zero, 8);
    PUT(&n, 8);
#undef PUT_STR
#undef PUT
    return len;
}

static void touch_in_dirpath(const char *name)
{
    char path[PATH_MAX + 64];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", DIRPATH, name);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
}

/* A crafted state naming files in dirpath that no template of this callback gives: when those
 * entries leave the top k the files stay (only names from `filename` or last.ckpt, with values
 * a number can print, are deleted); the one the template gives is deleted as before. */
START_TEST(test_crafted_state_deletes_nothing_foreign)
{
    static const char *const names[] = {"notes.ckpt", "epoch=important.ckpt", "epoch=7.ckpt"};
    unsigned char buf[8192];
    size_t n;
    void *self;
    mkdir(DIRPATH, 0755);
    for (int i = 0; i < 3; i++)
        touch_in_dirpath(names[i]);
    self = mc_new("monitor=val_acc", "save_top_k=3", "filename={epoch}", NULL);
    n = crafted_state(buf, names, 3);
    ck_assert_int_eq(P.vt->state_restore(self, FH_CTX, 1, buf, n), LHOST_OK);
    ck_assert_int_eq(mc_val(self, 0, "val_acc", 0.7), LHOST_OK);
    ck_assert_int_eq(mc_val(self, 1, "val_acc", 0.8), LHOST_OK);
    ck_assert_int_eq(mc_val(self, 2, "val_acc", 0.9), LHOST_OK);
    ASSERT_FILES("epoch=0.ckpt epoch=1.ckpt epoch=2.ckpt epoch=important.ckpt notes.ckpt");
    ck_assert_msg(strstr(fh.log, "not deleting") && strstr(fh.log, "notes.ckpt") &&
                      strstr(fh.log, "epoch=important.ckpt"),
                  "%s", fh.log);
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_missing_monitor_lists_keys)
{
    void *self = mc_new("monitor=val_acc", NULL);
    fh_set("loss", 1.0);
    fh_set("val_loss", 1.0);
    ck_assert_int_eq(mc_val(self, 0, NULL, 0), LHOST_ERROR);
    ck_assert_msg(strstr(fh.error, "\"val_acc\"") && strstr(fh.error, "loss, val_loss"), "%s",
                  fh.error);
    P.vt->destroy(self);
    ck_assert(mc_create_fails("save_top_k=3", NULL)); /* k > 1 needs a monitor */
}
END_TEST

START_TEST(test_weights_only_and_same_step)
{
    void *self = mc_new("save_top_k=-1", "save_weights_only=true", "filename={epoch}", NULL);
    ck_assert_int_eq(mc_val(self, 0, NULL, 0), LHOST_OK);
    ck_assert_int_eq(P.vt->on_validation_end(self, FH_CTX), LHOST_OK); /* same step: skipped */
    ck_assert_int_eq(fh.n_saved, 1);
    ck_assert_uint_eq(fh.saved_flags[0], LHOST_CKPT_WEIGHTS_ONLY);
    P.vt->destroy(self);
}
END_TEST

static Suite *mc_suite(void)
{
    Suite *s = suite_create("model_checkpoint");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_descriptor);
    tcase_add_test(tc, test_top1_tutorial_template);
    tcase_add_test(tc, test_top_k_all);
    tcase_add_test(tc, test_top_k_none);
    tcase_add_test(tc, test_top_k_3);
    tcase_add_test(tc, test_tie_break_first_and_last);
    tcase_add_test(tc, test_nan_ranked_worst);
    tcase_add_test(tc, test_template_formats);
    tcase_add_test(tc, test_version_counter);
    tcase_add_test(tc, test_save_last_true);
    tcase_add_test(tc, test_save_last_link);
    tcase_add_test(tc, test_path_escape);
    tcase_add_test(tc, test_every_n_epochs);
    tcase_add_test(tc, test_every_n_train_steps);
    tcase_add_test(tc, test_deletes_only_own_files);
    tcase_add_test(tc, test_default_dirpath_is_relative);
    tcase_add_test(tc, test_state_save_restore);
    tcase_add_test(tc, test_crafted_state_deletes_nothing_foreign);
    tcase_add_test(tc, test_missing_monitor_lists_keys);
    tcase_add_test(tc, test_weights_only_and_same_step);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(mc_suite());
}
