/* plugins/common/weights.h — the model's parameters as one flat float buffer in the host's
 * tensor order (tensor_count / tensor_info), read and written through the ABI 1.1 tensor
 * services: what the weight-averaging callbacks (ema, swa) keep their copies in.
 *
 * Header-only (static inline), private to the reference plugins; built against the SDK alone. */
#ifndef LHP_WEIGHTS_H
#define LHP_WEIGHTS_H

#include <stdint.h>
#include <string.h>

#include <lhost/lhost.h>

typedef struct lhp_layout {
    int32_t n;        /* tensors */
    int64_t *numel;   /* n sizes, host->alloc'd */
    int64_t total;    /* floats in all */
} lhp_layout;

static inline void lhp_layout_free(const lhost_host *host, lhp_layout *l)
{
    host->free(l->numel);
    memset(l, 0, sizeof *l);
}

/* The model's layout; LHOST_EUNSUPPORTED without a model or tensor services. */
static inline int32_t lhp_layout_get(const lhost_host *host, lhost_ctx *ctx, lhp_layout *l)
{
    lhost_tensor_info ti;
    int32_t i, rc, n = 0;
    memset(l, 0, sizeof *l);
    if (!LHOST_HOST_HAS(host, tensor_write) || !LHOST_HOST_HAS(host, tensor_info))
        return LHOST_EUNSUPPORTED;
    if ((rc = host->tensor_count(ctx, &n)) != LHOST_OK)
        return rc;
    if (!(l->numel = (int64_t *)host->alloc((uint64_t)(n > 0 ? n : 1) * sizeof(int64_t))))
        return LHOST_ENOMEM;
    l->n = n;
    for (i = 0; i < n; i++) {
        memset(&ti, 0, sizeof ti);
        ti.struct_size = sizeof ti;
        if ((rc = host->tensor_info(ctx, i, &ti)) != LHOST_OK)
            return rc;
        l->numel[i] = ti.numel;
        l->total += ti.numel;
    }
    return LHOST_OK;
}

/* All parameters into dst (l->total floats). */
static inline int32_t lhp_weights_read(const lhost_host *host, lhost_ctx *ctx,
                                       const lhp_layout *l, float *dst)
{
    int64_t off = 0;
    int32_t i, rc;
    for (i = 0; i < l->n; off += l->numel[i], i++)
        if ((rc = host->tensor_read(ctx, i, LHOST_TENSOR_PARAM, dst + off,
                                    (uint64_t)l->numel[i])) != LHOST_OK)
            return rc;
    return LHOST_OK;
}

/* All parameters from src (l->total floats). */
static inline int32_t lhp_weights_write(const lhost_host *host, lhost_ctx *ctx,
                                        const lhp_layout *l, const float *src)
{
    int64_t off = 0;
    int32_t i, rc;
    for (i = 0; i < l->n; off += l->numel[i], i++)
        if ((rc = host->tensor_write(ctx, i, src + off, (uint64_t)l->numel[i])) != LHOST_OK)
            return rc;
    return LHOST_OK;
}

#endif
