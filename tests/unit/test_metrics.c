/* tests/unit/test_metrics.c — the reference metrics plugin (metrics.so) against the golden values
 * of tests/golden/metrics_cases.txt (scikit-learn, written by tests/golden/gen_metrics.py), plus
 * the errors the plugin reports itself.
 *
 * The plugin is dlopened from the build tree and driven as the host would: parameters as
 * lhost_param_values built here, state buffers allocated here from state_layout, each case fed in
 * several update() batches, and once more split over two "ranks" whose buffers are summed before
 * compute() (the host's cross-rank reduction).
 *
 * Run: ctest --test-dir build -R test_metrics --output-on-failure */
#include <check.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lhost/lhost.h"
#include "check_run.h"

#define FIXTURE LH_SOURCE_DIR "/tests/golden/metrics_cases.txt"
#define PLUGIN LH_REF_PLUGIN_DIR "/metrics.so"
#define TOL 1e-12
#define MAX_PARAMS 16
#define MAX_BUFS 8

/* ---- a minimal host ------------------------------------------------------------------------ */

static char last_error[512];

static void fake_log(lhost_ctx *ctx, int32_t level, const char *msg)
{
    (void)ctx, (void)level, (void)msg;
}

static void fake_set_error(lhost_ctx *ctx, const char *msg)
{
    (void)ctx;
    snprintf(last_error, sizeof last_error, "%s", msg);
}

static void *fake_alloc(uint64_t size)
{
    return malloc(size);
}

static const lhost_host fake_host = {
    .struct_size = sizeof(lhost_host),
    .abi = LHOST_ABI_VERSION_INIT,
    .name = "test_metrics",
    .version = "0",
    .log = fake_log,
    .set_error = fake_set_error,
    .alloc = fake_alloc,
    .free = free,
};

static const lhost_library *library(void)
{
    static const lhost_library *lib;
    if (!lib) {
        void *h = dlopen(PLUGIN, RTLD_NOW | RTLD_LOCAL);
        lhost_entry_fn entry;
        lhost_version v = LHOST_ABI_VERSION_INIT;
        ck_assert_msg(h != NULL, "dlopen %s: %s", PLUGIN, dlerror());
        *(void **)&entry = dlsym(h, LHOST_ENTRY_SYMBOL);
        ck_assert_msg(entry != NULL, "%s: no %s", PLUGIN, LHOST_ENTRY_SYMBOL);
        lib = entry(&v, &fake_host);
        ck_assert_ptr_nonnull(lib);
    }
    return lib;
}

static const lhost_plugin_desc *find_desc(const char *name)
{
    const lhost_library *lib = library();
    uint32_t k;
    for (k = 0; k < lib->n_plugins; k++)
        if (strcmp(lib->plugins[k]->name, name) == 0)
            return lib->plugins[k];
    ck_abort_msg("metrics.so has no plugin named %s", name);
    return NULL;
}

/* ---- parameters: a tiny stand-in for the host's parser ------------------------------------- */

typedef struct params {
    lhost_value values[MAX_PARAMS];
    lhost_param_values pv;
} params;

/* Fill p from desc's schema: `kv` = key, value, ..., NULL (text, kept by the caller). Defaults
 * apply to keys not given. Returns 0, or -1 for an unknown key or a value outside an enum. */
