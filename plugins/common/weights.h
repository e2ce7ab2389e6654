/* plugins/common/weights.h — the model's parameters as one flat float buffer in the host's
 * tensor order (tensor_count / tensor_info), and its buffers (running statistics, batch
 * counts), read and written through the ABI 1.1 tensor and buffer services: what the
 * weight-averaging callbacks (ema, swa) keep their copies in.
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
    /* The buffers (batch norm's running statistics and counts; none on a host without the
     * buffer services or a model without batch norm): nb of them, b_numel each, b_count 1 for
     * an int64 count. The float ones together are b_floats, the counts b_counts. */
    int32_t nb;
    int64_t *b_numel;
    int32_t *b_count;
    int64_t b_floats, b_counts;
} lhp_layout;

static inline void lhp_layout_free(const lhost_host *host, lhp_layout *l)
{
    host->free(l->numel);
    host->free(l->b_numel);
    host->free(l->b_count);
    memset(l, 0, sizeof *l);
}

/* The buffers' part of the layout (after the tensors'). */
static inline int32_t lhp_buffers_layout(const lhost_host *host, lhost_ctx *ctx, lhp_layout *l)
{
    lhost_tensor_info ti;
    int32_t i, rc, n = 0;
    if (!LHOST_HOST_HAS(host, buffer_write) || !LHOST_HOST_HAS(host, buffer_info))
        return LHOST_OK;
    if ((rc = host->buffer_count(ctx, &n)) == LHOST_EUNSUPPORTED)
        return LHOST_OK; /* a host (or test env) that keeps no buffers */
    if (rc != LHOST_OK)
        return rc;
    if (!(l->b_numel = (int64_t *)host->alloc((uint64_t)(n > 0 ? n : 1) * sizeof(int64_t))) ||
        !(l->b_count = (int32_t *)host->alloc((uint64_t)(n > 0 ? n : 1) * sizeof(int32_t))))
        return LHOST_ENOMEM;
    l->nb = n;
    for (i = 0; i < n; i++) {
        memset(&ti, 0, sizeof ti);
        ti.struct_size = sizeof ti;
        if ((rc = host->buffer_info(ctx, i, &ti)) != LHOST_OK)
            return rc;
        l->b_numel[i] = ti.numel;
        l->b_count[i] = ti.dtype == LHOST_TENSOR_I64;
        if (l->b_count[i])
            l->b_counts += ti.numel;
        else
            l->b_floats += ti.numel;
    }
    return LHOST_OK;
}

/* All buffers into floats (l->b_floats) and counts (l->b_counts), or back (write = 1). */
static inline int32_t lhp_buffers_copy(const lhost_host *host, lhost_ctx *ctx,
                                       const lhp_layout *l, float *floats, int64_t *counts,
                                       int32_t write)
{
    int64_t fo = 0, co = 0;
    int32_t i, rc;
    for (i = 0; i < l->nb; i++) {
        void *at = l->b_count[i] ? (void *)(counts + co) : (void *)(floats + fo);
        rc = write ? host->buffer_write(ctx, i, at, (uint64_t)l->b_numel[i])
                   : host->buffer_read(ctx, i, at, (uint64_t)l->b_numel[i]);
        if (rc != LHOST_OK)
            return rc;
        *(l->b_count[i] ? &co : &fo) += l->b_numel[i];
    }
    return LHOST_OK;
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
    return lhp_buffers_layout(host, ctx, l);
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
