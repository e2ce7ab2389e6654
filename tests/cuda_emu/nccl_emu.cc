// tests/cuda_emu/nccl_emu.cc — the emulation of the NCCL calls the CUDA backend makes (what it
// models: tests/cuda_emu/nccl.h). The ranks of one communicator share a POSIX shared-memory
// segment named by the unique id: a header (a barrier, each rank's device) and one slot of
// kChunk floats per rank. An all-reduce goes chunk by chunk: every rank copies its part into
// its slot, waits at the barrier, sums all slots in rank order into its buffer, and waits again
// before the next chunk overwrites the slots.
#include "nccl.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

namespace {

constexpr size_t kChunk = 1 << 16; // floats per rank and round
constexpr int kMaxRanks = 64;

struct shared_header {
    std::atomic<uint32_t> count;      // ranks at the barrier now
    std::atomic<uint32_t> generation; // barriers passed
    int32_t device[kMaxRanks];        // each rank's cudaSetDevice at init
};

} // namespace

struct lh_emu_nccl {
    int rank, world;
    char name[NCCL_UNIQUE_ID_BYTES];
    shared_header *h;
    float *slots; // world x kChunk
    size_t bytes;
};

namespace {

void complain(const char *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void complain(const char *call, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "cuda-emu: %s: ", call);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

double now_s()
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

double wait_limit()
{
    const char *env = getenv("LHOST_CUDA_EMU_NCCL_TIMEOUT");
    return env && *env ? atof(env) : 300;
}

// Every rank of c arrives before any leaves; false past the wait limit.
bool barrier(lh_emu_nccl *c, const char *call)
{
    shared_header *h = c->h;
    uint32_t gen = h->generation.load(std::memory_order_acquire);
    double t0 = now_s(), limit = wait_limit();
    long spins = 0;
    if (h->count.fetch_add(1, std::memory_order_acq_rel) + 1 == (uint32_t)c->world) {
        h->count.store(0, std::memory_order_relaxed);
        h->generation.fetch_add(1, std::memory_order_acq_rel);
        return true;
    }
    while (h->generation.load(std::memory_order_acquire) == gen) {
        if (++spins < 1000) {
            sched_yield();
            continue;
        }
        struct timespec ts = {0, 20000};
        nanosleep(&ts, nullptr); // ranks may share a core: leave it to the others
        if ((spins & 1023) == 0 && limit > 0 && now_s() - t0 > limit) {
            complain(call, "rank %d of %d waited %g s for the other ranks", c->rank, c->world,
                     limit);
            return false;
        }
    }
    return true;
}

} // namespace

ncclResult_t ncclGetVersion(int *version)
{
    *version = NCCL_MAJOR * 10000 + NCCL_MINOR * 100 + NCCL_PATCH;
    return ncclSuccess;
}

ncclResult_t ncclGetUniqueId(ncclUniqueId *id)
{
    static unsigned serial;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    memset(id, 0, sizeof *id);
    snprintf(id->internal, sizeof id->internal, "/lhost-emu-nccl-%d-%u-%ld", (int)getpid(),
             serial++, (long)ts.tv_nsec);
    return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank)
{
    lh_emu_nccl *c;
    int fd, r;
    *comm = nullptr;
    if (nranks < 1 || nranks > kMaxRanks || rank < 0 || rank >= nranks) {
        complain("ncclCommInitRank", "rank %d of %d (the emulation takes 1..%d ranks)", rank,
                 nranks, kMaxRanks);
        return ncclInvalidArgument;
    }
    if (id.internal[0] != '/' || !memchr(id.internal, '\0', sizeof id.internal)) {
        complain("ncclCommInitRank", "the unique id is not one ncclGetUniqueId made");
        return ncclInvalidArgument;
    }
    c = new lh_emu_nccl();
    c->rank = rank, c->world = nranks;
    memcpy(c->name, id.internal, sizeof c->name);
    c->bytes = sizeof(shared_header) + (size_t)nranks * kChunk * sizeof(float);
    fd = shm_open(c->name, O_CREAT | O_RDWR, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)c->bytes) != 0) {
        complain("ncclCommInitRank", "shared memory %s: %s", c->name, strerror(errno));
        if (fd >= 0)
            close(fd);
        delete c;
        return ncclSystemError;
    }
    void *m = mmap(nullptr, c->bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        complain("ncclCommInitRank", "mmap of %s: %s", c->name, strerror(errno));
        delete c;
        return ncclSystemError;
    }
    c->h = (shared_header *)m;
    c->slots = (float *)((char *)m + sizeof(shared_header));
    c->h->device[rank] = lh_emu_current_device();
    // Init is collective: every rank has mapped the segment past this barrier.
    if (!barrier(c, "ncclCommInitRank")) {
        munmap(m, c->bytes);
        delete c;
        return ncclSystemError;
    }
    if (rank == 0)
        shm_unlink(c->name); // every rank holds it mapped; the name is no longer needed
    for (r = 0; r < nranks; r++)
        if (r != rank && c->h->device[r] == c->h->device[rank]) {
            complain("ncclCommInitRank", "Duplicate GPU detected: rank %d and rank %d both on "
                     "device %d", rank, r, c->h->device[rank]);
            munmap(m, c->bytes);
            delete c;
            return ncclInvalidUsage;
        }
    *comm = c;
    return ncclSuccess;
}

ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count,
                           ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm,
                           cudaStream_t stream)
{
    const float *src = (const float *)sendbuff;
    float *dst = (float *)recvbuff;
    if (!comm || !stream || datatype != ncclFloat || op != ncclSum) {
        complain("ncclAllReduce", "comm %p stream %p datatype %d op %d (the emulation sums "
                 "floats)", (void *)comm, (void *)stream, (int)datatype, (int)op);
        return ncclInvalidArgument;
    }
    if (count == 0)
        return ncclSuccess;
    if (!lh_emu_is_device(src, count * sizeof(float)) ||
        !lh_emu_is_device(dst, count * sizeof(float))) {
        complain("ncclAllReduce", "send %p / recv %p + %zu floats are not device memory",
                 sendbuff, recvbuff, count);
        return ncclInvalidArgument;
    }
    for (size_t off = 0; off < count; off += kChunk) {
        size_t len = count - off < kChunk ? count - off : kChunk;
        memcpy(comm->slots + (size_t)comm->rank * kChunk, src + off, len * sizeof(float));
        if (!barrier(comm, "ncclAllReduce"))
            return ncclRemoteError;
        for (size_t i = 0; i < len; i++) {
            float s = comm->slots[i];
            for (int r = 1; r < comm->world; r++)
                s += comm->slots[(size_t)r * kChunk + i];
            dst[off + i] = s;
        }
        if (!barrier(comm, "ncclAllReduce")) // all have read before the slots change
            return ncclRemoteError;
    }
    return ncclSuccess;
}

ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *async_error)
{
    *async_error = ncclSuccess;
    return comm ? ncclSuccess : ncclInvalidArgument;
}

ncclResult_t ncclCommDestroy(ncclComm_t comm)
{
    if (!comm)
        return ncclInvalidArgument;
    munmap(comm->h, comm->bytes);
    delete comm;
    return ncclSuccess;
}

ncclResult_t ncclCommAbort(ncclComm_t comm)
{
    return comm ? ncclCommDestroy(comm) : ncclSuccess;
}

const char *ncclGetErrorString(ncclResult_t result)
{
    switch (result) {
    case ncclSuccess: return "no error";
    case ncclUnhandledCudaError: return "unhandled cuda error";
    case ncclSystemError: return "unhandled system error";
    case ncclInternalError: return "internal error";
    case ncclInvalidArgument: return "invalid argument";
    case ncclInvalidUsage: return "invalid usage";
    case ncclRemoteError: return "remote process exited or there was a network error";
    case ncclInProgress: return "NCCL operation in progress";
    }
    return "unknown result code";
}
