/* tests/unit/test_bad_inputs.c — the catalogue of bad inputs (tests/bad_inputs/<area>.cases, the
 * format in tests/bad_inputs/README.md) run against the real binary: every case gets its
 * expected exit status, its message fragment, no crash, no sanitizer report, at most 60 s.
 *
 * One Check test case per .cases file (named after it), one forked loop iteration per case; a
 * failure names the case and its file:line. main makes a base work dir once — data/ (the
 * plain IDX files of synth_data.h's dataset, 256 train / 64 test images), good.yaml and
 * good.ckpt (trained once from good.yaml) — and every case runs in a fresh copy of it, by
 * /bin/sh -c, with this environment:
 *   PATH      the folder holding `lhost` (the binary under test) and `ckpt-edit` first,
 *   CASES     the absolute path of tests/bad_inputs (committed fixtures under files/),
 *   FIXTURES  the folder of the fixture plugins built by tests/plugins (one folder per fixture:
 *             $FIXTURES/<name>/<name>.so), for plugin cases to copy,
 *   HOME      the work dir; XDG_DATA_HOME and LHOST_PLUGIN_PATH unset, so no user plugin loads;
 *             XDG_CACHE_HOME and LHOST_CACHE_DIR unset, so a data cache is the case's own.
 * `ckpt-edit IN OUT OP...` writes a crafted copy of checkpoint IN (this program, re-entered):
 *   meta KEY VALUE          metadata KEY set to VALUE (added when absent)
 *   drop KEY                metadata KEY removed
 *   shape TENSOR D0,D1,...  TENSOR's shape claimed to be D0 x D1 x ... (its bytes unchanged)
 *   i32 TENSOR INDEX VALUE  element INDEX of the I32 tensor TENSOR set to VALUE
 * Run: ctest --test-dir build -R test_bad_inputs --output-on-failure
 *      (BAD_INPUTS_ONLY=name runs only the case of that name; the others pass untested) */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_run.h"
#include "cli_run.h"
#include "safetensors.h"
#include "synth_data.h"

#define CASE_LIMIT_S 60
#define MAX_CASES 1024
#define MAX_FILES 64

typedef struct bad_case {
    char name[96];
    char file[64]; /* e.g. "data.cases" */
    int line;      /* of its `case:` line */
    char *writes;  /* "write"/"hex" records: kind '\1' name '\1' content '\0', ...; may be NULL */
    size_t writes_len;
    char *cmd, *says;
    int rc, rc_set, as_root_skip;
} bad_case;

static bad_case cases[MAX_CASES];
static int n_cases;
static char file_names[MAX_FILES][64];
static int file_first[MAX_FILES], file_count[MAX_FILES], n_files;
static char top[256], base[512], bin[512], cases_dir[600];
static char self_exe[4096];

/* ---- reading the .cases files ------------------------------------------------------------- */

static void die(const char *file, int line, const char *what)
{
    fprintf(stderr, "tests/bad_inputs/%s:%d: %s\n", file, line, what);
    exit(EXIT_FAILURE);
}

static void append(bad_case *c, const char *s, size_t n)
{
    c->writes = realloc(c->writes, c->writes_len + n);
    if (!c->writes)
        exit(EXIT_FAILURE);
    memcpy(c->writes + c->writes_len, s, n);
    c->writes_len += n;
}

/* Strip a trailing "\n" and, outside `| ` lines, trailing blanks. */
static void chomp(char *s, int keep_blanks)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' ||
                     (!keep_blanks && (s[n - 1] == ' ' || s[n - 1] == '\t'))))
        s[--n] = '\0';
}