static int make_params(const lhost_plugin_desc *desc, const char *const *kv, params *p)
{
    uint32_t k, used = 0, n_kv = 0;
    memset(p, 0, sizeof *p);
    ck_assert_uint_le(desc->n_params, MAX_PARAMS);
    while (kv && kv[2 * n_kv])
        n_kv++;
    for (k = 0; k < desc->n_params; k++) {
        const lhost_param *s = &desc->params[k];
        lhost_value *v = &p->values[k];
        const char *text = s->default_value;
        uint32_t j;
        for (j = 0; j < n_kv; j++)
            if (strcmp(kv[2 * j], s->name) == 0) {
                text = kv[2 * j + 1];
                v->from_user = 1;
                used++;
            }
        v->struct_size = sizeof *v;
        v->type = s->type;
        v->name = s->name;
        v->is_set = text != NULL;
        v->s = text;
        if (!text)
            continue;
        if (s->type == LHOST_PARAM_ENUM) {
            v->i = -1;
            for (j = 0; s->choices[j]; j++)
                if (strcmp(s->choices[j], text) == 0)
                    v->i = j;
            if (v->i < 0)
                return -1;
        } else if (s->type == LHOST_PARAM_INT || s->type == LHOST_PARAM_BOOL) {
            v->i = strtoll(text, NULL, 0);
            v->f = (double)v->i;
        } else if (s->type == LHOST_PARAM_FLOAT) {
            v->f = strtod(text, NULL);
        }
    }
    p->pv.struct_size = sizeof p->pv;
    p->pv.count = desc->n_params;
    p->pv.values = p->values;
    return used == n_kv ? 0 : -1;
}

/* ---- an instance with its host-side state --------------------------------------------------- */

typedef struct inst {
    const lhost_metric_vtable *vt;
    void *self;
    const lhost_state_decl *decls;
    uint32_t n_decls, n_outputs;
} inst;

typedef struct state {
    void *bufs[MAX_BUFS];
    lhost_metric_state st;
} state;

static int32_t inst_create(const char *name, const char *const *kv, inst *in)
{
    const lhost_plugin_desc *d = find_desc(name);
    params p;
    int32_t rc;
    memset(in, 0, sizeof *in);
    ck_assert_int_eq(make_params(d, kv, &p), 0);
    in->vt = d->vtable;
    last_error[0] = 0;
    rc = in->vt->create(&fake_host, NULL, &p.pv, &in->self);
    if (rc != LHOST_OK)
        return rc;
    ck_assert_int_eq(in->vt->state_layout(in->self, &in->decls, &in->n_decls, &in->n_outputs),
                     LHOST_OK);
    ck_assert_uint_le(in->n_decls, MAX_BUFS);
    return rc;
}

/* Allocate and reset (every element = init) the buffers `in` declares. */
static void state_alloc(const inst *in, state *s)
{
    uint32_t k;
    uint64_t e;
    memset(s, 0, sizeof *s);
    for (k = 0; k < in->n_decls; k++) {
        const lhost_state_decl *d = &in->decls[k];
        ck_assert_int_eq(d->dtype, LHOST_DTYPE_I64);
        ck_assert_int_eq(d->reduction, LHOST_REDUCE_SUM);
        s->bufs[k] = malloc(d->length * sizeof(int64_t) + 1);
        for (e = 0; e < d->length; e++)
            ((int64_t *)s->bufs[k])[e] = (int64_t)d->init;
    }
    s->st.struct_size = sizeof s->st;
    s->st.count = in->n_decls;
    s->st.buffers = s->bufs;
}

/* dst += src, element-wise: the host's LHOST_REDUCE_SUM across ranks. */
static void state_sum(const inst *in, state *dst, const state *src)
{
    uint32_t k;
    uint64_t e;
    for (k = 0; k < in->n_decls; k++)
        for (e = 0; e < in->decls[k].length; e++)
            ((int64_t *)dst->bufs[k])[e] += ((const int64_t *)src->bufs[k])[e];
}

static void state_free(state *s)
{
    uint32_t k;
    for (k = 0; k < MAX_BUFS; k++)
        free(s->bufs[k]);
}

static int32_t update(const inst *in, state *s, int32_t C, int64_t n, const float *scores,
                      const int32_t *targets)
{
    lhost_metric_batch b = {sizeof b, n, C, 0, scores, targets};
    last_error[0] = 0;
    return in->vt->update(in->self, NULL, &s->st, &b);
}

/* ---- the golden cases ---------------------------------------------------------------------- */

typedef struct dataset {
    int32_t C;
    int64_t n;
    int32_t *targets; /* (n) */
    float *scores;    /* (n, C) */
} dataset;

