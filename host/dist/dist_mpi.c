/* host/dist/dist_mpi.c — dist.h over Open MPI (any MPI-3 library): the only file that includes
 * mpi.h. MPI_Init runs only when a launcher started this process (its variables are set), so
 * a plain `lhost train` stays a single process that never touches MPI.
 *
 * Collectives are nonblocking ones waited for by a test loop with a deadline, so a rank that
 * died or hangs ends the job through MPI_Abort with the collective's name rather than blocking
 * forever; the loop yields the CPU after a short spin, which matters when ranks share cores. */
#include "dist.h"

#include <limits.h>
#include <mpi.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int32_t rank_, world_ = 1, local_rank_;
static int initialised; /* MPI_Init ran here */

int lh_dist_init(lh_error *err)
{
    const char *var;
    MPI_Comm local;
    int r, w, lr;
    lh_dist_launcher_world(&var);
    if (initialised || !var)
        return 0; /* no launcher: one process, no MPI */
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS)
        return lh_error_set(err, "MPI_Init failed (launched by %s)", var);
    initialised = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    MPI_Comm_size(MPI_COMM_WORLD, &w);
    /* The local rank picks the GPU: the launcher's word, else the rank among the ranks that
     * share this machine's memory (in rank order). The split is collective: every rank makes
     * it, whichever answer it keeps. */
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, r, MPI_INFO_NULL, &local);
    MPI_Comm_rank(local, &lr);
    MPI_Comm_free(&local);
    if (lh_dist_launcher_local_rank(NULL) >= 0)
        lr = lh_dist_launcher_local_rank(NULL);
    rank_ = r, world_ = w, local_rank_ = lr;
    return 0;
}

void lh_dist_finalize(void)
{
    if (initialised) {
        MPI_Finalize();
        initialised = 0;
    }
}

int32_t lh_dist_rank(void) { return rank_; }
int32_t lh_dist_world(void) { return world_; }
int32_t lh_dist_local_rank(void) { return local_rank_; }
int lh_dist_built_with_mpi(void) { return 1; }

const char *lh_dist_engine(void)
{
    static char buf[MPI_MAX_LIBRARY_VERSION_STRING + 32];
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    char *p;
    MPI_Get_library_version(lib, &len);
    lib[len < (int)sizeof lib ? len : (int)sizeof lib - 1] = '\0';
    if ((p = strchr(lib, ',')) || (p = strchr(lib, '\n')))
        *p = '\0';
    snprintf(buf, sizeof buf, "%s", lib);
    return buf;
}

void lh_dist_abort(const char *reason)
{
    fprintf(stderr, "lhost: %s%s\n", lh_dist_prefix(), reason);
    fflush(stderr);
    if (initialised)
        MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

/* Wait for `rq`, aborting the job past the deadline. */
static int wait_for(MPI_Request *rq, const char *op, const char *what)
{
    double t0 = MPI_Wtime(), limit = lh_dist_timeout();
    long spins = 0;
    int done = 0;
    for (;;) {
        if (MPI_Test(rq, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS)
            return -1;
        if (done)
            return 0;
        if (++spins > 2000) {
            struct timespec ts = {0, 20000}; /* 20 us: leave the core to a rank that shares it */
            nanosleep(&ts, NULL);
        } else {
            sched_yield();
        }
        if ((spins & 255) == 0 && limit > 0 && MPI_Wtime() - t0 > limit) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s of %s did not complete within %g s "
                     "(trainer.dist_timeout): another rank died or hangs; aborting the job",
                     op, what, limit);
            lh_dist_abort(msg);
        }
    }
}

static int failed(const char *op, const char *what, lh_error *err)
{
    return lh_error_set(err, "MPI %s of %s failed", op, what);
}

int lh_dist_allreduce_f32(float *buf, int64_t n, const char *what, lh_error *err)
{
    MPI_Request rq;
    if (world_ == 1)
        return 0;
    if (n > INT_MAX)
        return lh_error_set(err, "all-reduce of %s: %lld elements, at most %d", what,
                            (long long)n, INT_MAX);
    if (MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &rq) ||
        wait_for(&rq, "all-reduce", what))
        return failed("all-reduce", what, err);
    return 0;
}

static MPI_Request pending[LH_DIST_MAX_PENDING];
static int n_pending;

