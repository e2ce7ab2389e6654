/* host/util/paths.h — where the running lhost lives: in its build tree, or installed under some
 * prefix (found from the program's own location, so `cmake --install --prefix P` works without
 * rebuilding). */
#ifndef LH_PATHS_H
#define LH_PATHS_H

#include <stddef.h>
#include <stdio.h>

#include "error.h"

/* 1 when the running executable lies under the build directory (LH_BUILD_DIR). */
int lh_paths_in_build_tree(void);

/* An installed folder: <program's dir>/<reldir> when that exists, else `absolute` (the
 * configured install path). Writes into out (len bytes). */
void lh_paths_installed(const char *reldir, const char *absolute, char *out, size_t len);

/* `mkdir -p path` (mode 0755): every missing folder of `path`; with `parents_only` all but the
 * last component (the folders above a file about to be written). An existing folder is fine.
 * Errors name the folder that could not be made and why. */
int lh_paths_mkdir_p(const char *path, int parents_only, lh_error *err);

/* Open `path` for reading only when it is a regular file. A FIFO, a device or a socket would
 * block the open or the read (`--config /dev/stdin` piped, `mkfifo x.ckpt`), so the file is
 * opened without blocking and its type checked before any read. On failure returns NULL with
 * the cause in why[why_len]: "cannot open: <strerror>" or "not a regular file (a FIFO)". */
FILE *lh_paths_fopen_regular(const char *path, char *why, size_t why_len);

#endif
