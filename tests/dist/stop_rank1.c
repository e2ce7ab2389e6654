/* tests/dist/stop_rank1.c — a bare callback fixture for the mpirun tests: asks to stop at
 * global step 3 on rank 1 only, so the job stops at the same step on every rank only if the
 * host shares the request. Built by tests/dist/tests.cmake. */
const char lhost_bare_signatures[] =
    "# stop on rank 1 at step 3\n"
    "on_train_batch_end: int stop_rank1(int64 rank, int64 global_step)\n";

int stop_rank1(long rank, long global_step)
{
    return rank == 1 && global_step == 3;
}
