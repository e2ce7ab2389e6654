/* host/nn/model_weights.c — model.init_weights (see model_weights.h): the key check here, the
 * loading itself through the checkpoint's weight code (model_ckpt.c), so both read a tensor
 * with the same dtype and shape checks and the same messages. */
#include "model_weights.h"

#include <stdio.h>
#include <string.h>

#include "model_ckpt.h"
#include "safetensors.h"

/* Append "\"name\"" to a ", "-separated list in buf[len], ending it with ", ..." once full. */
static void list_add(char *buf, size_t len, const char *name)
{
    size_t at = strlen(buf);
    if (at >= 5 && strcmp(buf + at - 3, "...") == 0)
        return;
    if (at + strlen(name) + 12 > len) {
        snprintf(buf + at, len - at, "%s...", at ? ", " : "");
        return;
    }
    snprintf(buf + at, len - at, "%s\"%s\"", at ? ", " : "", name);
}

static int is_model_key(const lh_model *m, const char *name)
{
    char buf[256];
    for (int32_t k = 0; k < lh_model_ckpt_n_keys(m); k++)
        if (strcmp(lh_model_ckpt_key(m, k, buf, sizeof buf), name) == 0)
            return 1;
    return 0;
}

/* The keys of m that f lacks and the tensors of f that are no key of m; in an lhost checkpoint
 * the other sections' tensors are not counted as unexpected. */
static void compare_keys(const lh_model *m, const lh_safetensors_file *f,
                         lh_model_weights_report *rep)
{
    const char *format = lh_safetensors_meta_get(f, "format");
    int ckpt = format && strcmp(format, "lhost-checkpoint") == 0;
    char buf[256];
    int32_t k;
    for (k = 0; k < lh_model_ckpt_n_keys(m); k++) {
        const char *key = lh_model_ckpt_key(m, k, buf, sizeof buf);
        if (lh_safetensors_index(f, key) < 0)
            rep->n_missing++, list_add(rep->missing, sizeof rep->missing, key);
    }
    for (k = 0; k < lh_safetensors_count(f); k++) {
        const char *name = lh_safetensors_name(f, k);
        if (is_model_key(m, name))
            rep->loaded++;
        else if (!ckpt)
            rep->n_unexpected++, list_add(rep->unexpected, sizeof rep->unexpected, name);
    }
}

int lh_model_load_weights(lh_model *m, const char *path, int32_t strict,
                          lh_model_weights_report *rep, lh_error *err)
{
    lh_model_weights_report own;
    lh_safetensors_file *f = NULL;
    int rc = -1;
    if (!rep)
        rep = &own;
    memset(rep, 0, sizeof *rep);
    if (lh_safetensors_read(path, &f, err))
        return -1;
    compare_keys(m, f, rep);
    if (strict && (rep->n_missing || rep->n_unexpected)) {
        lh_error_set(err, "%s: %s%s%s%s%s (expected the model's state_dict keys exactly; "
                     "model.init_strict: false keeps the init of missing ones)", path,
                     rep->n_missing ? "missing key(s) " : "", rep->missing,
                     rep->n_missing && rep->n_unexpected ? "; " : "",
                     rep->n_unexpected ? "unexpected key(s) " : "", rep->unexpected);
        goto done;
    }
    if (rep->loaded == 0 && lh_model_ckpt_n_keys(m) > 0) {
        lh_error_set(err, "%s: none of its %d tensors is a key of the model (expected names "
                     "such as \"%s\")", path, (int)lh_safetensors_count(f), m->params[0].name);
        goto done;
    }
    rc = lh_model_ckpt_load_weights(m, f, !strict, err);
done:
    lh_safetensors_close(f);
    return rc;
}
