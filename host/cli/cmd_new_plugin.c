/* host/cli/cmd_new_plugin.c — `lhost new-plugin NAME [--kind callback|metric] [--dir DIR]`.
 *
 * Copies the SDK template into a new directory (default ./NAME), replacing "@NAME@" in every
 * file, so a plugin author starts from something that builds with find_package(lhost) or
 * pkg-config. Refuses to touch an existing directory. See cmd_new_plugin.h. */
#include "cmd_new_plugin.h"
#include "args.h"
#include "paths.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LH_NP_MAX_NAME 64
#define LH_NP_MAX_FILE (1 << 20) /* bytes; templates are a few KiB */
#define LH_NP_MAX_FILES 32
#define LH_NP_PLACEHOLDER "@NAME@"

static int lh_np_kind_ok(const char *kind)
{
    return kind && (strcmp(kind, "callback") == 0 || strcmp(kind, "metric") == 0);
}

int lh_cmd_new_plugin_name_ok(const char *name)
{
    size_t k, n;
    if (!name || name[0] < 'a' || name[0] > 'z')
        return 0;
    n = strlen(name);
    if (n > LH_NP_MAX_NAME)
        return 0;
    for (k = 1; k < n; k++) {
        char c = name[k];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}

static int lh_np_is_template(const char *dir)
{
    char p[PATH_MAX];
    struct stat st;
    if (snprintf(p, sizeof p, "%s/CMakeLists.txt", dir) >= (int)sizeof p)
        return 0;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int lh_cmd_new_plugin_template_dir(char *out, size_t n, lh_error *err)
{
    char cand[PATH_MAX];
    if (lh_paths_in_build_tree() && lh_np_is_template(LH_TEMPLATE_SOURCE_DIR))
        return snprintf(out, n, "%s", LH_TEMPLATE_SOURCE_DIR) < (int)n
                   ? 0
                   : lh_error_set(err, "template path too long");
    lh_paths_installed(LH_TEMPLATE_INSTALL_RELDIR, LH_TEMPLATE_INSTALL_DIR, cand, sizeof cand);
    if (lh_np_is_template(cand))
        return snprintf(out, n, "%s", cand) < (int)n ? 0
                                                     : lh_error_set(err, "template path too long");
    return lh_error_set(err, "plugin template not found (looked next to the program and in %s)",
                        LH_TEMPLATE_INSTALL_DIR);
}

/* Read a whole small file into a malloc'd, NUL-terminated buffer. */
static char *lh_np_read(const char *path, size_t *size, lh_error *err)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t got;
    if (!f) {
        lh_error_set(err, "%s: %s", path, strerror(errno));
        return NULL;
    }
    buf = malloc(LH_NP_MAX_FILE + 1);
    if (!buf) {
        fclose(f);
        lh_error_set(err, "%s: out of memory", path);
        return NULL;
    }
    got = fread(buf, 1, LH_NP_MAX_FILE + 1, f);
    if (ferror(f) || got > LH_NP_MAX_FILE) {
        lh_error_set(err, "%s: %s", path, ferror(f) ? "read error" : "larger than 1 MiB");
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    buf[got] = '\0';
    *size = got;
    return buf;
}

/* Write `text` with every placeholder replaced by `name` to a new file `path` (O_EXCL). */
static int lh_np_render(const char *path, const char *text, size_t size, const char *name,
                        lh_error *err)
{
    size_t plen = strlen(LH_NP_PLACEHOLDER), nlen = strlen(name);
    const char *p = text, *end = text + size;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    FILE *f;
    if (fd < 0)
        return lh_error_set(err, "%s: %s", path, strerror(errno));
    f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        return lh_error_set(err, "%s: %s", path, strerror(errno));
    }
    while (p < end) {
        const char *hit = strstr(p, LH_NP_PLACEHOLDER);
        size_t chunk = hit ? (size_t)(hit - p) : (size_t)(end - p);
        fwrite(p, 1, chunk, f);
        if (!hit)
            break;
        fwrite(name, 1, nlen, f);
        p = hit + plen;
    }
    if (ferror(f) | fclose(f))
        return lh_error_set(err, "%s: write failed", path);
    return 0;
}

typedef struct lh_np_created {
    char path[LH_NP_MAX_FILES][PATH_MAX];
    int n;
} lh_np_created;

/* Render every regular, non-hidden file directly in `src` into `dst`. */
static int lh_np_copy_dir(const char *src, const char *dst, const char *name,
                          lh_np_created *made, lh_error *err)
{
    DIR *d = opendir(src);
    struct dirent *e;
    int rc = 0;
    if (!d)
        return lh_error_set(err, "%s: %s", src, strerror(errno));
    while (rc == 0 && (e = readdir(d)) != NULL) {
        char from[PATH_MAX];
        struct stat st;
        char *text;
        size_t size;
        if (e->d_name[0] == '.')
            continue;
        if (snprintf(from, sizeof from, "%s/%s", src, e->d_name) >= (int)sizeof from)
            continue;
        if (stat(from, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (made->n == LH_NP_MAX_FILES) {
            rc = lh_error_set(err, "%s: more than %d template files", src, LH_NP_MAX_FILES);
            break;
        }
        if (snprintf(made->path[made->n], PATH_MAX, "%s/%s", dst, e->d_name) >= PATH_MAX) {
            rc = lh_error_set(err, "%s/%s: path too long", dst, e->d_name);
            break;
        }
        text = lh_np_read(from, &size, err);
        if (!text) {
            rc = -1;
            break;
        }
        rc = lh_np_render(made->path[made->n], text, size, name, err);
        free(text);
        if (rc == 0)
            made->n++;
    }
    closedir(d);
    return rc;
}

int lh_cmd_new_plugin_create(const char *template_dir, const char *name, const char *kind,
                         const char *dir, lh_error *err)
{
    char kind_dir[PATH_MAX];
    lh_np_created *made;
    struct stat st;
    int k, rc;

    if (!lh_cmd_new_plugin_name_ok(name))
        return lh_error_set(err,
                            "plugin name '%s': expected [a-z][a-z0-9_]*, at most %d characters",
                            name ? name : "", LH_NP_MAX_NAME);
    if (!lh_np_kind_ok(kind))
        return lh_error_set(err, "--kind: expected callback or metric, got \"%s\"",
                            kind ? kind : "");
    if (snprintf(kind_dir, sizeof kind_dir, "%s/%s", template_dir, kind) >= (int)sizeof kind_dir ||
        stat(kind_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return lh_error_set(err, "%s: template has no '%s' folder", template_dir, kind);
    if (lstat(dir, &st) == 0)
        return lh_error_set(err, "%s: already exists; refusing to overwrite it", dir);
    if (mkdir(dir, 0755) != 0)
        return lh_error_set(err, "%s: cannot create directory: %s", dir, strerror(errno));

    made = calloc(1, sizeof *made);
    if (!made) {
        rmdir(dir);
        return lh_error_set(err, "out of memory");
    }
    rc = lh_np_copy_dir(template_dir, dir, name, made, err);
    if (rc == 0)
        rc = lh_np_copy_dir(kind_dir, dir, name, made, err);
    if (rc != 0) {
        /* Leave nothing half made: remove what this call created. */
        for (k = 0; k < made->n; k++)
            unlink(made->path[k]);
        rmdir(dir);
    }
    free(made);
    return rc;
}

static const lh_arg_opt lh_np_opts[] = {
    {"kind", 0, LH_ARG_VALUE, "KIND", 0, "callback (default) or metric"},
    {"dir", 0, LH_ARG_VALUE, "DIR", 0, "the directory to create (default: ./NAME)"},
    {NULL, 0, 0, NULL, 0, NULL},
};

static const lh_args_spec lh_np_spec = {
    .usage = "NAME [--kind callback|metric] [--dir DIR]",
    .about = "Create DIR (default ./NAME) with a plugin skeleton that builds against the\n"
             "installed SDK: CMakeLists.txt (find_package(lhost)), Makefile (pkg-config),\n"
             "plugin.c, README.md. NAME must match [a-z][a-z0-9_]*. DIR must not exist.\n",
    .opts = lh_np_opts,
    .max_operands = 1,
    .operand = "NAME",
};

int lh_cmd_new_plugin(int argc, char **argv)
{
    const char *name, *kind, *dir;
    char tdir[PATH_MAX];
    lh_error err = {{0}};
    lh_args a;
    int rc;

    if ((rc = lh_args_parse(&a, &lh_np_spec, argc, argv)) != 0)
        return rc == LH_ARGS_HELP ? 0 : 2;
    name = lh_args_operand(&a, 0);
    kind = lh_args_get(&a, "kind") ? lh_args_get(&a, "kind") : "callback";
    dir = lh_args_get(&a, "dir") ? lh_args_get(&a, "dir") : name;
    rc = !name ? lh_args_error(&a, "expected a plugin NAME")
         : !lh_cmd_new_plugin_name_ok(name)
             ? lh_args_error(&a, "plugin name '%s': expected [a-z][a-z0-9_]*, at most %d "
                                 "characters", name, LH_NP_MAX_NAME)
         : !lh_np_kind_ok(kind)
             ? lh_args_error(&a, "--kind: expected callback or metric, got \"%s\"", kind)
             : 0;
    lh_args_free(&a); /* the values are argv's */
    if (rc)
        return rc;
    if (lh_cmd_new_plugin_template_dir(tdir, sizeof tdir, &err) != 0 ||
        lh_cmd_new_plugin_create(tdir, name, kind, dir, &err) != 0) {
        fprintf(stderr, "lhost: new-plugin: %s\n", err.msg);
        return 1;
    }
    printf("created %s: %s plugin '%s'\n"
           "build it:  cmake -S %s -B %s/build && cmake --build %s/build\n"
           "list it:   lhost plugins --plugin-dir %s/build\n",
           dir, kind, name, dir, dir, dir, dir);
    return 0;
}