static uint64_t rng_state;
static uint64_t rng_next(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return rng_state >> 33;
}

/* Feed `ds` in batches of random size (0 included). Batch b goes to ranks[b % n_ranks]; the
 * instance used alternates between a and b, which share nothing but the buffers. */
static void feed(const dataset *ds, const inst *a, const inst *b, state *ranks, int n_ranks)
{
    int64_t at = 0;
    int batch = 0;
    while (at < ds->n) {
        int64_t len = (int64_t)(rng_next() % (uint64_t)(ds->n / 3 + 2));
        const inst *in = (batch & 1) ? b : a;
        if (len > ds->n - at)
            len = ds->n - at;
        ck_assert_msg(update(in, &ranks[batch % n_ranks], ds->C, len,
                             ds->scores + at * ds->C, ds->targets + at) == LHOST_OK,
                      "update failed: %s", last_error);
        at += len;
        batch++;
    }
}

static double check_outputs(const char *what, int line, const inst *in, state *s,
                            const double *want, uint32_t n_want)
{
    double got[4096], worst = 0;
    uint32_t k;
    ck_assert_uint_eq(in->n_outputs, n_want);
    ck_assert_uint_le(n_want, 4096);
    ck_assert_int_eq(in->vt->compute(in->self, NULL, &s->st, got), LHOST_OK);
    for (k = 0; k < n_want; k++) {
        double err = fabs(got[k] - want[k]);
        ck_assert_msg(err <= TOL, "fixture line %d (%s): output %u = %.17g, expected %.17g", line,
                      what, k, got[k], want[k]);
        if (err > worst)
            worst = err;
    }
    return worst;
}

static char *next_tok(char **p)
{
    return strtok_r(NULL, " \t\n", p);
}

/* One "C ..." line against dataset ds. */
static double run_case(const dataset *ds, char *rest, int line)
{
    char *sp = rest, cbuf[16], *metric = strtok_r(rest, " \t\n", &sp);
    char *average = next_tok(&sp), *top_k = next_tok(&sp), *ignore = next_tok(&sp);
    char *zd = next_tok(&sp), *beta = next_tok(&sp), *norm = next_tok(&sp);
    uint32_t n_out = (uint32_t)strtoul(next_tok(&sp), NULL, 10), k, n_kv = 0;
    const char *kv[2 * MAX_PARAMS + 1];
    double *want = malloc(sizeof(double) * (n_out + 1)), worst;
    inst a, b;
    state one, two[2];

    for (k = 0; k < n_out; k++) {
        char *t = next_tok(&sp);
        ck_assert_msg(t != NULL, "fixture line %d: short", line);
        want[k] = strtod(t, NULL);
    }
    snprintf(cbuf, sizeof cbuf, "%d", (int)ds->C);
#define KV(key, val) (kv[n_kv++] = (key), kv[n_kv++] = (val))
    KV("num_classes", cbuf);
    if (strcmp(metric, "confusion_matrix") != 0) {
        KV("average", average);
        KV("top_k", top_k);
        KV("zero_division", zd);
    }
    if (strcmp(ignore, "-") != 0)
        KV("ignore_index", ignore);
    if (strcmp(beta, "-") != 0)
        KV("beta", beta);
    if (strcmp(norm, "-") != 0)
        KV("normalize", norm);
#undef KV
    kv[n_kv] = NULL;

    ck_assert_msg(inst_create(metric, kv, &a) == LHOST_OK, "line %d: create: %s", line,
                  last_error);
    ck_assert_int_eq(inst_create(metric, kv, &b), LHOST_OK);

    /* one process, many batches, two instances sharing the buffers */
    state_alloc(&a, &one);
    feed(ds, &a, &b, &one, 1);
    worst = check_outputs(metric, line, &a, &one, want, n_out);
    /* two ranks, summed before compute */
    state_alloc(&a, &two[0]);
    state_alloc(&a, &two[1]);
    feed(ds, &a, &b, two, 2);
    state_sum(&a, &two[0], &two[1]);
    check_outputs(metric, line, &b, &two[0], want, n_out);

    state_free(&one);
    state_free(&two[0]);
    state_free(&two[1]);
    a.vt->destroy(a.self);
    b.vt->destroy(b.self);
    free(want);
    return worst;
}

