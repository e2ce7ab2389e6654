/* tests/unit/test_dist.c — host/dist without a launcher: the launcher's variables are read in
 * order and named; a plain process is rank 0 of 1 whose collectives are copies; a build
 * without MPI refuses a launcher that announces several processes, naming the variable.
 * Run: ctest --test-dir build -R test_dist --output-on-failure */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "dist.h"

static void clear_launcher(void)
{
    unsetenv("OMPI_COMM_WORLD_SIZE");
    unsetenv("PMI_SIZE");
    unsetenv("SLURM_NTASKS");
}

START_TEST(launcher_variables_are_named)
{
    const char *var;
    clear_launcher();
    ck_assert_int_eq(lh_dist_launcher_world(&var), 1);
    ck_assert_ptr_null(var);
    setenv("SLURM_NTASKS", "4", 1);
    ck_assert_int_eq(lh_dist_launcher_world(&var), 4);
    ck_assert_str_eq(var, "SLURM_NTASKS");
    setenv("PMI_SIZE", "3", 1);
    ck_assert_int_eq(lh_dist_launcher_world(&var), 3);
    ck_assert_str_eq(var, "PMI_SIZE");
    setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
    ck_assert_int_eq(lh_dist_launcher_world(&var), 2);
    ck_assert_str_eq(var, "OMPI_COMM_WORLD_SIZE");
    setenv("OMPI_COMM_WORLD_SIZE", "x", 1); /* not a count: one process */
    ck_assert_int_eq(lh_dist_launcher_world(&var), 1);
    clear_launcher();
}
END_TEST

START_TEST(local_rank_variables_are_named)
{
    const char *var;
    unsetenv("OMPI_COMM_WORLD_LOCAL_RANK");
    unsetenv("MPI_LOCALRANKID");
    unsetenv("SLURM_LOCALID");
    ck_assert_int_eq(lh_dist_launcher_local_rank(&var), -1);
    ck_assert_ptr_null(var);
    setenv("SLURM_LOCALID", "3", 1);
    ck_assert_int_eq(lh_dist_launcher_local_rank(&var), 3);
    ck_assert_str_eq(var, "SLURM_LOCALID");
    setenv("OMPI_COMM_WORLD_LOCAL_RANK", "1", 1);
    ck_assert_int_eq(lh_dist_launcher_local_rank(&var), 1);
    ck_assert_str_eq(var, "OMPI_COMM_WORLD_LOCAL_RANK");
    setenv("OMPI_COMM_WORLD_LOCAL_RANK", "-2", 1); /* not a rank: the next one's word */
    ck_assert_int_eq(lh_dist_launcher_local_rank(&var), 3);
    ck_assert_str_eq(var, "SLURM_LOCALID");
    unsetenv("OMPI_COMM_WORLD_LOCAL_RANK");
    unsetenv("SLURM_LOCALID");
}
END_TEST

START_TEST(alone_is_rank_0_of_1)
{
    lh_error err;
    float g[3] = {1, 2, 3};
    double d[2] = {4, 5};
    int64_t counts[1];
    void *all;
    clear_launcher();
    ck_assert_int_eq(lh_dist_init(&err), 0);
    ck_assert_int_eq(lh_dist_rank(), 0);
    ck_assert_int_eq(lh_dist_world(), 1);
    ck_assert_str_eq(lh_dist_prefix(), "");
    ck_assert_int_eq(lh_dist_allreduce_f32(g, 3, "g", &err), 0);
    ck_assert(g[0] == 1 && g[2] == 3);
    ck_assert_int_eq(lh_dist_allreduce_f64(d, 2, LH_DIST_MAX, "d", &err), 0);
    ck_assert(d[0] == 4 && d[1] == 5);
    ck_assert_int_eq(lh_dist_allgatherv("abc", 3, &all, counts, "s", &err), 0);
    ck_assert_int_eq(counts[0], 3);
    ck_assert_int_eq(memcmp(all, "abc", 3), 0);
    free(all);
    lh_dist_finalize();
}
END_TEST

START_TEST(without_mpi_a_launcher_is_refused)
{
    lh_error err;
    if (lh_dist_built_with_mpi())
        return; /* MPI would start: the mpirun tests (label mpi) cover that build */
    setenv("PMI_SIZE", "2", 1);
    ck_assert_int_eq(lh_dist_init(&err), -1);
    ck_assert_msg(strstr(err.msg, "PMI_SIZE=2") && strstr(err.msg, "without MPI"), "%s",
                  err.msg);
    clear_launcher();
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {
        launcher_variables_are_named,
        local_rank_variables_are_named,
        alone_is_rank_0_of_1,
        without_mpi_a_launcher_is_refused,
        NULL,
    };
    return check_main("dist", 10, NULL, NULL, tests);
}
