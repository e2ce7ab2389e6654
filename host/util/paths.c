/* host/util/paths.c — locating the build tree and installed folders (see paths.h). */
#include "paths.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int exe_path(char *out, size_t len)
{
    ssize_t n = readlink("/proc/self/exe", out, len - 1);
    if (n <= 0)
        return -1;
    out[n] = '\0';
    return 0;
}

int lh_paths_in_build_tree(void)
{
    char exe[PATH_MAX], build[PATH_MAX];
    size_t bl;
    /* readlink resolves symlinks, so resolve the build directory too */
    if (exe_path(exe, sizeof exe) || !realpath(LH_BUILD_DIR, build))
        return 0;
    bl = strlen(build);
    return strncmp(exe, build, bl) == 0 && exe[bl] == '/';
}

void lh_paths_installed(const char *reldir, const char *absolute, char *out, size_t len)
{
    char exe[PATH_MAX], *slash;
    struct stat st;
    if (exe_path(exe, sizeof exe) == 0 && (slash = strrchr(exe, '/'))) {
        *slash = '\0';
        if ((size_t)snprintf(out, len, "%s/%s", exe, reldir) < len && stat(out, &st) == 0 &&
            S_ISDIR(st.st_mode))
            return;
    }
    snprintf(out, len, "%s", absolute);
}

int lh_paths_mkdir_p(const char *path, int parents_only, lh_error *err)
{
    char buf[4096];
    size_t i, n = strlen(path);
    if (n >= sizeof buf)
        return lh_error_set(err, "path too long (%zu bytes, at most %zu): %.64s...", n,
                            sizeof buf - 1, path);
    memcpy(buf, path, n + 1);
    for (i = 1; i <= n; i++) {
        char c = buf[i];
        if (c != '/' && (c != 0 || parents_only))
            continue;
        buf[i] = 0;
        if (mkdir(buf, 0755) && errno != EEXIST)
            return lh_error_set(err, "cannot create directory %s: %s", buf, strerror(errno));
        buf[i] = c;
    }
    return 0;
}

static const char *file_kind(mode_t m)
{
    return S_ISDIR(m)    ? "a directory"
           : S_ISFIFO(m) ? "a FIFO"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISSOCK(m) ? "a socket"
                         : "not a plain file";
}

FILE *lh_paths_fopen_regular(const char *path, char *why, size_t why_len)
{
    struct stat st;
    FILE *f;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(why, why_len, "cannot open: %s", strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0) {
        snprintf(why, why_len, "cannot stat: %s", strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, why_len, "not a regular file (%s)", file_kind(st.st_mode));
        close(fd);
        return NULL;
    }
    /* Regular files never block; clear the flag so stdio sees an ordinary descriptor. */
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0 || !(f = fdopen(fd, "rb"))) {
        snprintf(why, why_len, "cannot open: %s", strerror(errno));
        close(fd);
        return NULL;
    }
    return f;
}
