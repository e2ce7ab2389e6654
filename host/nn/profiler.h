/* host/nn/profiler.h — `trainer.profiler: simple`: time every backend op, report at the end.
 *
 * The profiler is itself a backend: lh_profiler_wrap replaces (be, ctx) by a table whose ops
 * call the wrapped op, wait for the device (sync) and add the wall time to that op's row. Waiting
 * at each boundary puts the device's time on the op that queued it (on CUDA the figures include ~10
 * us of launch and sync latency per call), and makes the run slower than an unprofiled one. The
 * report, like Lightning's SimpleProfiler, lists each op's mean, calls, total and share of the wall
 * time since wrapping; "host" is what is left: data order, metrics, hooks, logging. */
#ifndef LH_HOST_PROFILER_H
#define LH_HOST_PROFILER_H

#include <stdio.h>

#include "error.h"
#include "kernels/backend.h"

/* Wrap *be / *ctx (already opened); closing the wrapper closes the wrapped backend. */
int lh_profiler_wrap(const lh_backend **be, lh_backend_ctx **ctx, lh_error *err);

/* Whether be is a profiler made by lh_profiler_wrap. */
int lh_profiler_is(const lh_backend *be);

/* Print the table under `title` ("FIT Profiler Report"). */
void lh_profiler_report(const lh_backend *be, lh_backend_ctx *ctx, const char *title, FILE *out);

#endif