static int valid_name(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

/* End the block in `c` (if any): check it is complete and unique. */
static void close_case(bad_case *c, int *open)
{
    int i;
    if (!*open)
        return;
    *open = 0;
    if (!c->cmd || !c->says || !c->rc_set)
        die(c->file, c->line, "a case needs cmd:, rc: and says:");
    if (c->writes && c->writes[c->writes_len - 1] != '\0')
        append(c, "", 1);
    for (i = 0; i < n_cases; i++)
        if (strcmp(cases[i].name, c->name) == 0)
            die(c->file, c->line, "case name used twice");
    n_cases++;
}

static void parse_file(const char *name)
{
    char path[900], line[65536];
    FILE *f;
    int ln = 0, open = 0, in_write = 0;
    bad_case *c = NULL;
    snprintf(path, sizeof path, "%s/%s", cases_dir, name);
    if (!(f = fopen(path, "r")))
        die(name, 0, strerror(errno));
    file_first[n_files] = n_cases;
    while (fgets(line, sizeof line, f)) {
        char *v;
        ln++;
        if (open && in_write && line[0] == '|') {
            /* "| text" or "|" alone: one line of the file being written, then "\n". */
            chomp(line, 1);
            v = line[1] == ' ' ? line + 2 : line + 1;
            append(c, v, strlen(v));
            append(c, "\n", 1);
            continue;
        }
        in_write = 0;
        chomp(line, 0);
        if (line[0] == '#')
            continue;
        if (line[0] == '\0') {
            close_case(c, &open);
            continue;
        }
        if (!(v = strstr(line, ": ")) && !(v = strchr(line, ':')))
            die(name, ln, "expected `key: value`");
        *v++ = '\0';
        while (*v == ' ')
            v++;
        if (strcmp(line, "case") == 0) {
            close_case(c, &open);
            if (n_cases >= MAX_CASES)
                die(name, ln, "too many cases");
            c = &cases[n_cases];
            memset(c, 0, sizeof *c);
            if (!valid_name(v) || strlen(v) >= sizeof c->name)
                die(name, ln, "case name: expected [a-z0-9_]+");
            snprintf(c->name, sizeof c->name, "%s", v);
            snprintf(c->file, sizeof c->file, "%s", name);
            c->line = ln;
            open = 1;
            continue;
        }
        if (!open)
            die(name, ln, "expected `case: NAME` first");
        if (strcmp(line, "write") == 0 || strcmp(line, "hex") == 0) {
            char *sp = strchr(v, ' ');
            if (c->writes && c->writes[c->writes_len - 1] != '\0')
                append(c, "", 1);
            append(c, line[0] == 'w' ? "w\1" : "h\1", 2);
            if (line[0] == 'h') {
                if (!sp)
                    die(name, ln, "hex: expected `hex: FILE HEXBYTES`");
                append(c, v, (size_t)(sp - v));
                append(c, "\1", 1);
                append(c, sp + 1, strlen(sp + 1) + 1);
            } else {
                append(c, v, strlen(v));
                append(c, "\1", 1);
                in_write = 1;
            }
        } else if (strcmp(line, "cmd") == 0) {
            c->cmd = strdup(v);
        } else if (strcmp(line, "rc") == 0) {
            char *end;
            c->rc = (int)strtol(v, &end, 10);
            if (end == v || *end)
                die(name, ln, "rc: expected an integer");
            c->rc_set = 1;
        } else if (strcmp(line, "says") == 0) {
            c->says = strdup(v);
        } else if (strcmp(line, "as_root") == 0) {
            if (strcmp(v, "skip") != 0)
                die(name, ln, "as_root: expected skip");
            c->as_root_skip = 1;
        } else {
            die(name, ln, "unknown key (expected case, write, hex, cmd, rc, says, as_root)");
        }
    }
    close_case(c, &open);
    fclose(f);
    snprintf(file_names[n_files], sizeof file_names[0], "%s", name);
    file_count[n_files] = n_cases - file_first[n_files];
    n_files++;
}

static int by_name(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static void parse_all(void)
{
    char names[MAX_FILES][64];
    int n = 0, i;
    DIR *d = opendir(cases_dir);
    struct dirent *e;
    if (!d)
        die("", 0, "cannot open the folder");
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > 6 && len < 64 && strcmp(e->d_name + len - 6, ".cases") == 0 && n < MAX_FILES)
            snprintf(names[n++], sizeof names[0], "%s", e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], by_name);
    for (i = 0; i < n; i++)
        parse_file(names[i]);
}

/* ---- running one case --------------------------------------------------------------------- */

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Create the case's write:/hex: files in `work`. */
static void write_files(const bad_case *c, const char *work)
{
    const char *p = c->writes, *end = c->writes + c->writes_len;
    while (c->writes && p < end) {
        char kind = p[0], path[1200];
        const char *fname = p + 2, *sep = strchr(fname, '\1'), *body = sep + 1;
        size_t blen = strlen(body);
        FILE *f;
        snprintf(path, sizeof path, "%s/%.*s", work, (int)(sep - fname), fname);
        f = fopen(path, "wb");
        ck_assert_msg(f, "case %s: cannot create %s: %s", c->name, path, strerror(errno));
        if (kind == 'w') {
            fwrite(body, 1, blen, f);
        } else {
            const char *h = body;
            while (*h) {
                int hi, lo;
                if (*h == ' ') {
                    h++;
                    continue;
                }
                hi = hexval(h[0]), lo = h[1] ? hexval(h[1]) : -1;
                ck_assert_msg(hi >= 0 && lo >= 0, "case %s (%s:%d): hex: bad digits \"%s\"",
                              c->name, c->file, c->line, h);
                fputc(hi * 16 + lo, f);
                h += 2;
            }
        }
        fclose(f);
        p = body + blen + 1;
    }
}

