/* tests/bare/calls.c — a bare fixture that records what it receives, so the test can check
 * every argument type's conversion through libffi, and returns a scripted code so the test can
 * check the return mapping. Plain C, no lhost header. Built by tests/bare/tests.cmake. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

const char lhost_bare_signatures[] =
    "on_train_epoch_end: int seen(int32 epoch, int64 global_step, double val_acc, float loss, "
    "bool flag, const char *stage, int32 world_size, float batch_idx)\n"
    "on_fit_end: int code(int32 wanted);\n";

/* What seen() got last; the test reads these through dlsym. */
int32_t seen_epoch;
int64_t seen_global_step;
double seen_val_acc;
float seen_loss;
bool seen_flag;
char seen_stage[16];
int32_t seen_world_size;
float seen_batch_idx;
int32_t seen_calls;

int seen(int32_t epoch, int64_t global_step, double val_acc, float loss, bool flag,
         const char *stage, int32_t world_size, float batch_idx)
{
    seen_epoch = epoch;
    seen_global_step = global_step;
    seen_val_acc = val_acc;
    seen_loss = loss;
    seen_flag = flag;
    strncpy(seen_stage, stage, sizeof seen_stage - 1);
    seen_world_size = world_size;
    seen_batch_idx = batch_idx;
    seen_calls++;
    return 0;
}

/* Returns the logged value `wanted` (rounded toward zero by the host). */
int code(int32_t wanted)
{
    return wanted;
}