int lh_dist_iallreduce_f32(float *buf, int64_t n, const char *what, lh_error *err)
{
    int i, done;
    if (world_ == 1)
        return 0;
    if (n > INT_MAX || n_pending == LH_DIST_MAX_PENDING)
        return lh_error_set(err, "all-reduce of %s: %lld elements with %d started (at most %d "
                            "elements, %d started)", what, (long long)n, n_pending, INT_MAX,
                            LH_DIST_MAX_PENDING);
    if (MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                       &pending[n_pending]))
        return failed("all-reduce", what, err);
    n_pending++;
    /* Open MPI moves a nonblocking collective on only inside MPI calls: one test of each
     * started one here lets the earlier ones advance while backward computes. */
    for (i = 0; i < n_pending; i++)
        MPI_Test(&pending[i], &done, MPI_STATUS_IGNORE);
    return 0;
}

int lh_dist_wait_all(const char *what, lh_error *err)
{
    int i, rc = 0;
    for (i = 0; i < n_pending; i++)
        if (wait_for(&pending[i], "all-reduce", what))
            rc = -1;
    n_pending = 0;
    return rc ? failed("all-reduce", what, err) : 0;
}

int lh_dist_allreduce_f64(double *buf, int64_t n, int32_t op, const char *what, lh_error *err)
{
    MPI_Request rq;
    MPI_Op mop = op == LH_DIST_MAX ? MPI_MAX : op == LH_DIST_MIN ? MPI_MIN : MPI_SUM;
    if (world_ == 1)
        return 0;
    if (n > INT_MAX)
        return lh_error_set(err, "all-reduce of %s: too many elements", what);
    if (MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, mop, MPI_COMM_WORLD, &rq) ||
        wait_for(&rq, "all-reduce", what))
        return failed("all-reduce", what, err);
    return 0;
}

int lh_dist_allgatherv(const void *send, int64_t n, void **recv, int64_t *counts,
                       const char *what, lh_error *err)
{
    MPI_Request rq;
    long long mine = n, *all = NULL;
    int *cnt = NULL, *displ = NULL, r, rc = -1;
    long long total = 0;
    *recv = NULL;
    if (world_ == 1) { /* alone, maybe before any MPI_Init: a copy */
        if (!(*recv = malloc(n ? (size_t)n : 1)))
            return lh_error_set(err, "out of memory gathering %s", what);
        memcpy(*recv, send, (size_t)n);
        counts[0] = n;
        return 0;
    }
    if (!(all = malloc((size_t)world_ * sizeof *all)) ||
        !(cnt = malloc((size_t)world_ * sizeof *cnt)) ||
        !(displ = malloc((size_t)world_ * sizeof *displ))) {
        lh_error_set(err, "out of memory gathering %s", what);
        goto done;
    }
    if (MPI_Iallgather(&mine, 1, MPI_LONG_LONG, all, 1, MPI_LONG_LONG, MPI_COMM_WORLD, &rq) ||
        wait_for(&rq, "all-gather", what)) {
        failed("all-gather", what, err);
        goto done;
    }
    for (r = 0; r < world_; r++) {
        if (total + all[r] > INT_MAX) {
            lh_error_set(err, "all-gather of %s: more than %d bytes", what, INT_MAX);
            goto done;
        }
        cnt[r] = (int)all[r], displ[r] = (int)total, counts[r] = all[r];
        total += all[r];
    }
    if (!(*recv = malloc(total ? (size_t)total : 1))) {
        lh_error_set(err, "out of memory gathering %s", what);
        goto done;
    }
    if (MPI_Iallgatherv(send, (int)n, MPI_BYTE, *recv, cnt, displ, MPI_BYTE, MPI_COMM_WORLD,
                        &rq) ||
        wait_for(&rq, "all-gather", what)) {
        failed("all-gather", what, err);
        goto done;
    }
    rc = 0;
done:
    if (rc) {
        free(*recv);
        *recv = NULL;
    }
    free(all);
    free(cnt);
    free(displ);
    return rc;
}

int lh_dist_bcast(void *buf, int64_t n, const char *what, lh_error *err)
{
    MPI_Request rq;
    if (world_ == 1)
        return 0;
    if (n > INT_MAX)
        return lh_error_set(err, "broadcast of %s: too many bytes", what);
    if (MPI_Ibcast(buf, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD, &rq) ||
        wait_for(&rq, "broadcast", what))
        return failed("broadcast", what, err);
    return 0;
}