static char *find_sanitizer_report(char *out)
{
    static const char *const marks[] = {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                                        "runtime error:"};
    size_t i;
    char *hit;
    for (i = 0; i < sizeof marks / sizeof marks[0]; i++)
        if ((hit = strstr(out, marks[i])) != NULL)
            return hit;
    return NULL;
}

/* Run `cmd` by /bin/sh -c in `work`, its own process group, output into `log`; its wait
 * status, or -1 when it ran past the limit (then the whole group is killed). */
static int run_shell(const char *cmd, const char *work, const char *log)
{
    pid_t pid = fork();
    struct timespec nap = {0, 20 * 1000 * 1000};
    int st, waited_ms = 0;
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644), in = open("/dev/null", O_RDONLY);
        setpgid(0, 0);
        setenv("HOME", work, 1);
        if (fd < 0 || in < 0 || chdir(work) != 0)
            _exit(126);
        dup2(in, 0), dup2(fd, 1), dup2(fd, 2);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            break;
        if (waited_ms >= CASE_LIMIT_S * 1000) {
            kill(-pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        nanosleep(&nap, NULL);
        waited_ms += 20;
    }
    kill(-pid, SIGKILL); /* anything it left in the background */
    return st;
}

START_TEST(run_case)
{
    const bad_case *c = &cases[_i];
    const char *only = getenv("BAD_INPUTS_ONLY");
    char work[700], log[800], cmd[2000], *out;
    int st, rc;
    if (only && *only && strcmp(only, c->name) != 0)
        return;
    if (c->as_root_skip && geteuid() == 0) {
        fprintf(stderr, "case %s: skipped as root\n", c->name);
        return;
    }
    snprintf(work, sizeof work, "%s/case_%s", top, c->name);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", work, base, work);
    ck_assert_msg(system(cmd) == 0, "case %s: cannot copy the work dir", c->name);
    write_files(c, work);
    snprintf(log, sizeof log, "%s/%s.out", top, c->name);
    st = run_shell(c->cmd, work, log);
    out = read_text(log);
    if (!out)
        out = strdup("");
    ck_assert_msg(st != -1, "case %s (%s:%d): still running after %d s, killed\n$ %s\n%s",
                  c->name, c->file, c->line, CASE_LIMIT_S, c->cmd, out);
    ck_assert_msg(!WIFSIGNALED(st), "case %s (%s:%d): the shell died of signal %d\n$ %s\n%s",
                  c->name, c->file, c->line, WTERMSIG(st), c->cmd, out);
    rc = WEXITSTATUS(st);
    ck_assert_msg(rc == c->rc, "case %s (%s:%d): exit %d (expected %d)%s\n$ %s\n%s", c->name,
                  c->file, c->line, rc, c->rc, rc >= 128 ? ", a crash" : "", c->cmd, out);
    ck_assert_msg(rc < 128 || c->rc >= 128, "case %s (%s:%d): crashed (exit %d)\n%s", c->name,
                  c->file, c->line, rc, out);
    ck_assert_msg(!find_sanitizer_report(out), "case %s (%s:%d): sanitizer report\n$ %s\n%s",
                  c->name, c->file, c->line, c->cmd, out);
    ck_assert_msg(strstr(out, c->says) != NULL,
                  "case %s (%s:%d): expected \"%s\" in the output\n$ %s\n%s", c->name, c->file,
                  c->line, c->says, c->cmd, out);
    free(out);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", work, log);
    if (system(cmd)) {
        /* a leftover folder goes with the top one */
    }
}
END_TEST

/* ---- ckpt-edit: crafted checkpoints --------------------------------------------------------- */

