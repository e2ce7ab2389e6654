/* kernels/cpu/conv_dnn.c — conv2d and the conv+relu+maxpool block as oneDNN primitives.
 *
 * A plan holds one shape's primitives for one algorithm (oneDNN's convolution_direct or
 * convolution_winograd): forward, backward-data, backward-weights and, for the fused block,
 * a ReLU post-op on the forward and max pooling forward/backward with a workspace. Layouts
 * are `any`: oneDNN picks its blocked formats (nChw16c and friends). Each tensor that crosses
 * the plan's edge goes through a port, which is the caller's tensor in PyTorch's layout and,
 * where oneDNN wants another, a plan-owned copy in that layout plus the two reorders between
 * them. Inside the fused block the conv output, the pooled output and the pooling gradient
 * stay in oneDNN's layout; only x, w, p, argmax, dp, dx, dw enter or leave it.
 *
 * The backend's contract keeps argmax as an int32 index within each (H, W) plane, so forward
 * turns the pooling workspace (oneDNN's index within the window, u8 on its JIT kernels) into
 * that and backward turns it back: the backward needs nothing forward kept but p and argmax.
 *
 * The batch is split over the backend's thread pool as the GEMM path splits it: each thread
 * has its own plan for its contiguous slice (with its own stream and scratchpad, so threads
 * never share a primitive's memory), runs oneDNN single-threaded (the pool threads' OpenMP
 * team is 1, gemm.c), and backward-weights sums the threads' partial dw, db in thread order.
 * Results therefore depend on the thread count only. (oneDNN's own OpenMP threading measured
 * 2-3x slower here on a loaded 2-core machine, where a preempted thread stalls its team.)
 *
 * Plans are created on first use of a shape and live until the context closes (a training run
 * sees a handful of shapes: each layer's, at the batch size and the last partial batch).
 * "No kernel" — dnnl_unimplemented, or only a reference (`ref`) implementation, as oneDNN
 * gives on CPUs without the ISA its JIT kernels need, or for Winograd on anything but 3x3
 * stride 1, or a pooling workspace that is not window indices — is a plan that says so, and
 * the caller runs GEMM. */
#include <oneapi/dnnl/dnnl.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/cpu.h"

/* A tensor at the plan's edge: outer in the caller's (or the previous primitive's) layout,
 * inner in the primitive's; inner == outer and no reorders when the two agree. */
typedef struct port {
    dnnl_memory_t outer, inner;
    dnnl_primitive_t to_inner, to_outer;
    int owns_outer;
} port;

struct lh_cpu_dnn_plan {
    lh_cpu_dnn_plan *next;
    lh_conv_shape s;
    lh_pool_shape ps;
    int fused;
    int32_t algorithm;
    int tid;                   /* the pool thread that runs it, on its slice of the batch */
    int bf16;                  /* bf16 src, weights, diff_dst; fp32 everything else */
    dnnl_stream_t strm;
    int usable;                /* 0: oneDNN has no optimised kernel here (run GEMM) */
    dnnl_primitive_t fwd, bwd_data, bwd_weights, pool_fwd, pool_bwd;
    port src, wei, dst;        /* forward: x, w, y (plain) or the conv output (fused, owned) */
    port bd_ddst, bd_wei, bd_dsrc; /* backward-data: dy, w, dx */
    port bw_src, bw_ddst, bw_dwei; /* backward-weights: x, dy, dw */
    int share_ddst;            /* bw_ddst reads bd_ddst's inner copy (same layout) */
    dnnl_memory_t bias, dbias; /* (K), the caller's or zero / scratch */
    port pooled, ws, pool_ddst; /* fused: p, argmax <-> workspace, masked dp */
    dnnl_memory_t scratch;     /* every primitive's scratchpad (NULL: none needs one) */
    dnnl_memory_t pool_dsrc;   /* fused: the conv output's gradient, oneDNN's layout */
    float *zero_k, *scratch_k; /* (K): bias when b is NULL, db when db is NULL */
    float *dp_masked;          /* fused: (N, K, POH, POW) */
    int32_t *ws_index;         /* fused: (N, K, POH, POW) window indices */
};

struct lh_cpu_dnn {
    dnnl_engine_t eng;
    lh_cpu_dnn_plan *plans;
};

/* ---- small helpers ------------------------------------------------------------------------- */

static int dnn_fail(lh_backend_ctx *ctx, dnnl_status_t st, const char *what)
{
    return lh_cpu_fail(ctx, st == dnnl_out_of_memory ? LH_BACKEND_ENOMEM : LH_BACKEND_EINVAL,
                       "cpu: oneDNN %s failed (status %d)", what, (int)st);
}

/* Runs on a pool thread: the status is the thread's, turned into an error by job_status. */
static int exec(dnnl_stream_t strm, dnnl_primitive_t prim, int n, const dnnl_exec_arg_t *args)
{
    dnnl_status_t st = dnnl_primitive_execute(prim, strm, n, args);
    if (st == dnnl_success)
        st = dnnl_stream_wait(strm);
    return (int)st;
}

