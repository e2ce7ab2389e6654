/* host/train/callback_ckpt.c — the callbacks' checkpoint section (see callback_ckpt.h). */
#include "callback_ckpt.h"

#include <stdlib.h>

#include "instance.h"

int lh_callback_ckpt_save(const lh_dispatch *d, lh_safetensors_writer *w, lh_error *err)
{
    char key[512], ver[16];
    int32_t i;
    for (i = 0; i < lh_dispatch_count(d); i++) {
        lh_instance *inst = lh_dispatch_at(d, i);
        const lhost_callback_vtable *vt = lh_instance_callback(inst);
        const void *data = NULL;
        uint64_t size = 0;
        int64_t len;
        if (!vt->state_save)
            continue;
        /* The bytes stay the plugin's until its next call; lh_safetensors_add copies them. */
        if (vt->state_save(lh_instance_self(inst), inst, &data, &size) != LHOST_OK)
            return lh_error_set(err, "plugin %s: state_save: %s", lh_instance_desc(inst)->id,
                                lh_instance_error(inst));
        len = (int64_t)size;
        snprintf(key, sizeof key, "callback.%s", lh_instance_state_key(inst));
        if (lh_safetensors_add(w, key, "U8", 1, &len, data, size, err))
            return -1;
        snprintf(key, sizeof key, "callback.%s.version", lh_instance_state_key(inst));
        snprintf(ver, sizeof ver, "%u", vt->state_version);
        if (lh_safetensors_meta(w, key, ver, err))
            return -1;
    }
    return 0;
}

int lh_callback_ckpt_load(const lh_dispatch *d, const lh_safetensors_file *f, FILE *note,
                          lh_error *err)
{
    char key[512];
    int32_t i;
    for (i = 0; i < lh_dispatch_count(d); i++) {
        lh_instance *inst = lh_dispatch_at(d, i);
        const lhost_callback_vtable *vt = lh_instance_callback(inst);
        const char *ver;
        int32_t k;
        snprintf(key, sizeof key, "callback.%s", lh_instance_state_key(inst));
        k = lh_safetensors_index(f, key);
        if (k < 0 || !vt->state_restore) {
            if (vt->state_save)
                fprintf(note, "Note: checkpoint has no state for %s; it starts fresh.\n",
                        lh_instance_state_key(inst));
            continue;
        }
        snprintf(key, sizeof key, "callback.%s.version", lh_instance_state_key(inst));
        ver = lh_safetensors_meta_get(f, key);
        if (vt->state_restore(lh_instance_self(inst), inst, ver ? (uint32_t)atol(ver) : 0,
                              lh_safetensors_data(f, k), lh_safetensors_nbytes(f, k)) != LHOST_OK)
            return lh_error_set(err, "plugin %s: state_restore: %s",
                                lh_instance_desc(inst)->id, lh_instance_error(inst));
    }
    return 0;
}