static int edit_fail(const char *what, const char *detail)
{
    fprintf(stderr, "ckpt-edit: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    return 2;
}

static int parse_dims(const char *s, int64_t *dims, int32_t *ndim)
{
    char *end;
    *ndim = 0;
    while (*s && *ndim < 8) {
        dims[(*ndim)++] = strtoll(s, &end, 10);
        if (end == s)
            return -1;
        s = *end == ',' ? end + 1 : end;
    }
    return *s ? -1 : 0;
}

/* ckpt-edit IN OUT OP ARGS... (see the top comment). */
static int ckpt_edit(int argc, char **argv)
{
    lh_safetensors_file *f;
    lh_safetensors_writer *w;
    lh_error err = {{0}};
    const char *op, *key;
    int32_t i, ndim = 0, done = 0;
    int64_t dims[8], index = 0;
    long value = 0;
    void *copy = NULL;
    if (argc < 5)
        return edit_fail("usage: ckpt-edit IN OUT meta KEY VALUE | drop KEY | "
                         "shape TENSOR D0,D1,... | i32 TENSOR INDEX VALUE", NULL);
    op = argv[3], key = argv[4];
    if (strcmp(op, "shape") == 0 && (argc != 6 || parse_dims(argv[5], dims, &ndim)))
        return edit_fail("shape: expected D0,D1,...", argc > 5 ? argv[5] : NULL);
    if (strcmp(op, "i32") == 0) {
        if (argc != 7)
            return edit_fail("i32: expected TENSOR INDEX VALUE", NULL);
        index = strtoll(argv[5], NULL, 10), value = strtol(argv[6], NULL, 10);
    }
    if ((strcmp(op, "meta") == 0 && argc != 6) || (strcmp(op, "drop") == 0 && argc != 5))
        return edit_fail("meta KEY VALUE or drop KEY", NULL);
    if (lh_safetensors_read(argv[1], &f, &err))
        return edit_fail(err.msg, NULL);
    if (!(w = lh_safetensors_writer_new()))
        return edit_fail("out of memory", NULL);
    for (i = 0; i < lh_safetensors_meta_count(f); i++) {
        const char *k = lh_safetensors_meta_key(f, i), *v = lh_safetensors_meta_value(f, i);
        if ((op[0] == 'm' || op[0] == 'd') && strcmp(k, key) == 0) {
            done = 1;
            if (op[0] == 'd')
                continue;
            v = argv[5];
        }
        if (lh_safetensors_meta(w, k, v, &err))
            return edit_fail(err.msg, NULL);
    }
    if (op[0] == 'm' && !done) {
        if (lh_safetensors_meta(w, key, argv[5], &err))
            return edit_fail(err.msg, NULL);
        done = 1;
    }
    for (i = 0; i < lh_safetensors_count(f); i++) {
        const char *n = lh_safetensors_name(f, i);
        const void *data = lh_safetensors_data(f, i);
        int32_t nd = lh_safetensors_ndim(f, i);
        const int64_t *shape = lh_safetensors_shape(f, i);
        if ((op[0] == 's' || op[0] == 'i') && strcmp(n, key) == 0) {
            done = 1;
            if (op[0] == 's') {
                nd = ndim, shape = dims;
            } else {
                int32_t v32 = (int32_t)value;
                if (strcmp(lh_safetensors_dtype(f, i), "I32") != 0 || index < 0 ||
                    (uint64_t)index >= lh_safetensors_nbytes(f, i) / 4)
                    return edit_fail("i32: not an I32 tensor or index out of range", n);
                copy = malloc(lh_safetensors_nbytes(f, i));
                memcpy(copy, data, lh_safetensors_nbytes(f, i));
                memcpy((char *)copy + index * 4, &v32, 4);
                data = copy;
            }
        }
        if (lh_safetensors_add(w, n, lh_safetensors_dtype(f, i), nd, shape, data,
                               lh_safetensors_nbytes(f, i), &err))
            return edit_fail(err.msg, NULL);
    }
    if (!done)
        return edit_fail("no such metadata key or tensor", key);
    if (lh_safetensors_write_atomic(w, argv[2], &err))
        return edit_fail(err.msg, NULL);
    free(copy);
    lh_safetensors_writer_free(w);
    lh_safetensors_close(f);
    return 0;
}

/* ---- the base work dir ---------------------------------------------------------------------- */

static const char good_yaml[] =
    "seed: 7\n"
    "data: {path: data, batch_size: 32}\n"
    "model:\n  layers:\n"
    "    - {type: conv2d, name: conv1, out_channels: 4, kernel_size: 3, padding: 1}\n"
    "    - {type: relu}\n    - {type: maxpool2d, kernel_size: 2}\n"
    "    - {type: flatten}\n"
    "    - {type: linear, name: fc, out_features: 10}\n"
    "trainer: {max_epochs: 1, enable_progress_bar: false, default_root_dir: .}\n"
    "callbacks:\n  model_checkpoint: {dirpath: checkpoints, save_last: true}\n";

/* Turn dir/<name>.gz into the plain dir/<name>. */
static int gunzip_in(const char *dir, const char *name)
{
    char gz[700], plain[700], buf[65536];
    gzFile g;
    FILE *f;
    int n, rc = 0;
    snprintf(gz, sizeof gz, "%s/%s.gz", dir, name);
    snprintf(plain, sizeof plain, "%s/%s", dir, name);
    if (!(g = gzopen(gz, "rb")) || !(f = fopen(plain, "wb")))
        return -1;
    while ((n = gzread(g, buf, sizeof buf)) > 0)
        rc |= fwrite(buf, 1, (size_t)n, f) != (size_t)n;
    rc |= n < 0;
    rc |= fclose(f) != 0;
    gzclose(g);
    return rc || unlink(gz) ? -1 : 0;
}

static void set_env(void)
{
    char path[8192];
    const char *old = getenv("PATH");
    snprintf(path, sizeof path, "%s:%s", bin, old ? old : "/usr/bin:/bin");
    setenv("PATH", path, 1);
    setenv("CASES", cases_dir, 1);
    setenv("FIXTURES", LH_FIXTURE_PLUGIN_DIR, 1);
    setenv("HOME", top, 1); /* each case's own work dir, once it runs */
    unsetenv("XDG_DATA_HOME");
    unsetenv("LHOST_PLUGIN_PATH");
    /* A case that turns the data cache on (ctest runs with LHOST_DATA_CACHE=0) gets its own,
     * under the work dir's .cache. */
    unsetenv("XDG_CACHE_HOME");
    unsetenv("LHOST_CACHE_DIR");
}

static int make_base(void)
{
    static const char *const files[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    char path[900], cmd[5000], *out;
    size_t i;
    int rc;
    char from[600];
    if (synth_workdir(top, sizeof top, "bad_inputs", 256, 64))
        return -1;
    snprintf(base, sizeof base, "%s/base", top);
    snprintf(bin, sizeof bin, "%s/bin", top);
    if (mkdir(base, 0755) || mkdir(bin, 0755))
        return -1;
    snprintf(from, sizeof from, "%s/data", top);
    snprintf(path, sizeof path, "%s/data", base);
    if (rename(from, path))
        return -1;
    for (i = 0; i < sizeof files / sizeof files[0]; i++)
        if (gunzip_in(path, files[i]))
            return -1;
    snprintf(path, sizeof path, "%s/good.yaml", base);
    write_text(path, good_yaml);
    /* bin/: lhost and ckpt-edit. */
    snprintf(path, sizeof path, "%s/lhost", bin);
    if (symlink(LH_LHOST_EXE, path))
        return -1;
    snprintf(path, sizeof path, "%s/ckpt-edit", bin);
    snprintf(cmd, sizeof cmd, "#!/bin/sh\nexec '%s' --ckpt-edit \"$@\"\n", self_exe);
    write_text(path, cmd);
    if (chmod(path, 0755))
        return -1;
    /* good.ckpt, then a base without the training's outputs. */
    set_env();
    rc = cli_run(base, "train -c good.yaml", &out);
    if (rc != 0) {
        fprintf(stderr, "lhost train -c good.yaml (for good.ckpt): exit %d\n%s", rc, out);
        free(out);
        return -1;
    }
    free(out);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && cp checkpoints/last.ckpt good.ckpt && rm -rf checkpoints lightning_logs "
             ".cli_out.txt", base);
    return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    Suite *s;
    int i, status;
    char cmd[600];
    ssize_t n;
    if (argc > 1 && strcmp(argv[1], "--ckpt-edit") == 0)
        return ckpt_edit(argc - 1, argv + 1);
    n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (n <= 0)
        return EXIT_FAILURE;
    self_exe[n] = '\0';
    snprintf(cases_dir, sizeof cases_dir, "%s/tests/bad_inputs", LH_SOURCE_DIR);
    parse_all();
    if (make_base()) {
        if (*top)
            synth_remove(top);
        return EXIT_FAILURE;
    }
    s = suite_create("bad_inputs");
    for (i = 0; i < n_files; i++) {
        static char tnames[MAX_FILES][64]; /* Check keeps the pointer */
        TCase *tc;
        if (!file_count[i])
            continue;
        snprintf(tnames[i], sizeof tnames[i], "%.*s", (int)(strlen(file_names[i]) - 6),
                 file_names[i]);
        tc = tcase_create(tnames[i]);
        tcase_set_timeout(tc, CASE_LIMIT_S + 30);
        tcase_add_loop_test(tc, run_case, file_first[i], file_first[i] + file_count[i]);
        suite_add_tcase(s, tc);
    }
    fprintf(stderr, "%d cases in %d files\n", n_cases, n_files);
    status = check_run(s);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
    if (system(cmd)) {
        /* a leftover temporary folder is harmless */
    }
    return status;
}
