/* host/util/child.h — run a function in a forked child with a time limit and collect what it
 * writes.
 *
 * Used to scan plugin files (a crash or hang in a plugin's entry must not take down the host),
 * as GStreamer's plugin scanner does. */
#ifndef LH_CHILD_H
#define LH_CHILD_H

#include <stddef.h>

#include "error.h"

/* The child's job: write its answer to `fd`; the return value becomes the exit status. */
typedef int (*lh_child_fn)(int fd, void *arg);

/* Run `fn(fd, arg)` in a child. On return *out is a malloc'd, NUL-terminated copy of everything
 * written (free it). Returns 0 when the child exited with status 0; otherwise -1 with err =
 * "entry crashed: SIGSEGV", "entry timed out after 5 s" or "scanner exited with status N"
 * (the child is killed and reaped on timeout). */
int lh_child_run(lh_child_fn fn, void *arg, double timeout_s, char **out, lh_error *err);

#endif