START_TEST(golden_cases_match_sklearn)
{
    FILE *f = fopen(FIXTURE, "r");
    size_t cap = 0;
    char *buf = NULL;
    dataset ds = {0};
    int line = 0, n_cases = 0, n_sets = 0;
    double worst = 0;
    ck_assert_msg(f != NULL, "cannot open %s", FIXTURE);
    rng_state = 12345;
    while (getline(&buf, &cap, f) > 0) {
        char *sp, *tag = strtok_r(buf, " \t\n", &sp), *t;
        int64_t i;
        line++;
        if (!tag || tag[0] == '#')
            continue;
        if (strcmp(tag, "D") == 0) {
            ds.C = (int32_t)strtol(next_tok(&sp), NULL, 10);
            ds.n = strtoll(next_tok(&sp), NULL, 10);
            free(ds.targets);
            free(ds.scores);
            ds.targets = malloc(sizeof(int32_t) * (size_t)ds.n);
            ds.scores = malloc(sizeof(float) * (size_t)(ds.n * ds.C));
            n_sets++;
        } else if (strcmp(tag, "T") == 0) {
            for (i = 0; i < ds.n; i++) {
                ck_assert_msg((t = next_tok(&sp)) != NULL, "line %d: short T", line);
                ds.targets[i] = (int32_t)strtol(t, NULL, 10);
            }
        } else if (strcmp(tag, "S") == 0) {
            for (i = 0; i < ds.n * ds.C; i++) {
                ck_assert_msg((t = next_tok(&sp)) != NULL, "line %d: short S", line);
                ds.scores[i] = strtof(t, NULL);
            }
        } else if (strcmp(tag, "C") == 0) {
            double w = run_case(&ds, sp, line);
            if (w > worst)
                worst = w;
            n_cases++;
        } else {
            ck_abort_msg("%s:%d: unknown record %s", FIXTURE, line, tag);
        }
    }
    fclose(f);
    free(buf);
    free(ds.targets);
    free(ds.scores);
    printf("test_metrics: %d golden cases over %d data sets, worst |error| %.3g\n", n_cases,
           n_sets, worst);
    ck_assert_int_ge(n_cases, 200);
}
END_TEST

/* ---- descriptors ----------------------------------------------------------------------------- */

static const lhost_param *find_param(const lhost_plugin_desc *d, const char *name)
{
    uint32_t k;
    for (k = 0; k < d->n_params; k++)
        if (strcmp(d->params[k].name, name) == 0)
            return &d->params[k];
    return NULL;
}