static void md_plain(dnnl_memory_desc_t *md, int nd, int64_t d0, int64_t d1, int64_t d2,
                     int64_t d3, dnnl_data_type_t dt)
{
    dnnl_dims_t dims = {d0, d1, d2, d3};
    static const dnnl_format_tag_t tags[] = {dnnl_format_tag_undef, dnnl_a, dnnl_ab, dnnl_abc,
                                             dnnl_abcd};
    dnnl_memory_desc_init_by_tag(md, nd, dims, dt, tags[nd]);
}

static void md_any(dnnl_memory_desc_t *md, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                   dnnl_data_type_t dt)
{
    dnnl_dims_t dims = {d0, d1, d2, d3};
    dnnl_memory_desc_init_by_tag(md, 4, dims, dt, dnnl_format_tag_any);
}

static dnnl_status_t reorder_new(lh_cpu_dnn *d, dnnl_primitive_t *out,
                                 const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to)
{
    dnnl_primitive_desc_t pd;
    dnnl_status_t st = dnnl_reorder_primitive_desc_create(&pd, from, d->eng, to, d->eng, NULL);
    if (st != dnnl_success)
        return st;
    st = dnnl_primitive_create(out, pd);
    dnnl_primitive_desc_destroy(pd);
    return st;
}

/* outer: a borrowed memory (owns 0) or NULL to make one on outer_md, with a buffer when
 * `alloc` (plan-owned) or without (the caller's, handle set per call). */
static dnnl_status_t port_init(lh_cpu_dnn *d, port *p, dnnl_memory_t outer,
                               const dnnl_memory_desc_t *outer_md, int alloc,
                               const dnnl_memory_desc_t *want)
{
    dnnl_status_t st = dnnl_success;
    if (!outer) {
        st = dnnl_memory_create(&p->outer, outer_md, d->eng,
                                alloc ? DNNL_MEMORY_ALLOCATE : DNNL_MEMORY_NONE);
        if (st != dnnl_success)
            return st;
        p->owns_outer = 1;
    } else {
        p->outer = outer;
    }
    if (dnnl_memory_desc_equal(outer_md, want)) {
        p->inner = p->outer;
        return dnnl_success;
    }
    if ((st = dnnl_memory_create(&p->inner, want, d->eng, DNNL_MEMORY_ALLOCATE)) ||
        (st = reorder_new(d, &p->to_inner, outer_md, want)) ||
        (st = reorder_new(d, &p->to_outer, want, outer_md)))
        return st;
    return dnnl_success;
}

static void port_free(port *p)
{
    if (p->to_inner)
        dnnl_primitive_destroy(p->to_inner);
    if (p->to_outer)
        dnnl_primitive_destroy(p->to_outer);
    if (p->inner && p->inner != p->outer)
        dnnl_memory_destroy(p->inner);
    if (p->owns_outer && p->outer)
        dnnl_memory_destroy(p->outer);
    memset(p, 0, sizeof *p);
}

/* The inner memory holding `data` (NULL: outer's current contents) in the primitive's layout. */
static int port_in(dnnl_stream_t strm, port *p, const void *data, dnnl_memory_t *out)
{
    if (data)
        dnnl_memory_set_data_handle(p->outer, (void *)data);
    *out = p->inner;
    if (!p->to_inner)
        return LH_BACKEND_OK;
    dnnl_exec_arg_t a[] = {{DNNL_ARG_FROM, p->outer}, {DNNL_ARG_TO, p->inner}};
    return exec(strm, p->to_inner, 2, a);
}

/* Where the primitive writes the result bound for `data`; port_out_done moves it there. */
static dnnl_memory_t port_out(port *p, void *data)
{
    if (data)
        dnnl_memory_set_data_handle(p->outer, data);
    return p->inner;
}

static int port_out_done(dnnl_stream_t strm, port *p)
{
    if (!p->to_outer)
        return LH_BACKEND_OK;
    dnnl_exec_arg_t a[] = {{DNNL_ARG_FROM, p->inner}, {DNNL_ARG_TO, p->outer}};
    return exec(strm, p->to_outer, 2, a);
}


/* ---- plans --------------------------------------------------------------------------------- */

static void plan_free(lh_cpu_dnn_plan *pl)
{
    dnnl_primitive_t prims[] = {pl->fwd, pl->bwd_data, pl->bwd_weights, pl->pool_fwd,
                                pl->pool_bwd};
    port *ports[] = {&pl->src, &pl->wei, &pl->dst, &pl->bd_ddst, &pl->bd_wei, &pl->bd_dsrc,
                     &pl->bw_src, &pl->bw_ddst, &pl->bw_dwei, &pl->pooled, &pl->ws,
                     &pl->pool_ddst};
    for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++)
        if (prims[i])
            dnnl_primitive_destroy(prims[i]);
    for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++)
        port_free(ports[i]);
    if (pl->strm)
        dnnl_stream_destroy(pl->strm);
    if (pl->bias)
        dnnl_memory_destroy(pl->bias);
    if (pl->dbias)
        dnnl_memory_destroy(pl->dbias);
    if (pl->pool_dsrc)
        dnnl_memory_destroy(pl->pool_dsrc);
    if (pl->scratch)
        dnnl_memory_destroy(pl->scratch);
    free(pl->zero_k);
    free(pl->scratch_k);
    free(pl->dp_masked);
    free(pl->ws_index);
    free(pl);
}

