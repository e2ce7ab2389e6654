/* tests/fuzz/fuzz_ckpt.c — fuzz target for the safetensors reader and the checkpoint reader up
 * to model planning: what `lhost validate --ckpt` does before it computes. The input is a
 * checkpoint file. It is parsed in memory (host/store/safetensors_read.c, every accessor
 * walked), then read from a file like the CLI does: the model spec (lh_ckpt_read_spec), the
 * model planned from it (lh_model_plan), its weights loaded onto a CPU model when the model is
 * small (lh_model_ckpt_load), and the config the checkpoint implies (lh_ckpt_config_read).
 * Each step either fails with a message or gives something consistent. Run: README.md here. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend.h"
#include "ckpt.h"
#include "model.h"
#include "model_ckpt.h"
#include "safetensors.h"

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "fuzz_ckpt: %s:%d: invariant failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                                  \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

/* Weights are loaded only for models whose parameters and activations are each up to this many
 * floats (4 MiB), so a crafted but valid
 * huge layer costs no memory here; planning still sees every size. */
#define MAX_LOAD_PARAMS (1 << 20)

static void check_error(const lh_error *err)
{
    CHECK(memchr(err->msg, 0, sizeof err->msg) && err->msg[0]);
}

static volatile unsigned sink;

static void walk_file(const lh_safetensors_file *f, uint64_t len)
{
    int32_t i, d, n = lh_safetensors_count(f);
    uint64_t total = 0;
    CHECK(n >= 0 && lh_safetensors_file_size(f) == len);
    CHECK(lh_safetensors_header_size(f) + 8 <= len);
    for (i = 0; i < n; i++) {
        const char *name = lh_safetensors_name(f, i), *dtype = lh_safetensors_dtype(f, i);
        const int64_t *shape = lh_safetensors_shape(f, i);
        int32_t ndim = lh_safetensors_ndim(f, i), es = lh_safetensors_dtype_size(dtype);
        uint64_t nbytes = lh_safetensors_nbytes(f, i);
        const uint8_t *p = lh_safetensors_data(f, i);
        int64_t elems = 1;
        CHECK(name && dtype && es > 0 && ndim >= 0 && p);
        CHECK(lh_safetensors_index(f, name) == i);
        for (d = 0; d < ndim; d++) {
            CHECK(shape[d] >= 0);
            elems *= shape[d];
        }
        CHECK(elems == lh_safetensors_elems(f, i) && (uint64_t)elems * (uint64_t)es == nbytes);
        if (nbytes) /* the data is really there (AddressSanitizer checks the reads) */
            sink += p[0] + p[nbytes - 1];
        total += nbytes;
    }
    CHECK(total == len - 8 - lh_safetensors_header_size(f));
    for (i = 0; i < lh_safetensors_meta_count(f); i++) {
        const char *k = lh_safetensors_meta_key(f, i), *v = lh_safetensors_meta_value(f, i);
        CHECK(k && v && lh_safetensors_meta_get(f, k));
    }
}

static void walk_config(const lh_config_node *n, int depth)
{
    int32_t i;
    CHECK(depth < 100);
    for (i = 0; i < lh_config_len(n); i++)
        walk_config(lh_config_at(n, i), depth + 1);
}

static const lh_backend *be;
static lh_backend_ctx *bctx;

/* Plan the model of a checkpoint's spec and load its weights (small models only). */
static void plan_and_load(const lh_model_spec *spec, const uint8_t *data, size_t size)
{
    static lh_model m;
    lh_safetensors_file *f;
    lh_error err;
    memset(&m, 0, sizeof m);
    if (lh_model_plan(&m, spec, &err) != 0) {
        check_error(&err);
        return;
    }
    CHECK(m.total_params >= 0 && m.total_params <= LH_MAX_NUMEL);
    CHECK(m.n_params >= 0 && m.n_params <= LH_MAX_PARAMS);
    {
        int64_t acts = (int64_t)spec->in_c * spec->in_h * spec->in_w;
        int32_t l;
        for (l = 0; l < m.spec.n_layers; l++)
            acts += m.plan[l].out_numel;
        if (m.total_params > MAX_LOAD_PARAMS || acts > MAX_LOAD_PARAMS)
            return;
    }
    if (!be && lh_backend_select("cpu", 1, &be, &bctx, &err) != 0) {
        fprintf(stderr, "fuzz_ckpt: %s\n", err.msg);
        abort();
    }
    if (lh_model_alloc(&m, be, bctx, 1, &err) != 0) {
        check_error(&err);
        lh_model_free(&m);
        return;
    }
    if (lh_safetensors_parse("fuzz.ckpt", data, size, &f, &err) == 0) {
        if (lh_model_ckpt_load(&m, f, &err) != 0) {
            check_error(&err);
        } else { /* every weight was there as F32 with exactly the model's shape */
            int32_t k, d;
            for (k = 0; k < m.n_params; k++) {
                const lh_param_info *p = &m.params[k];
                int32_t i = lh_safetensors_index(f, p->name);
                CHECK(i >= 0 && strcmp(lh_safetensors_dtype(f, i), "F32") == 0);
                CHECK(lh_safetensors_ndim(f, i) == p->ndim);
                for (d = 0; d < p->ndim; d++)
                    CHECK(lh_safetensors_shape(f, i)[d] == p->shape[d]);
            }
        }
        lh_safetensors_close(f);
    }
    lh_model_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    static lh_model_spec spec;
    lh_safetensors_file *f;
    lh_config *cfg = NULL;
    lh_error err;
    char data_dir[4096];
    if (fd < 0) {
        /* The readers take a path, as the CLI gives them: an in-memory file behind one. */
        fd = memfd_create("fuzz.ckpt", 0);
        CHECK(fd >= 0);
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    err.msg[0] = '\0';
    if (lh_safetensors_parse("fuzz.ckpt", data, size, &f, &err) != 0) {
        check_error(&err);
        return 0; /* the file readers use the same parser: nothing more to see */
    }
    walk_file(f, size);
    if (lh_model_ckpt_read_spec(f, &spec, &err) != 0)
        check_error(&err);
    lh_safetensors_close(f);

    CHECK(ftruncate(fd, 0) == 0);
    CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);
    if (lh_ckpt_read_spec(path, &spec, data_dir, sizeof data_dir, &err) != 0) {
        check_error(&err);
    } else {
        CHECK(memchr(data_dir, 0, sizeof data_dir));
        plan_and_load(&spec, data, size);
    }
    if (lh_ckpt_config_read(path, NULL, &cfg, &err) != 0) {
        check_error(&err);
    } else {
        walk_config(lh_config_root(cfg), 0);
        lh_config_free(cfg);
    }
    return 0;
}
