/* host/dist/dist_local.c — dist.h without MPI: one process, collectives are copies. Built when
 * CMake finds no MPI; refuses to run under a launcher that started several processes, since
 * each would train alone and overwrite the others' files. */
#include "dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lh_dist_init(lh_error *err)
{
    const char *var;
    int64_t n = lh_dist_launcher_world(&var);
    if (n > 1)
        return lh_error_set(err, "%s=%lld says this job has %lld processes, but this lhost was "
                            "built without MPI (install libopenmpi-dev and rebuild); each "
                            "process would train alone and overwrite the others' files",
                            var, (long long)n, (long long)n);
    return 0;
}

void lh_dist_finalize(void) {}
int32_t lh_dist_rank(void) { return 0; }
int32_t lh_dist_world(void) { return 1; }
int32_t lh_dist_local_rank(void) { return 0; }
const char *lh_dist_engine(void) { return "no (single process)"; }
int lh_dist_built_with_mpi(void) { return 0; }

int lh_dist_allreduce_f32(float *buf, int64_t n, const char *what, lh_error *err)
{
    return 0;
}

int lh_dist_allreduce_f64(double *buf, int64_t n, int32_t op, const char *what, lh_error *err)
{
    return 0;
}

int lh_dist_iallreduce_f32(float *buf, int64_t n, const char *what, lh_error *err)
{
    return 0;
}

int lh_dist_wait_all(const char *what, lh_error *err)
{
    return 0;
}

int lh_dist_allgatherv(const void *send, int64_t n, void **recv, int64_t *counts,
                       const char *what, lh_error *err)
{
    if (!(*recv = malloc(n ? (size_t)n : 1)))
        return lh_error_set(err, "out of memory gathering %s", what);
    memcpy(*recv, send, (size_t)n);
    counts[0] = n;
    return 0;
}

int lh_dist_bcast(void *buf, int64_t n, const char *what, lh_error *err)
{
    return 0;
}

void lh_dist_abort(const char *reason)
{
    fprintf(stderr, "lhost: %s\n", reason);
    exit(1);
}