/* pd from op descriptor `op` (with attr, hint); *usable = 0 for no kernel or a `ref` one. */
static dnnl_status_t pd_new(lh_cpu_dnn *d, dnnl_primitive_desc_t *pd, const_dnnl_op_desc_t op,
                            const_dnnl_primitive_attr_t attr, const_dnnl_primitive_desc_t hint,
                            lh_cpu_dnn_plan *pl)
{
    const char *impl = NULL;
    dnnl_status_t st = dnnl_primitive_desc_create(pd, op, attr, d->eng, hint);
    if (st == dnnl_unimplemented) {
        *pd = NULL;
        pl->usable = 0;
        return dnnl_success;
    }
    if (st != dnnl_success)
        return st;
    dnnl_primitive_desc_query(*pd, dnnl_query_impl_info_str, 0, &impl);
    if (!impl || strstr(impl, "ref"))
        pl->usable = 0;
    return dnnl_success;
}

static const dnnl_memory_desc_t *q(const_dnnl_primitive_desc_t pd, dnnl_query_t what)
{
    return dnnl_primitive_desc_query_md(pd, what, 0);
}

/* Build every primitive and port of pl (its shape, algorithm and fused set). */
static dnnl_status_t plan_build(lh_cpu_dnn *d, lh_cpu_dnn_plan *pl)
{
    const lh_conv_shape *s = &pl->s;
    const lh_pool_shape *ps = &pl->ps;
    dnnl_alg_kind_t alg = pl->algorithm == LH_CONV_ALGO_WINOGRAD ? dnnl_convolution_winograd
                                                                 : dnnl_convolution_direct;
    dnnl_memory_desc_t x_md, w_md, b_md, y_md, x_any, w_any, y_any, x_in, w_in, dy_in;
    dnnl_dims_t strides = {s->stride, s->stride}, pad_l = {s->pad, s->pad};
    dnnl_dims_t pad_r = {(int64_t)(s->oh - 1) * s->stride + s->r - s->h - s->pad,
                         (int64_t)(s->ow - 1) * s->stride + s->s - s->w - s->pad};
    dnnl_convolution_desc_t fd, bdd, bwd;
    dnnl_primitive_desc_t fpd = NULL, dpd = NULL, wpd = NULL, pfpd = NULL, pbpd = NULL;
    dnnl_primitive_attr_t attr = NULL, fattr = NULL; /* fattr: the forward's (ReLU if fused) */
    dnnl_post_ops_t po = NULL;
    dnnl_status_t st;

    md_plain(&x_md, 4, s->n, s->c, s->h, s->w, dnnl_f32);
    md_plain(&w_md, 4, s->k, s->c, s->r, s->s, dnnl_f32);
    md_plain(&b_md, 1, s->k, 0, 0, 0, dnnl_f32);
    md_plain(&y_md, 4, s->n, s->k, s->oh, s->ow, dnnl_f32);
    /* what the primitives read (x, w, dy) is bf16 under bf16-mixed; what they write is fp32 */
    dnnl_data_type_t in_dt = pl->bf16 ? dnnl_bf16 : dnnl_f32;
    md_any(&x_any, s->n, s->c, s->h, s->w, dnnl_f32);
    md_any(&w_any, s->k, s->c, s->r, s->s, dnnl_f32);
    md_any(&y_any, s->n, s->k, s->oh, s->ow, dnnl_f32);
    md_any(&x_in, s->n, s->c, s->h, s->w, in_dt);
    md_any(&w_in, s->k, s->c, s->r, s->s, in_dt);
    md_any(&dy_in, s->n, s->k, s->oh, s->ow, in_dt);
    pl->usable = 1;

    if ((st = dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, alg, &x_in, &w_in,
                                                 &b_md, &y_any, strides, pad_l, pad_r)) ||
        (st = dnnl_convolution_backward_data_desc_init(&bdd, alg, &x_any, &w_in, &dy_in,
                                                       strides, pad_l, pad_r)) ||
        (st = dnnl_convolution_backward_weights_desc_init(&bwd, alg, &x_in, &w_any, &b_md,
                                                          &dy_in, strides, pad_l, pad_r)))
        goto done;
    /* Each plan brings its own scratchpad: the library's default one is shared by primitives
     * that the pool's threads run at once. */
    if ((st = dnnl_primitive_attr_create(&attr)) || (st = dnnl_primitive_attr_create(&fattr)) ||
        (st = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user)) ||
        (st = dnnl_primitive_attr_set_scratchpad_mode(fattr, dnnl_scratchpad_mode_user)))
        goto done;
    if (pl->fused) {
        if ((st = dnnl_post_ops_create(&po)) ||
            (st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f)) ||
            (st = dnnl_primitive_attr_set_post_ops(fattr, po)))
            goto done;
    }
    if ((st = pd_new(d, &fpd, &fd, fattr, NULL, pl)) || !pl->usable ||
        (st = pd_new(d, &dpd, &bdd, attr, fpd, pl)) || !pl->usable ||
        (st = pd_new(d, &wpd, &bwd, attr, fpd, pl)) || !pl->usable)
        goto done;
    if ((st = dnnl_primitive_create(&pl->fwd, fpd)) ||
        (st = dnnl_primitive_create(&pl->bwd_data, dpd)) ||
        (st = dnnl_primitive_create(&pl->bwd_weights, wpd)) ||
        (st = port_init(d, &pl->src, NULL, &x_md, 0, q(fpd, dnnl_query_src_md))) ||
        (st = port_init(d, &pl->wei, NULL, &w_md, 0, q(fpd, dnnl_query_weights_md))) ||
        (st = port_init(d, &pl->bd_wei, NULL, &w_md, 0, q(dpd, dnnl_query_weights_md))) ||
        (st = port_init(d, &pl->bd_dsrc, NULL, &x_md, 0, q(dpd, dnnl_query_diff_src_md))) ||
        (st = port_init(d, &pl->bw_src, NULL, &x_md, 0, q(wpd, dnnl_query_src_md))) ||
        (st = port_init(d, &pl->bw_dwei, NULL, &w_md, 0, q(wpd, dnnl_query_diff_weights_md))) ||
        (st = dnnl_memory_create(&pl->bias, &b_md, d->eng, DNNL_MEMORY_NONE)) ||
        (st = dnnl_memory_create(&pl->dbias, &b_md, d->eng, DNNL_MEMORY_NONE)))
        goto done;

    const dnnl_memory_desc_t *ddst_outer = &y_md;
    dnnl_memory_t ddst_mem = NULL;
    if (!pl->fused) {
        st = port_init(d, &pl->dst, NULL, &y_md, 0, q(fpd, dnnl_query_dst_md));
    } else {
        /* conv output, pooled output and pooling gradient in oneDNN's layouts */
        const dnnl_memory_desc_t *cy = q(fpd, dnnl_query_dst_md);
        dnnl_memory_desc_t p_md, p_any, i_md;
        dnnl_dims_t pk = {ps->size, ps->size}, pst = {ps->stride, ps->stride}, p0 = {0, 0};
        dnnl_dims_t ppr = {(int64_t)(ps->oh - 1) * ps->stride + ps->size - ps->h,
                           (int64_t)(ps->ow - 1) * ps->stride + ps->size - ps->w};
        dnnl_pooling_desc_t pfd, pbd;
        md_plain(&p_md, 4, ps->n, ps->c, ps->oh, ps->ow, dnnl_f32);
        md_plain(&i_md, 4, ps->n, ps->c, ps->oh, ps->ow, dnnl_s32);
        md_any(&p_any, ps->n, ps->c, ps->oh, ps->ow, dnnl_f32);
        if ((st = port_init(d, &pl->dst, NULL, cy, 1, cy)) ||
            (st = dnnl_pooling_forward_desc_init(&pfd, dnnl_forward_training, dnnl_pooling_max,
                                                 cy, &p_any, pst, pk, p0, ppr)) ||
            (st = pd_new(d, &pfpd, &pfd, attr, NULL, pl)) || !pl->usable)
            goto done;
        const dnnl_memory_desc_t *py = q(pfpd, dnnl_query_dst_md);
        const dnnl_memory_desc_t *wsd = q(pfpd, dnnl_query_workspace_md);
        if (!wsd || (wsd->data_type != dnnl_u8 && wsd->data_type != dnnl_s32)) {
            pl->usable = 0; /* a workspace we cannot read as window indices */
            goto done;
        }
        if ((st = dnnl_pooling_backward_desc_init(&pbd, dnnl_pooling_max, cy, py, pst, pk, p0,
                                                  ppr)) ||
            (st = pd_new(d, &pbpd, &pbd, attr, pfpd, pl)) || !pl->usable)
            goto done;
        if ((st = dnnl_primitive_create(&pl->pool_fwd, pfpd)) ||
            (st = dnnl_primitive_create(&pl->pool_bwd, pbpd)) ||
            (st = port_init(d, &pl->pooled, NULL, &p_md, 0, py)) ||
            (st = port_init(d, &pl->ws, NULL, &i_md, 0, wsd)) ||
            (st = port_init(d, &pl->pool_ddst, NULL, &p_md, 0, q(pbpd, dnnl_query_diff_dst_md))) ||
            (st = dnnl_memory_create(&pl->pool_dsrc, q(pbpd, dnnl_query_diff_src_md), d->eng,
                                     DNNL_MEMORY_ALLOCATE)))
            goto done;
        ddst_outer = q(pbpd, dnnl_query_diff_src_md);
        ddst_mem = pl->pool_dsrc;
        size_t np = (size_t)ps->n * ps->c * ps->oh * ps->ow;
        pl->dp_masked = malloc(np * sizeof(float) + 1);
        pl->ws_index = malloc(np * sizeof(int32_t) + 1);
        if (!pl->dp_masked || !pl->ws_index) {
            st = dnnl_out_of_memory;
            goto done;
        }
    }
    if (st ||
        (st = port_init(d, &pl->bd_ddst, ddst_mem, ddst_outer, 0,
                        q(dpd, dnnl_query_diff_dst_md))))
        goto done;
    pl->share_ddst = dnnl_memory_desc_equal(q(dpd, dnnl_query_diff_dst_md),
                                            q(wpd, dnnl_query_diff_dst_md));
    if (!pl->share_ddst &&
        (st = port_init(d, &pl->bw_ddst, ddst_mem, ddst_outer, 0,
                        q(wpd, dnnl_query_diff_dst_md))))
        goto done;
    const dnnl_memory_desc_t *big = NULL; /* the largest scratchpad serves all in turn */
    const_dnnl_primitive_desc_t all[] = {fpd, dpd, wpd, pfpd, pbpd};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const dnnl_memory_desc_t *m = all[i] ? q(all[i], dnnl_query_scratchpad_md) : NULL;
        if (m && (!big || dnnl_memory_desc_get_size(m) > dnnl_memory_desc_get_size(big)))
            big = m;
    }
    if (big && dnnl_memory_desc_get_size(big) > 0 &&
        (st = dnnl_memory_create(&pl->scratch, big, d->eng, DNNL_MEMORY_ALLOCATE)))
        goto done;
    pl->zero_k = calloc((size_t)s->k, sizeof(float));
    pl->scratch_k = calloc((size_t)s->k, sizeof(float));
    if (!pl->zero_k || !pl->scratch_k)
        st = dnnl_out_of_memory;
