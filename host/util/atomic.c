/* host/util/atomic.c — atomic file replacement: temp file, fsync, rename, fsync dir (see
 * atomic.h). */
#include "atomic.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The directory part of `path` ("." when there is none), malloc'd. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* Parse a run of decimal digits at *p, advancing it; -1 when there is none. */
static long digits(const char **p)
{
    long v = 0;
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return -1;
    while (*s >= '0' && *s <= '9' && v < 1000000000L)
        v = v * 10 + (*s++ - '0');
    *p = s;
    return v;
}

int lh_atomic_is_temp_name(const char *path, long *pid)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path, *tag, *p;
    long v;
    if (base[0] != '.')
        return 0;
    /* ".<name>.tmp.<pid>.<n>": the last ".tmp." followed by digits, a dot, digits, the end. */
    for (tag = strstr(base + 1, ".tmp."); tag; tag = strstr(tag + 1, ".tmp.")) {
        p = tag + 5;
        if ((v = digits(&p)) > 0 && *p == '.' && (p++, digits(&p)) >= 0 && *p == '\0' &&
            tag > base + 1) {
            if (pid)
                *pid = v;
            return 1;
        }
    }
    return 0;
}

int lh_atomic_remove_stale(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096 + 256];
    long pid;
    int n = 0;
    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL) {
        if (!lh_atomic_is_temp_name(e->d_name, &pid) || pid == (long)getpid())
            continue;
        /* A pid reused by a live process keeps its file: removing too little is safe. */
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < sizeof path &&
            unlink(path) == 0)
            n++;
    }
    closedir(d);
    return n;
}

int lh_atomic_fsync_dir(const char *dir, lh_error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return lh_error_set(err, "%s: cannot open directory to fsync it: %s", dir, strerror(errno));
    if (fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP) {
        int e = errno;
        close(fd);
        return lh_error_set(err, "%s: fsync of directory failed: %s", dir, strerror(e));
    }
    close(fd);
    return 0;
}

int lh_atomic_open(lh_atomic_file *f, const char *path, lh_error *err)
{
    static unsigned counter;
    f->fd = -1;
    f->tmp_path = NULL;
    f->direct = 0;
    f->errnum = 0;
    f->path = strdup(path);
    char *dir = dir_of(path);
    if (!f->path || !dir) {
        free(dir);
        lh_atomic_abort(f);
        return lh_error_set(err, "%s: out of memory", path);
    }
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!*base) {
        free(dir);
        lh_atomic_abort(f);
        return lh_error_set(err, "%s: expected a file name, got a directory path", path);
    }
    lh_atomic_remove_stale(dir);
    size_t cap = strlen(dir) + 160;
    f->tmp_path = malloc(cap);
    if (!f->tmp_path) {
        free(dir);
        lh_atomic_abort(f);
        return lh_error_set(err, "%s: out of memory", path);
    }
    /* The name is kept short enough for NAME_MAX whatever the target's name length. */
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned n = __atomic_fetch_add(&counter, 1u, __ATOMIC_RELAXED);
        snprintf(f->tmp_path, cap, "%s/.%.100s.tmp.%ld.%u", dir, base, (long)getpid(), n);
        f->fd = open(f->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (f->fd >= 0 || errno != EEXIST)
            break;
    }
    if (f->fd < 0) {
        int e = errno;
        free(f->tmp_path);
        f->tmp_path = NULL;
        lh_atomic_abort(f);
        f->errnum = e;
        lh_error_set(err, "%s: cannot create a temporary file in %s: %s", path, dir, strerror(e));
        free(dir);
        return -1;
    }
    free(dir);
    return 0;
}

int lh_atomic_open_output(lh_atomic_file *f, const char *path, lh_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0 || S_ISREG(st.st_mode))
        return lh_atomic_open(f, path, err);
    memset(f, 0, sizeof *f);
    f->fd = -1;
    if (S_ISDIR(st.st_mode)) {
        f->errnum = EISDIR;
        return lh_error_set(err, "%s: %s", path, strerror(EISDIR));
    }
    f->direct = 1;
    if (!(f->path = strdup(path)))
        return lh_error_set(err, "%s: out of memory", path);
    f->fd = open(path, O_WRONLY | O_CLOEXEC);
    if (f->fd < 0) {
        f->errnum = errno;
        lh_atomic_abort(f);
        return lh_error_set(err, "%s: cannot open: %s", path, strerror(f->errnum));
    }
    return 0;
}

/* Test hook: with LHOST_TEST_FULL_DISK=<suffix>, writes to targets whose name ends with
 * <suffix> fail as on a full disk (ENOSPC), so the tests can check what a full disk reports
 * without one. Unset (always, outside tests) it costs one getenv per write. */
static int full_disk(const char *path)
{
    const char *suffix = getenv("LHOST_TEST_FULL_DISK");
    size_t n = path ? strlen(path) : 0, k = suffix ? strlen(suffix) : 0;
    return suffix && *suffix && n >= k && strcmp(path + n - k, suffix) == 0;
}

int lh_atomic_put(lh_atomic_file *f, const void *buf, size_t n, lh_error *err)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = full_disk(f->path) ? (errno = ENOSPC, -1) : write(f->fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            f->errnum = errno;
            return lh_error_set(err, "%s: write failed: %s", f->path, strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int lh_atomic_commit(lh_atomic_file *f, lh_error *err)
{
    if (f->direct) { /* a device or FIFO: nothing to rename, only the close to check */
        int rc = close(f->fd);
        f->fd = -1;
        f->errnum = rc ? errno : 0;
        if (rc)
            lh_error_set(err, "%s: close failed: %s", f->path, strerror(f->errnum));
        lh_atomic_abort(f);
        return rc ? -1 : 0;
    }
    if (fsync(f->fd) != 0) {
        f->errnum = errno;
        lh_error_set(err, "%s: fsync failed: %s", f->path, strerror(errno));
        goto fail;
    }
    int rc = close(f->fd);
    f->fd = -1;
    if (rc != 0) {
        f->errnum = errno;
        lh_error_set(err, "%s: close failed: %s", f->path, strerror(errno));
        goto fail;
    }
    if (rename(f->tmp_path, f->path) != 0) {
        f->errnum = errno;
        lh_error_set(err, "%s: cannot rename the temporary file over it: %s", f->path,
                     strerror(errno));
        goto fail;
    }
    free(f->tmp_path);
    f->tmp_path = NULL;
    char *dir = dir_of(f->path);
    rc = dir ? lh_atomic_fsync_dir(dir, err) : lh_error_set(err, "%s: out of memory", f->path);
    free(dir);
    lh_atomic_abort(f);
    return rc;
fail:
    lh_atomic_abort(f);
    return -1;
}

void lh_atomic_abort(lh_atomic_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    if (f->tmp_path)
        unlink(f->tmp_path);
    free(f->tmp_path);
    f->tmp_path = NULL;
    free(f->path);
    f->path = NULL;
}

int lh_atomic_write(const char *path, const void *buf, size_t n, lh_error *err)
{
    lh_atomic_file f;
    if (lh_atomic_open(&f, path, err))
        return -1;
    if (lh_atomic_put(&f, buf, n, err) || lh_atomic_commit(&f, err)) {
        lh_atomic_abort(&f);
        return -1;
    }
    return 0;
}
