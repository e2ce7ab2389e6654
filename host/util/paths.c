/* host/util/paths.c — locating the build tree and installed folders (see paths.h). */
#include "paths.h"

#include <errno.h>
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