done:
    if (po)
        dnnl_post_ops_destroy(po);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    if (fattr)
        dnnl_primitive_attr_destroy(fattr);
    dnnl_primitive_desc_t pds[] = {fpd, dpd, wpd, pfpd, pbpd};
    for (size_t i = 0; i < sizeof pds / sizeof pds[0]; i++)
        if (pds[i])
            dnnl_primitive_desc_destroy(pds[i]);
    return st;
}

static int same_plan(const lh_cpu_dnn_plan *pl, const lh_conv_shape *s, const lh_pool_shape *ps,
                     int32_t algorithm, int tid, int bf16)
{
    return pl->algorithm == algorithm && pl->tid == tid && pl->bf16 == bf16 &&
           memcmp(&pl->s, s, sizeof *s) == 0 &&
           pl->fused == (ps != NULL) && (!ps || memcmp(&pl->ps, ps, sizeof *ps) == 0);
}

/* Thread tid's plan for its slice (ss, sps) of the batch; created here on first use (on the
 * calling thread, whose OpenMP team is 1: the plan's work partition is one thread's). */
static int plan_for(lh_backend_ctx *ctx, const lh_conv_shape *ss, const lh_pool_shape *sps,
                    int32_t algorithm, int tid, lh_cpu_dnn_plan **out)
{
    lh_cpu_dnn *d = ctx->dnn;
    int bf16 = ctx->precision == LH_PRECISION_BF16_MIXED;
    dnnl_status_t st;
    *out = NULL;
    if (!d) {
        if (!(d = calloc(1, sizeof *d)))
            return lh_cpu_fail(ctx, LH_BACKEND_ENOMEM, "cpu: out of memory for oneDNN");
        if ((st = dnnl_engine_create(&d->eng, dnnl_cpu, 0))) {
            free(d);
            return dnn_fail(ctx, st, "engine");
        }
        ctx->dnn = d;
    }
    for (lh_cpu_dnn_plan *pl = d->plans; pl; pl = pl->next)
        if (same_plan(pl, ss, sps, algorithm, tid, bf16)) {
            *out = pl;
            return LH_BACKEND_OK;
        }
    lh_cpu_dnn_plan *pl = calloc(1, sizeof *pl);
    if (!pl)
        return lh_cpu_fail(ctx, LH_BACKEND_ENOMEM, "cpu: out of memory for a oneDNN plan");
    pl->s = *ss, pl->fused = sps != NULL, pl->algorithm = algorithm, pl->tid = tid;
    pl->bf16 = bf16;
    if (sps)
        pl->ps = *sps;
    st = dnnl_stream_create(&pl->strm, d->eng, dnnl_stream_default_flags);
    if (st == dnnl_success)
        st = plan_build(d, pl);
    if (st != dnnl_success) {
        plan_free(pl);
        return dnn_fail(ctx, st, "primitive creation");
    }
    if (!pl->usable) { /* keep only the verdict */
        lh_cpu_dnn_plan *v = calloc(1, sizeof *v);
        if (v)
            v->s = pl->s, v->ps = pl->ps, v->fused = pl->fused, v->algorithm = algorithm,
            v->tid = tid, v->bf16 = bf16;
        plan_free(pl);
        if (!v)
            return lh_cpu_fail(ctx, LH_BACKEND_ENOMEM, "cpu: out of memory for a oneDNN plan");
        pl = v;
    }
    pl->next = d->plans;
    d->plans = pl;
    *out = pl;
    return LH_BACKEND_OK;
}