START_TEST(library_describes_nine_metrics)
{
    static const char *const names[] = {"accuracy",         "precision", "recall",
                                        "f1",               "fbeta",     "specificity",
                                        "confusion_matrix", "auroc",     "average_precision"};
    const lhost_library *lib = library();
    lhost_version host = LHOST_ABI_VERSION_INIT;
    uint32_t k;
    ck_assert_int_eq(lhost_version_check(host, lib->abi), LHOST_VERSION_COMPATIBLE);
    ck_assert_ptr_null(lib->error);
    ck_assert_uint_eq(lib->n_plugins, 9);
    for (k = 0; k < 9; k++) {
        const lhost_plugin_desc *d = find_desc(names[k]);
        const lhost_metric_vtable *vt = d->vtable;
        const lhost_param *name = find_param(d, "name"), *avg = find_param(d, "average");
        char id[64];
        snprintf(id, sizeof id, "org.lhost.%s", names[k]);
        ck_assert_str_eq(d->id, id);
        ck_assert_int_eq(d->kind, LHOST_KIND_METRIC);
        ck_assert_uint_eq(d->struct_size, sizeof(lhost_plugin_desc));
        ck_assert_uint_eq(vt->struct_size, sizeof(lhost_metric_vtable));
        ck_assert(vt->create && vt->destroy && vt->state_layout && vt->update && vt->compute);
        ck_assert_ptr_nonnull(name);
        ck_assert_str_eq(name->default_value, names[k]); /* log key defaults to the short name */
        ck_assert_str_eq(find_param(d, "num_classes")->default_value, "10");
        if (k < 6) {
            /* the default average is stated, and the tutorial's micro is explained */
            ck_assert_str_eq(avg->default_value, "macro");
            ck_assert_ptr_nonnull(strstr(avg->help, "macro (default"));
            ck_assert_ptr_nonnull(strstr(avg->help, "micro, where precision = recall = accuracy"));
            ck_assert_int_eq(vt->higher_is_better, 1);
        } else if (k == 6) {
            ck_assert_ptr_null(avg);
        } else {
            /* auroc, average_precision (tests/unit/test_auroc.c): torchmetrics' choices */
            ck_assert_str_eq(avg->default_value, "macro");
            ck_assert_str_eq(avg->choices[0], "macro");
            ck_assert_str_eq(avg->choices[1], "weighted");
            ck_assert_str_eq(avg->choices[2], "none");
            ck_assert_ptr_null(avg->choices[3]);
            ck_assert_ptr_nonnull(find_param(d, "thresholds"));
            ck_assert_int_eq(vt->higher_is_better, 1);
        }
        ck_assert((find_param(d, "beta") != NULL) == (k == 4));
    }
}
END_TEST

START_TEST(average_none_and_confmat_have_one_output_per_cell)
{
    inst in;
    ck_assert_int_eq(inst_create("precision", (const char *[]){"average", "none", NULL}, &in),
                     LHOST_OK);
    ck_assert_uint_eq(in.n_outputs, 10);
    ck_assert_uint_eq(in.n_decls, 4);
    in.vt->destroy(in.self);
    ck_assert_int_eq(inst_create("confusion_matrix", (const char *[]){"num_classes", "7", NULL},
                                 &in), LHOST_OK);
    ck_assert_uint_eq(in.n_outputs, 49);
    ck_assert_uint_eq(in.n_decls, 1);
    ck_assert_uint_eq(in.decls[0].length, 49);
    in.vt->destroy(in.self);
}
END_TEST

/* ---- errors the plugin reports itself ------------------------------------------------------- */

static void expect_create_error(const char *metric, const char *const *kv, const char *needle)
{
    inst in;
    ck_assert_int_eq(inst_create(metric, kv, &in), LHOST_ERROR);
    ck_assert_msg(strstr(last_error, needle) != NULL, "%s: error \"%s\" does not mention %s",
                  metric, last_error, needle);
}

START_TEST(bad_params_are_refused_with_a_message)
{
    expect_create_error("accuracy", (const char *[]){"num_classes", "5", "top_k", "6", NULL},
                        "top_k=6");
    expect_create_error("precision", (const char *[]){"num_classes", "1", NULL},
                        "num_classes=1");
    expect_create_error("recall", (const char *[]){"zero_division", "2", NULL},
                        "zero_division=2");
    expect_create_error("fbeta", (const char *[]){"beta", "0", NULL}, "beta=0");
    expect_create_error("fbeta", (const char *[]){"beta", "nan", NULL}, "beta=nan");
    expect_create_error("f1", (const char *[]){"name", "my acc", NULL}, "name \"my acc\"");
    expect_create_error("f1", (const char *[]){"name", "", NULL}, "name \"\"");
}
END_TEST

static int64_t state_total(const inst *in, const state *s)
{
    int64_t sum = 0;
    uint32_t k;
    uint64_t e;
    for (k = 0; k < in->n_decls; k++)
        for (e = 0; e < in->decls[k].length; e++)
            sum += ((const int64_t *)s->bufs[k])[e];
    return sum;
}

