/* tests/cuda_emu/nccl.h — the part of NCCL kernels/cuda/comm.cu uses, for the host-CPU
 * emulation (see cuda_runtime.h here), so data-parallel training on the CUDA backend's code runs
 * under mpirun on machines without a GPU. The emulated ranks are the job's processes on this
 * machine; they meet in a POSIX shared-memory segment that the unique id names, so a rank that
 * did not receive rank 0's id (the host's MPI broadcast) cannot join. What it checks as NCCL
 * does: device buffers, one device per rank (ncclInvalidUsage, "Duplicate GPU"), counts and
 * ranks. The all-reduce sums the ranks' buffers in rank order (the same bits on every rank);
 * a rank waits at most LHOST_CUDA_EMU_NCCL_TIMEOUT seconds (default 300) for the others. */
#ifndef LH_CUDA_EMU_NCCL_H
#define LH_CUDA_EMU_NCCL_H

#include <stddef.h>

#include "cuda_runtime.h"

#define NCCL_MAJOR 2
#define NCCL_MINOR 28
#define NCCL_PATCH 0
#define NCCL_UNIQUE_ID_BYTES 128

typedef struct {
    char internal[NCCL_UNIQUE_ID_BYTES];
} ncclUniqueId;

typedef enum {
    ncclSuccess = 0,
    ncclUnhandledCudaError = 1,
    ncclSystemError = 2,
    ncclInternalError = 3,
    ncclInvalidArgument = 4,
    ncclInvalidUsage = 5,
    ncclRemoteError = 6,
    ncclInProgress = 7,
} ncclResult_t;

typedef enum { ncclFloat = 7 } ncclDataType_t;
typedef enum { ncclSum = 0 } ncclRedOp_t;

typedef struct lh_emu_nccl *ncclComm_t;

ncclResult_t ncclGetVersion(int *version);
ncclResult_t ncclGetUniqueId(ncclUniqueId *id);
ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank);
ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count,
                           ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm,
                           cudaStream_t stream);
ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *async_error);
ncclResult_t ncclCommDestroy(ncclComm_t comm);
ncclResult_t ncclCommAbort(ncclComm_t comm);
const char *ncclGetErrorString(ncclResult_t result);

#endif