/* Thread tid's slice [lo, hi) of the batch as a shape (n = hi - lo). */
static void slice(const lh_conv_shape *s, const lh_pool_shape *ps, int tid, int nt,
                  lh_conv_shape *ss, lh_pool_shape *sps, int64_t *lo)
{
    int64_t hi;
    lh_cpu_split(s->n, tid, nt, lo, &hi);
    *ss = *s;
    ss->n = (int32_t)(hi - *lo);
    if (ps)
        *sps = *ps, sps->n = ss->n;
}

int lh_cpu_dnn_plans(lh_backend_ctx *ctx, const lh_conv_shape *s, const lh_pool_shape *ps,
                     int32_t algorithm, lh_cpu_dnn_plan **pl)
{
    int usable = 1;
    for (int t = 0; t < ctx->nthreads; t++) {
        lh_conv_shape ss;
        lh_pool_shape sps;
        int64_t lo;
        slice(s, ps, t, ctx->nthreads, &ss, &sps, &lo);
        pl[t] = NULL;
        if (ss.n == 0)
            continue; /* this thread idles */
        int rc = plan_for(ctx, &ss, ps ? &sps : NULL, algorithm, t, &pl[t]);
        if (rc)
            return rc;
        usable &= pl[t]->usable;
    }
    return usable;
}

