/* tests/unit/fixture_util.h — copy fixture plugins (tests/plugins, built into
 * LH_FIXTURE_PLUGIN_DIR/<case>/) into private temporary directories (mode 0700, files 0755), so
 * each test controls the permissions and never depends on the build tree's umask. */
#ifndef LH_FIXTURE_UTIL_H
#define LH_FIXTURE_UTIL_H

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void fx_copy(const char *from, const char *to, mode_t mode)
{
    char buf[65536];
    size_t n;
    FILE *in = fopen(from, "rb"), *out;
    ck_assert_msg(in != NULL, "cannot open fixture %s", from);
    out = fopen(to, "wb");
    ck_assert_msg(out != NULL, "cannot create %s", to);
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    ck_assert_int_eq(fclose(out), 0);
    ck_assert_int_eq(chmod(to, mode), 0);
}

/* A fresh empty directory; the returned string is malloc'd. */
static char *fx_tmpdir(void)
{
    char tmpl[] = "/tmp/lhost-test-XXXXXX", *d = mkdtemp(tmpl);
    ck_assert_msg(d != NULL, "mkdtemp failed");
    return strdup(d);
}

/* Copy every .so of fixture case `name` into `dir`. */
static void fx_add_case(const char *dir, const char *name)
{
    char src[4096], from[4096 + 256], to[4096 + 256];
    struct dirent *e;
    DIR *d;
    snprintf(src, sizeof src, "%s/%s", LH_FIXTURE_PLUGIN_DIR, name);
    d = opendir(src);
    ck_assert_msg(d != NULL, "fixture case %s not built", src);
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".so")) {
            snprintf(from, sizeof from, "%s/%s", src, e->d_name);
            snprintf(to, sizeof to, "%s/%s", dir, e->d_name);
            fx_copy(from, to, 0755);
        }
    closedir(d);
}

/* A temporary directory holding the fixture case `name`. */
static char *fx_stage(const char *name)
{
    char *dir = fx_tmpdir();
    fx_add_case(dir, name);
    return dir;
}

/* Remove a staged directory and its files. */
static void fx_remove(char *dir)
{
    char path[4096 + 256];
    struct dirent *e;
    DIR *d = opendir(dir);
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    if (d)
        closedir(d);
    rmdir(dir);
    free(dir);
}

#endif