START_TEST(bad_batches_are_refused_and_leave_state_untouched)
{
    static const float scores[3 * 3] = {1, 2, 3, 3, 2, 1, 0, 5, 1};
    inst in;
    state s;
    ck_assert_int_eq(inst_create("accuracy", (const char *[]){"num_classes", "3", NULL}, &in),
                     LHOST_OK);
    state_alloc(&in, &s);
    ck_assert_int_eq(update(&in, &s, 4, 2, scores, (const int32_t[]){0, 1}), LHOST_ERROR);
    ck_assert_ptr_nonnull(strstr(last_error, "4 score columns"));
    ck_assert_int_eq(update(&in, &s, 3, 3, scores, (const int32_t[]){0, 1, 3}), LHOST_ERROR);
    ck_assert_ptr_nonnull(strstr(last_error, "target 3 of sample 2"));
    ck_assert_int_eq(update(&in, &s, 3, 3, scores, (const int32_t[]){0, -100, 1}), LHOST_ERROR);
    ck_assert_int_eq(state_total(&in, &s), 0);
    state_free(&s);
    in.vt->destroy(in.self);

    /* an ignore_index outside the classes (torchmetrics' -100 habit) is skipped, not refused */
    ck_assert_int_eq(inst_create("accuracy", (const char *[]){"num_classes", "3", "average",
                                 "micro", "ignore_index", "-100", NULL}, &in), LHOST_OK);
    state_alloc(&in, &s);
    ck_assert_int_eq(update(&in, &s, 3, 3, scores, (const int32_t[]){2, -100, 0}), LHOST_OK);
    {
        double acc;
        ck_assert_int_eq(in.vt->compute(in.self, NULL, &s.st, &acc), LHOST_OK);
        ck_assert_double_eq(acc, 0.5); /* sample 0 right, sample 2 wrong, sample 1 ignored */
    }
    state_free(&s);
    in.vt->destroy(in.self);
}
END_TEST

START_TEST(argmax_takes_nan_as_largest_and_ties_to_lower_class)
{
    /* row 0: tie between classes 1 and 2 -> 1; row 1: NaN at class 2 -> 2 */
    const float scores[2 * 4] = {0, 5, 5, 1, 9, 0, NAN, 1};
    double cm[16];
    inst in;
    state s;
    ck_assert_int_eq(inst_create("confusion_matrix", (const char *[]){"num_classes", "4", NULL},
                                 &in), LHOST_OK);
    state_alloc(&in, &s);
    ck_assert_int_eq(update(&in, &s, 4, 2, scores, (const int32_t[]){1, 0}), LHOST_OK);
    ck_assert_int_eq(in.vt->compute(in.self, NULL, &s.st, cm), LHOST_OK);
    ck_assert_double_eq(cm[1 * 4 + 1], 1.0);
    ck_assert_double_eq(cm[0 * 4 + 2], 1.0);
    state_free(&s);
    in.vt->destroy(in.self);

    /* top-2 of row 1 is {2 (NaN), 0 (9)}: target 0 is a hit */
    ck_assert_int_eq(inst_create("recall", (const char *[]){"num_classes", "4", "top_k", "2",
                                 "average", "micro", NULL}, &in), LHOST_OK);
    state_alloc(&in, &s);
    ck_assert_int_eq(update(&in, &s, 4, 1, scores + 4, (const int32_t[]){0}), LHOST_OK);
    ck_assert_int_eq(in.vt->compute(in.self, NULL, &s.st, cm), LHOST_OK);
    ck_assert_double_eq(cm[0], 1.0);
    state_free(&s);
    in.vt->destroy(in.self);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, library_describes_nine_metrics);
    tcase_add_test(tc, average_none_and_confmat_have_one_output_per_cell);
    tcase_add_test(tc, golden_cases_match_sklearn);
    tcase_add_test(tc, bad_params_are_refused_with_a_message);
    tcase_add_test(tc, bad_batches_are_refused_and_leave_state_untouched);
    tcase_add_test(tc, argmax_takes_nan_as_largest_and_ties_to_lower_class);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(metrics_suite());
}