void lh_cpu_dnn_drop(lh_backend_ctx *ctx, const lh_conv_shape *s, const lh_pool_shape *ps,
                     int32_t algorithm)
{
    int bf16 = ctx->precision == LH_PRECISION_BF16_MIXED;
    for (lh_cpu_dnn_plan **at = ctx->dnn ? &ctx->dnn->plans : NULL; at && *at;) {
        lh_cpu_dnn_plan *pl = *at;
        lh_conv_shape ss;
        lh_pool_shape sps;
        int64_t lo;
        slice(s, ps, pl->tid, ctx->nthreads, &ss, &sps, &lo);
        if (same_plan(pl, &ss, ps ? &sps : NULL, algorithm, pl->tid, bf16)) {
            *at = pl->next;
            plan_free(pl);
        } else {
            at = &pl->next;
        }
    }
}

void lh_cpu_dnn_release(lh_backend_ctx *ctx)
{
    lh_cpu_dnn *d = ctx->dnn;
    if (!d)
        return;
    while (d->plans) {
        lh_cpu_dnn_plan *pl = d->plans;
        d->plans = pl->next;
        plan_free(pl);
    }
    dnnl_engine_destroy(d->eng);
    free(d);
    ctx->dnn = NULL;
}

/* A plan's primitive with the plan's scratchpad added to its n arguments (at most 7). */
static int run(lh_cpu_dnn_plan *pl, dnnl_primitive_t prim, int n, const dnnl_exec_arg_t *args)
{
    dnnl_exec_arg_t all[8];
    memcpy(all, args, sizeof *args * (size_t)n);
    if (pl->scratch)
        all[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, pl->scratch};
    return exec(pl->strm, prim, n, all);
}

/* ---- running a plan ------------------------------------------------------------------------ */

/* The pooling workspace's window index (kh * size + kw) <-> argmax's index in the (H, W)
 * plane, over the (N, K, POH, POW) outputs in PyTorch's order. */
static void window_to_plane(const lh_pool_shape *ps, int32_t *idx)
{
    int64_t planes = (int64_t)ps->n * ps->c;
    for (int64_t pl = 0; pl < planes; pl++)
        for (int oy = 0; oy < ps->oh; oy++)
            for (int ox = 0; ox < ps->ow; ox++, idx++) {
                int kh = *idx / ps->size, kw = *idx % ps->size;
                *idx = (oy * ps->stride + kh) * ps->w + ox * ps->stride + kw;
            }
}

static void plane_to_window(const lh_pool_shape *ps, const int32_t *argmax, int32_t *idx)
{
    int64_t planes = (int64_t)ps->n * ps->c;
    for (int64_t pl = 0; pl < planes; pl++)
        for (int oy = 0; oy < ps->oh; oy++)
            for (int ox = 0; ox < ps->ow; ox++, idx++, argmax++) {
                int a = *argmax, y = a / ps->w - oy * ps->stride, x = a % ps->w - ox * ps->stride;
                /* an index outside its window (not one forward wrote) must not send oneDNN's
                 * scatter outside the tensor: it lands on the window's first element */
                *idx = y >= 0 && y < ps->size && x >= 0 && x < ps->size ? y * ps->size + x : 0;
            }
}

