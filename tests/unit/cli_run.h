/* tests/unit/cli_run.h — run the built lhost from a test and capture its output (header-only). */
#ifndef LH_TEST_CLI_RUN_H
#define LH_TEST_CLI_RUN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Run `LH_LHOST_EXE args` in `cwd` with stdout+stderr into `out` (malloc'ed, NUL-terminated).
 * Returns the exit status (or -1). */
static int cli_run(const char *cwd, const char *args, char **out)
{
    char cmd[16384], log[4200];
    FILE *f;
    long n;
    int st;
    snprintf(log, sizeof log, "%s/.cli_out.txt", cwd);
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s > '%s' 2>&1 < /dev/null", cwd, LH_LHOST_EXE,
             args, log);
    st = system(cmd);
    *out = NULL;
    f = fopen(log, "rb");
    if (f) {
        fseek(f, 0, SEEK_END);
        n = ftell(f);
        fseek(f, 0, SEEK_SET);
        *out = calloc(1, (size_t)n + 1);
        if (*out && fread(*out, 1, (size_t)n, f) != (size_t)n)
            (*out)[0] = 0;
        fclose(f);
    }
    if (!*out)
        *out = calloc(1, 1);
    return (st != -1 && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
}

/* The whole of a file `path` made, NUL-terminated (malloc'ed); NULL when it cannot be read. */
static inline char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *s = NULL;
    long n;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (s = calloc(1, (size_t)n + 1)) && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    fclose(f);
    return s;
}

static inline void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

#endif
