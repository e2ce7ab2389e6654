/* host/util/atomic.h — write a file so that a crash never leaves half of it under its real name.
 *
 * The bytes go to a temporary file in the same directory (".<name>.tmp.<pid>.<n>", created with
 * O_EXCL and mode 0666 & ~umask), which is fsynced, renamed over the target and followed by an
 * fsync of the directory. On any failure the temporary file is removed and whatever was at the
 * target path before is left untouched. Temporary files that dead processes left are removed at
 * the next save into their folder (lh_atomic_remove_stale); readers refuse them
 * (lh_atomic_is_temp_name). Used for checkpoints, metrics.csv and the like.
 *
 * For tests, LHOST_TEST_FULL_DISK=<suffix> makes every write to a target ending with <suffix>
 * fail with ENOSPC (as a full disk would), e.g. LHOST_TEST_FULL_DISK=.ckpt.
 *
 * Streaming use:
 *   lh_atomic_file f;
 *   if (lh_atomic_open(&f, path, err)) return -1;
 *   if (lh_atomic_put(&f, buf, n, err) || lh_atomic_commit(&f, err)) { lh_atomic_abort(&f); return
 * -1; } lh_atomic_abort is safe after a successful commit (it does nothing) and after a failed one.
 */
#ifndef LH_ATOMIC_H
#define LH_ATOMIC_H

#include <stddef.h>

#include "error.h"

typedef struct lh_atomic_file {
    int fd;         /* the temporary file, -1 once closed */
    char *path;     /* target path (owned) */
    char *tmp_path; /* temporary path (owned); NULL once renamed or removed, or when direct */
    int direct;     /* lh_atomic_open_output on a device or FIFO: written in place */
    int errnum;     /* errno of the last failure, 0 when none (for callers' own wording) */
} lh_atomic_file;

/* Create the temporary file next to `path`. Fails (with the path and strerror) when the directory
 * does not exist or cannot be written. */
int lh_atomic_open(lh_atomic_file *f, const char *path, lh_error *err);

/* For a command's output file (`predict --out`): a regular file, or one not there yet, is
 * written as lh_atomic_open does; a character device or FIFO (/dev/stdout, a pipe) is written
 * in place, since renaming over it would replace the device; a directory is refused (EISDIR). */
int lh_atomic_open_output(lh_atomic_file *f, const char *path, lh_error *err);

/* Append `n` bytes (retries short writes and EINTR). */
int lh_atomic_put(lh_atomic_file *f, const void *buf, size_t n, lh_error *err);

/* fsync + close the temporary file, rename it over the target, fsync the directory. On failure
 * the temporary file is removed. Either way `f` needs no further call but may get lh_atomic_abort.
 */
int lh_atomic_commit(lh_atomic_file *f, lh_error *err);

/* Close and remove the temporary file if it still exists; free what `f` owns. */
void lh_atomic_abort(lh_atomic_file *f);

/* One call: write `n` bytes of `buf` to `path` atomically. */
int lh_atomic_write(const char *path, const void *buf, size_t n, lh_error *err);

/* 1 when the last component of `path` has the temporary files' form ".<name>.tmp.<pid>.<n>"
 * (then *pid, when non-NULL, is <pid>), else 0. Readers refuse such a path: it is a save that
 * never finished, not a file lhost wrote. */
int lh_atomic_is_temp_name(const char *path, long *pid);

/* Remove from `dir` the temporary files of processes that no longer run (a save cut short by a
 * crash or a kill). The pid in the name must belong to no process (kill(pid, 0) fails with
 * ESRCH); files of this process and of live ones stay. Returns how many were removed.
 * lh_atomic_open calls it for the target's folder, so the next save into a folder cleans it. */
int lh_atomic_remove_stale(const char *dir);

/* fsync a directory so that a rename inside it is durable. Filesystems that cannot fsync a
 * directory (EINVAL, ENOTSUP) count as success. */
int lh_atomic_fsync_dir(const char *dir, lh_error *err);

#endif