static int forward(lh_cpu_dnn_plan *pl, const float *x, const float *w,
                   const float *b, float *y, int32_t *argmax)
{
    dnnl_memory_t src, wei;
    int rc;
    if ((rc = port_in(pl->strm, &pl->src, x, &src)) || (rc = port_in(pl->strm, &pl->wei, w, &wei)))
        return rc;
    dnnl_memory_set_data_handle(pl->bias, (void *)(b ? b : pl->zero_k));
    dnnl_memory_t dst = port_out(&pl->dst, pl->fused ? NULL : y);
    dnnl_exec_arg_t ca[] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei},
                            {DNNL_ARG_BIAS, pl->bias}, {DNNL_ARG_DST, dst}};
    if ((rc = run(pl, pl->fwd, 4, ca)))
        return rc;
    if (!pl->fused)
        return port_out_done(pl->strm, &pl->dst);
    dnnl_memory_t pooled = port_out(&pl->pooled, y), ws = port_out(&pl->ws, argmax);
    dnnl_exec_arg_t pa[] = {{DNNL_ARG_SRC, dst}, {DNNL_ARG_DST, pooled},
                            {DNNL_ARG_WORKSPACE, ws}};
    if ((rc = run(pl, pl->pool_fwd, 3, pa)) ||
        (rc = port_out_done(pl->strm, &pl->pooled)) || (rc = port_out_done(pl->strm, &pl->ws)))
        return rc;
    window_to_plane(&pl->ps, argmax);
    return LH_BACKEND_OK;
}

/* Fused: the conv output's gradient in pool_dsrc = pool_backward(dp * (p > 0)) (relu's mask
 * is p > 0 where the window's maximum sits, and every other element's gradient is 0). */
static int pool_backward(lh_cpu_dnn_plan *pl, const float *p,
                         const int32_t *argmax, const float *dp)
{
    const lh_pool_shape *ps = &pl->ps;
    int64_t np = (int64_t)ps->n * ps->c * ps->oh * ps->ow;
    dnnl_memory_t ddst, ws;
    int rc;
    for (int64_t i = 0; i < np; i++)
        pl->dp_masked[i] = p[i] > 0.0f ? dp[i] : 0.0f;
    plane_to_window(ps, argmax, pl->ws_index);
    if ((rc = port_in(pl->strm, &pl->pool_ddst, pl->dp_masked, &ddst)) ||
        (rc = port_in(pl->strm, &pl->ws, pl->ws_index, &ws)))
        return rc;
    dnnl_exec_arg_t a[] = {{DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_WORKSPACE, ws},
                           {DNNL_ARG_DIFF_SRC, pl->pool_dsrc}};
    return run(pl, pl->pool_bwd, 3, a);
}

static int backward(lh_cpu_dnn_plan *pl, const float *x, const float *w,
                    const float *p, const int32_t *argmax, const float *dy, float *dx,
                    float *dw, float *db)
{
    dnnl_memory_t ddst_d, ddst_w, src, wei;
    const float *g = pl->fused ? NULL : dy; /* fused: the ports read pool_dsrc */
    int rc;
    if (pl->fused && (rc = pool_backward(pl, p, argmax, dy)))
        return rc;
    if ((rc = port_in(pl->strm, &pl->bd_ddst, g, &ddst_d)))
        return rc;
    if (pl->share_ddst)
        ddst_w = ddst_d;
    else if ((rc = port_in(pl->strm, &pl->bw_ddst, g, &ddst_w)))
        return rc;
    if ((rc = port_in(pl->strm, &pl->bw_src, x, &src)))
        return rc;
    dnnl_memory_set_data_handle(pl->dbias, db ? db : pl->scratch_k);
    dnnl_memory_t dwei = port_out(&pl->bw_dwei, dw);
    dnnl_exec_arg_t wa[] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, ddst_w},
                            {DNNL_ARG_DIFF_WEIGHTS, dwei}, {DNNL_ARG_DIFF_BIAS, pl->dbias}};
    if ((rc = run(pl, pl->bwd_weights, 4, wa)) ||
        (rc = port_out_done(pl->strm, &pl->bw_dwei)))
        return rc;
    if (!dx)
        return LH_BACKEND_OK;
    if ((rc = port_in(pl->strm, &pl->bd_wei, w, &wei)))
        return rc;
    dnnl_memory_t dsrc = port_out(&pl->bd_dsrc, dx);
    dnnl_exec_arg_t da[] = {{DNNL_ARG_DIFF_DST, ddst_d}, {DNNL_ARG_WEIGHTS, wei},
                            {DNNL_ARG_DIFF_SRC, dsrc}};
    if ((rc = run(pl, pl->bwd_data, 3, da)))
        return rc;
    return port_out_done(pl->strm, &pl->bd_dsrc);
}


/* ---- the batch split over the pool ----------------------------------------------------------
 * Thread t runs its own plan on its contiguous slice of the batch; backward-weights writes the
 * thread's partial dw, db into ctx->shared and the partials are summed in thread order, as the
 * GEMM path does, so results depend only on the thread count. */
