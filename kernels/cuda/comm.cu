/* kernels/cuda/comm.cu — the backend's collectives over NCCL (lh_backend.comm_* in
 * kernels/backend.h): one communicator per context, joined with the id rank 0 made (the host
 * broadcasts it over MPI: MPI only bootstraps), all-reduces queued on the context's stream after
 * the backward work that wrote the gradient, and a wait with a deadline that aborts the
 * communicator rather than hang when another rank is gone. Built without NCCL (LH_HAVE_NCCL
 * unset) the table's comm members stay NULL and the host all-reduces through MPI. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common.cuh"

#ifdef LH_HAVE_NCCL
#include <nccl.h>

static_assert(sizeof(ncclUniqueId) == LH_COMM_ID_BYTES, "ncclUniqueId is LH_COMM_ID_BYTES");

static int nccl_fail(lh_backend_ctx *ctx, ncclResult_t r, const char *what, int line)
{
    return lh_cuda_fail(ctx, LH_BACKEND_EDEVICE, "comm.cu:%d: %s: %s", line, what,
                        ncclGetErrorString(r));
}

#define LH_NCCL_TRY(ctx, call, what)                                                             \
    do {                                                                                         \
        ncclResult_t r_ = (call);                                                                \
        if (r_ != ncclSuccess)                                                                   \
            return nccl_fail((ctx), r_, (what), __LINE__);                                       \
    } while (0)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int comm_id(lh_backend_ctx *ctx, void *id)
{
    ncclUniqueId u;
    LH_NCCL_TRY(ctx, ncclGetUniqueId(&u), "ncclGetUniqueId");
    memcpy(id, &u, sizeof u);
    return 0;
}

static int comm_init(lh_backend_ctx *ctx, const void *id, int32_t rank, int32_t world)
{
    ncclUniqueId u;
    ncclComm_t c;
    int v = 0;
    size_t len;
    if (ctx->comm)
        return lh_cuda_fail(ctx, LH_BACKEND_EINVAL, "comm_init: this context has a "
                            "communicator already");
    memcpy(&u, id, sizeof u);
    LH_CUDA_TRY(ctx, cudaSetDevice(ctx->device)); /* NCCL takes the current device */
    LH_NCCL_TRY(ctx, ncclCommInitRank(&c, world, u, rank), "ncclCommInitRank");
    ctx->comm = c;
    ncclGetVersion(&v);
    len = strlen(ctx->desc);
    snprintf(ctx->desc + len, sizeof ctx->desc - len, ", NCCL %d.%d.%d rank %d of %d",
             v / 10000, v / 100 % 100, v % 100, (int)rank, (int)world);
    return 0;
}

static int comm_allreduce_sum(lh_backend_ctx *ctx, lh_dmem *buf, int64_t n)
{
    if (!ctx->comm)
        return lh_cuda_fail(ctx, LH_BACKEND_EINVAL, "all-reduce before comm_init");
    LH_NCCL_TRY(ctx, ncclAllReduce(buf, buf, (size_t)n, ncclFloat, ncclSum,
                                   (ncclComm_t)ctx->comm, ctx->stream), "ncclAllReduce");
    return 0;
}

/* Poll the stream (the all-reduce is queued on it) and the communicator's own errors. */
static int comm_wait(lh_backend_ctx *ctx, double timeout_s)
{
    double t0 = now_s();
    struct timespec pause = {0, 20000}; /* 20 us */
    for (;;) {
        ncclResult_t async = ncclSuccess;
        cudaError_t e = cudaStreamQuery(ctx->stream);
        if (e == cudaSuccess)
            return 0;
        if (e != cudaErrorNotReady)
            return lh_cuda_fail_rt(ctx, e, "cudaStreamQuery", __FILE__, __LINE__);
        if (ctx->comm && ncclCommGetAsyncError((ncclComm_t)ctx->comm, &async) == ncclSuccess &&
            async != ncclSuccess && async != ncclInProgress) {
            ncclCommAbort((ncclComm_t)ctx->comm);
            ctx->comm = NULL;
            return nccl_fail(ctx, async, "NCCL all-reduce", __LINE__);
        }
        if (timeout_s > 0 && now_s() - t0 > timeout_s) {
            ncclCommAbort((ncclComm_t)ctx->comm);
            ctx->comm = NULL;
            return lh_cuda_fail(ctx, LH_BACKEND_ETIMEDOUT, "NCCL all-reduce did not complete "
                                "within %g s", timeout_s);
        }
        nanosleep(&pause, NULL);
    }
}

void lh_cuda_comm_table(lh_backend *t)
{
    t->comm_id = comm_id;
    t->comm_init = comm_init;
    t->comm_allreduce_sum = comm_allreduce_sum;
    t->comm_wait = comm_wait;
}

void lh_cuda_comm_close(lh_backend_ctx *ctx)
{
    if (ctx->comm)
        ncclCommDestroy((ncclComm_t)ctx->comm);
    ctx->comm = NULL;
}

#else /* no NCCL: the host all-reduces through MPI */

void lh_cuda_comm_table(lh_backend *t)
{
    (void)t;
}

void lh_cuda_comm_close(lh_backend_ctx *ctx)
{
    (void)ctx;
}

#endif
