/* host/dist/dist.h — the processes of one training job and the few collectives data-parallel
 * training needs; the only room that knows Open MPI (dist_mpi.c), with a single-process
 * implementation (dist_local.c) when lhost is built without it.
 *
 * One world per process, so the state is the module's own (not passed around). Ranks follow the
 * launcher (mpirun, srun); without a launcher's variables the process is rank 0 of 1 and
 * MPI_Init is never called, so a plain `lhost train` costs nothing and forks freely.
 *
 * Every collective is started nonblocking and waited for with a deadline (lh_dist_set_timeout):
 * when another rank died or hangs the job ends through MPI_Abort with a message naming the
 * collective, rather than hanging. All ranks must call the same collectives in the same order.
 * [main-thread] everything. */
#ifndef LH_DIST_H
#define LH_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define LH_DIST_SUM 0
#define LH_DIST_MAX 1
#define LH_DIST_MIN 2

/* Join the job the launcher started (MPI_Init when its variables say so). Without MPI built
 * in, fails naming the variable when it says the world has more than one process. */
int lh_dist_init(lh_error *err);
/* Leave it (MPI_Finalize once, when init ran it). */
void lh_dist_finalize(void);

int32_t lh_dist_rank(void);
int32_t lh_dist_world(void);
int32_t lh_dist_local_rank(void); /* among the ranks of this machine: picks the GPU */
/* "Open MPI v4.1.4" or "no (single process)": what lhost --version reports. */
const char *lh_dist_engine(void);
int lh_dist_built_with_mpi(void);

/* The world size a launcher's variables announce (OMPI_COMM_WORLD_SIZE, PMI_SIZE,
 * SLURM_NTASKS, the first set), 1 when none is; *var names it (or NULL). */
int64_t lh_dist_launcher_world(const char **var);

/* This process's rank among the job's ranks on its machine as the launcher announces it
 * (OMPI_COMM_WORLD_LOCAL_RANK, MPI_LOCALRANKID, SLURM_LOCALID, the first set), -1 when none
 * does; *var names it (or NULL). lh_dist_local_rank falls back to MPI's shared-memory split. */
int32_t lh_dist_launcher_local_rank(const char **var);

/* Seconds one collective may wait for the other ranks before the job is aborted; 0: forever. */
void lh_dist_set_timeout(double seconds);
double lh_dist_timeout(void);

/* In-place reductions over all ranks; `what` names the data in the timeout message. */
int lh_dist_allreduce_f32(float *buf, int64_t n, const char *what, lh_error *err); /* sum */
int lh_dist_allreduce_f64(double *buf, int64_t n, int32_t op, const char *what, lh_error *err);
/* A sum of `n` floats in place, started now and finished by lh_dist_wait_all; `buf` stays
 * untouched by the caller until then. At most LH_DIST_MAX_PENDING started at once. Lets the
 * trainer reduce finished gradients under the rest of backward. */
#define LH_DIST_MAX_PENDING 64
int lh_dist_iallreduce_f32(float *buf, int64_t n, const char *what, lh_error *err);
/* Finish every started lh_dist_iallreduce_f32 (each with the collectives' deadline). */
int lh_dist_wait_all(const char *what, lh_error *err);
/* Every rank's `n` bytes of `send`, in rank order, into *recv (malloc'ed, caller frees);
 * counts[r] (world entries, caller's) receives rank r's byte count. */
int lh_dist_allgatherv(const void *send, int64_t n, void **recv, int64_t *counts,
                       const char *what, lh_error *err);
/* Rank 0's `n` bytes of buf to every rank. */
int lh_dist_bcast(void *buf, int64_t n, const char *what, lh_error *err);
/* End every rank of the job now with `reason` (printed by this rank first). */
void lh_dist_abort(const char *reason);

/* "[rank N] " on ranks other than 0, "" on rank 0 or alone: the prefix of a rank's messages. */
const char *lh_dist_prefix(void);

#endif