typedef struct dnn_job {
    lh_backend_ctx *ctx;
    lh_cpu_dnn_plan **pl;
    const lh_conv_shape *s;
    const lh_pool_shape *ps;
    const float *x, *w, *b, *p, *dy;
    const int32_t *cargmax;
    float *y, *dx, *dw, *db;
    int32_t *argmax;
    size_t part_len, part_stride; /* floats of a partial (K*CRS + K), distance between them */
    int status[LH_CPU_MAX_THREADS];
} dnn_job;

static int64_t in_floats(const lh_conv_shape *s) { return (int64_t)s->c * s->h * s->w; }
static int64_t out_floats(const lh_conv_shape *s, const lh_pool_shape *ps)
{
    return ps ? (int64_t)ps->c * ps->oh * ps->ow : (int64_t)s->k * s->oh * s->ow;
}

static void forward_task(void *arg, int tid, int nt)
{
    dnn_job *j = arg;
    lh_cpu_dnn_plan *pl = j->pl[tid];
    int64_t lo, hi, no = out_floats(j->s, j->ps);
    lh_cpu_split(j->s->n, tid, nt, &lo, &hi);
    j->status[tid] = 0;
    if (pl)
        j->status[tid] = forward(pl, j->x + lo * in_floats(j->s), j->w, j->b, j->y + lo * no,
                                 j->argmax ? j->argmax + lo * no : NULL);
}

static void backward_task(void *arg, int tid, int nt)
{
    dnn_job *j = arg;
    lh_cpu_dnn_plan *pl = j->pl[tid];
    int64_t lo, hi, no = out_floats(j->s, j->ps), ni = in_floats(j->s);
    float *dwp = j->ctx->shared + (size_t)tid * j->part_stride;
    float *dbp = dwp + j->part_len - j->s->k;
    lh_cpu_split(j->s->n, tid, nt, &lo, &hi);
    j->status[tid] = 0;
    if (!pl) {
        memset(dwp, 0, sizeof(float) * j->part_len);
        return;
    }
    j->status[tid] = backward(pl, j->x + lo * ni, j->w, j->p ? j->p + lo * no : NULL,
                              j->cargmax ? j->cargmax + lo * no : NULL, j->dy + lo * no,
                              j->dx ? j->dx + lo * ni : NULL, dwp, dbp);
}

static void reduce_task(void *arg, int tid, int nt)
{
    dnn_job *j = arg;
    const int64_t nw = (int64_t)j->part_len - j->s->k;
    int64_t lo, hi;
    lh_cpu_split((int64_t)j->part_len, tid, nt, &lo, &hi);
    if (lo < nw)
        lh_cpu_sum_parts(j->dw, j->ctx->shared, nt, j->part_stride, lo, hi < nw ? hi : nw);
    if (hi > nw && j->db)
        lh_cpu_sum_parts(j->db, j->ctx->shared + nw, nt, j->part_stride, (lo > nw ? lo : nw) - nw,
                         hi - nw);
}

static int job_status(dnn_job *j, const char *what)
{
    for (int t = 0; t < j->ctx->nthreads; t++)
        if (j->status[t])
            return dnn_fail(j->ctx, (dnnl_status_t)j->status[t], what);
    return LH_BACKEND_OK;
}

int lh_cpu_dnn_forward(lh_backend_ctx *ctx, const lh_conv_shape *s, const lh_pool_shape *ps,
                       lh_cpu_dnn_plan **pl, const float *x, const float *w, const float *b,
                       float *y, int32_t *argmax)
{
    dnn_job j = {.ctx = ctx, .pl = pl, .s = s, .ps = ps, .x = x, .w = w, .b = b, .y = y,
                 .argmax = argmax};
    lh_cpu_pool_run(ctx->pool, forward_task, &j);
    return job_status(&j, ps ? "conv2d_relu_maxpool forward" : "conv2d forward");
}

int lh_cpu_dnn_backward(lh_backend_ctx *ctx, const lh_conv_shape *s, const lh_pool_shape *ps,
                        lh_cpu_dnn_plan **pl, const float *x, const float *w, const float *p,
                        const int32_t *argmax, const float *dy, float *dx, float *dw,
                        float *db)
{
    size_t len = (size_t)s->k * s->c * s->r * s->s + (size_t)s->k;
    size_t stride = (len + 15) / 16 * 16; /* keep each partial 64-byte aligned */
    int rc = lh_cpu_reserve(ctx, 0, stride * ctx->nthreads);
    if (rc)
        return rc;
    dnn_job j = {.ctx = ctx, .pl = pl, .s = s, .ps = ps, .x = x, .w = w, .p = p, .dy = dy,
                 .cargmax = argmax, .dx = dx, .dw = dw, .db = db, .part_len = len,
                 .part_stride = stride};
    lh_cpu_pool_run(ctx->pool, backward_task, &j);
    if ((rc = job_status(&j, ps ? "conv2d_relu_maxpool backward" : "conv2d backward")))
        return rc;
    lh_cpu_pool_run(ctx->pool, reduce_task, &j);
    return LH_BACKEND_OK;
}
