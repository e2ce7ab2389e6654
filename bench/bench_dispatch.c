/* bench/bench_dispatch.c — cost of hook dispatch and of `lhost plugins`.
 *
 * Copies the no-op callback fixture (tests/plugins/noop.c, id taken from its file name) 100
 * times into a temporary directory as noop_000.so ... noop_099.so, loads them in this process,
 * and times lh_dispatch_hook with 1, 10 and 100 instances (each from its own .so): ns per hook
 * call per plugin. Then times lh_cmd_plugins("plugins --plugin-dir DIR") over those 100 files
 * (each scanned in its own child), output to /dev/null.
 * Run: cmake --build build --target bench_dispatch && ./build/bench/bench_dispatch [reps] */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "instance.h"
#include "dispatch.h"
#include "registry.h"

#define N_FILES 100

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int copy_file(const char *from, const char *to)
{
    char buf[65536];
    size_t n;
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    if (!out) {
        if (in)
            fclose(in);
        return -1;
    }
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, n, out);
    fclose(in);
    return fclose(out) == 0 && chmod(to, 0755) == 0 ? 0 : -1;
}

/* ns per hook call per plugin for `n` instances: min and median over `reps` runs. */
static void bench_hooks(lh_instance *const *inst, int n, int reps)
{
    lhost_batch_info b = {.struct_size = sizeof b, .batch_idx = 0, .batch_size = 64, .loss = 0.0};
    lh_dispatch *d;
    lh_error err;
    double t[64];
    long iters = 20000000L / n, k;
    int r;
    if (lh_dispatch_create(&d, inst, n, &err) != 0) {
        fprintf(stderr, "bench_dispatch: %s\n", err.msg);
        exit(1);
    }
    for (r = 0; r < reps; r++) {
        double t0 = now_s();
        for (k = 0; k < iters; k++) {
            b.batch_idx = k;
            if (lh_dispatch_hook(d, LH_HOOK_TRAIN_BATCH_END, &b, &err) != LHOST_OK)
                exit(1);
        }
        t[r] = (now_s() - t0) * 1e9 / ((double)iters * n);
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp_double);
    printf("dispatch on_train_batch_end, %3d plugins: %6.2f ns/call/plugin (min), %6.2f (median)\n",
           n, t[0], t[reps / 2]);
    lh_dispatch_destroy(d);
}

static void bench_list(const char *dir, int reps)
{
    char *argv[] = {"plugins", "--plugin-dir", (char *)dir, NULL};
    double t[64];
    int r, devnull = open("/dev/null", O_WRONLY), saved = dup(1);
    for (r = 0; r < reps; r++) {
        double t0;
        fflush(stdout);
        dup2(devnull, 1);
        t0 = now_s();
        if (lh_cmd_plugins(3, argv) != 0)
            exit(1);
        fflush(stdout);
        t[r] = now_s() - t0;
        dup2(saved, 1);
    }
    close(devnull);
    close(saved);
    qsort(t, (size_t)reps, sizeof t[0], cmp_double);
    printf("lhost plugins, %d files (one scanner child each): %.1f ms (min), %.1f ms (median)\n",
           N_FILES, t[0] * 1e3, t[reps / 2] * 1e3);
}

int main(int argc, char **argv)
{
    char tmpl[] = "/tmp/lhost-bench-XXXXXX", *dir = mkdtemp(tmpl), path[4096];
    const char *dirs[1];
    lh_registry_opts o = {0};
    lh_registry *reg;
    lh_instance *inst[N_FILES];
    lh_error err;
    int reps = argc > 1 ? atoi(argv[1]) : 5, k;
    if (reps < 1 || reps > 64)
        reps = 5;
    if (!dir)
        return 1;
    for (k = 0; k < N_FILES; k++) {
        snprintf(path, sizeof path, "%s/noop_%03d.so", dir, k);
        if (copy_file(LH_FIXTURE_PLUGIN_DIR "/noop/noop.so", path) != 0) {
            fprintf(stderr, "bench_dispatch: cannot copy the noop fixture to %s\n", path);
            return 1;
        }
    }
    dirs[0] = dir;
    o.plugin_dirs = dirs;
    o.n_plugin_dirs = 1;
    o.skip_default_dirs = 1;
    if (lh_registry_open(&reg, &o, NULL, &err) != 0 || lh_registry_count(reg) != N_FILES) {
        fprintf(stderr, "bench_dispatch: loading the copies failed: %s\n", err.msg);
        return 1;
    }
    for (k = 0; k < N_FILES; k++)
        if (lh_instance_create(lh_registry_row(reg, k), "noop", NULL, 0, NULL, &inst[k], &err)) {
            fprintf(stderr, "bench_dispatch: %s\n", err.msg);
            return 1;
        }
    bench_hooks(inst, 1, reps);
    bench_hooks(inst, 10, reps);
    bench_hooks(inst, 100, reps);
    for (k = 0; k < N_FILES; k++)
        lh_instance_destroy(inst[k]);
    lh_registry_close(reg);
    bench_list(dir, reps);
    for (k = 0; k < N_FILES; k++) {
        snprintf(path, sizeof path, "%s/noop_%03d.so", dir, k);
        unlink(path);
    }
    rmdir(dir);
    return 0;
}
