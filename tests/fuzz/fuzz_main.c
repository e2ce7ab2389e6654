/* tests/fuzz/fuzz_main.c — a standalone driver for libFuzzer-style targets, used where the
 * build has no libFuzzer (gcc). It runs LLVMFuzzerTestOneInput on every seed, then on random
 * mutations of them (bit flips, byte edits, dictionary tokens, deletions, duplications, splices)
 * until a time budget runs out. The random sequence is fixed by the seed, so a failure at
 * iteration N comes back with the same seed.
 *
 * Usage: fuzz_bare_parse [-t SECONDS] [-s SEED] [PATH...]
 *   PATH: a directory (its *.txt files) or a file; default: the committed corpus.
 *   SECONDS: default $LH_FUZZ_SECONDS, else 20. SEED: default $LH_FUZZ_SEED, else 1.
 * When an input aborts or crashes, it is written to ./fuzz-crash.txt first (rerun the driver
 * with that file as PATH to reproduce). */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT 8192
#define MAX_SEEDS 256

typedef struct input {
    uint8_t *data;
    size_t size;
} input;

static input seeds[MAX_SEEDS];
static int n_seeds;
static const uint8_t *cur_data; /* what is running now, for the crash handler */
static size_t cur_size;

/* Tokens of the signature grammar, so mutations reach past the lexer. */
static const char *const dict[] = {
    "on_fit_start", "on_train_epoch_start", "on_train_batch_end", "on_validation_end",
    "on_train_epoch_end", "on_fit_end", "metric", "max", "min", ":", "(", ")", ",", ";", "*",
    "#", "\n", " ", "int", "int32", "int32_t", "int64", "int64_t", "long", "double", "float",
    "bool", "_Bool", "void", "const", "char", "const char *", "const float *", "const int32 *",
    "stage", "epoch", "val_acc", "logits", "targets", "n", "num_classes", "\t", "\r\n", "\x01",
    "\xff", "0", "_"};

static void on_crash(int sig)
{
    int fd = open("fuzz-crash.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        ssize_t w = write(fd, cur_data, cur_size);
        (void)w;
        close(fd);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static uint64_t rng_state;
static uint64_t rnd(void) /* xorshift64* */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}
static size_t below(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

static void run(const uint8_t *data, size_t size)
{
    cur_data = data;
    cur_size = size;
    LLVMFuzzerTestOneInput(data, size);
}

static int add_seed_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    size_t n;
    if (!f) {
        fprintf(stderr, "fuzz: cannot open %s\n", path);
        return -1;
    }
    buf = malloc(FUZZ_MAX_INPUT);
    n = buf ? fread(buf, 1, FUZZ_MAX_INPUT, f) : 0;
    fclose(f);
    if (!buf || n_seeds == MAX_SEEDS) {
        free(buf);
        fprintf(stderr, "fuzz: too many seeds or out of memory at %s\n", path);
        return -1;
    }
    seeds[n_seeds].data = buf;
    seeds[n_seeds++].size = n;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory's *.txt files, in name order (so runs are reproducible). */
static int add_seed_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char *names[MAX_SEEDS];
    int n = 0, i, rc = 0;
    if (!d)
        return add_seed_file(dir);
    while ((e = readdir(d)) && n < MAX_SEEDS) {
        size_t l = strlen(e->d_name);
        if (l > 4 && strcmp(e->d_name + l - 4, ".txt") == 0)
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp_str);
    for (i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (rc == 0 && add_seed_file(path))
            rc = -1;
        free(names[i]);
    }
    return rc;
}

/* Apply 1..8 random edits to buf (size *n, capacity FUZZ_MAX_INPUT). */
static void mutate(uint8_t *buf, size_t *n)
{
    int k, edits = 1 + (int)below(8);
    for (k = 0; k < edits; k++) {
        size_t at = below(*n + 1), len;
        switch (below(7)) {
        case 0: /* flip a bit */
            if (*n)
                buf[below(*n)] ^= (uint8_t)(1u << below(8));
            break;
        case 1: /* replace a byte */
            if (*n)
                buf[below(*n)] = (uint8_t)rnd();
            break;
        case 2: /* insert a dictionary token */
        {
            const char *t = dict[below(sizeof dict / sizeof dict[0])];
            len = strlen(t);
            if (*n + len <= FUZZ_MAX_INPUT) {
                memmove(buf + at + len, buf + at, *n - at);
                memcpy(buf + at, t, len);
                *n += len;
            }
            break;
        }
        case 3: /* delete a range */
            len = below(*n - (at < *n ? at : *n) + 1);
            if (at < *n) {
                memmove(buf + at, buf + at + len, *n - at - len);
                *n -= len;
            }
            break;
        case 4: /* duplicate a range */
            if (at < *n) {
                len = 1 + below(*n - at);
                if (*n + len <= FUZZ_MAX_INPUT) {
                    memmove(buf + at + len, buf + at, *n - at);
                    *n += len;
                }
            }
            break;
        case 5: /* splice in part of another seed */
        {
            const input *s = &seeds[below((size_t)n_seeds)];
            size_t from = below(s->size + 1);
            len = below(s->size - from + 1);
            if (*n + len <= FUZZ_MAX_INPUT) {
                memmove(buf + at + len, buf + at, *n - at);
                memcpy(buf + at, s->data + from, len);
                *n += len;
            }
            break;
        }
        default: /* truncate */
            *n = at;
            break;
        }
    }
}

int main(int argc, char **argv)
{
    double seconds = getenv("LH_FUZZ_SECONDS") ? atof(getenv("LH_FUZZ_SECONDS")) : 20.0;
    uint64_t seed = getenv("LH_FUZZ_SEED") ? strtoull(getenv("LH_FUZZ_SEED"), NULL, 0) : 1;
    uint8_t *buf = malloc(FUZZ_MAX_INPUT);
    struct timespec t0, t;
    unsigned long long iters = 0;
    int i, opt, n_paths = 0;
    while ((opt = getopt(argc, argv, "t:s:")) != -1) {
        if (opt == 't')
            seconds = atof(optarg);
        else if (opt == 's')
            seed = strtoull(optarg, NULL, 0);
        else {
            fprintf(stderr, "usage: %s [-t SECONDS] [-s SEED] [PATH...]\n", argv[0]);
            return 2;
        }
    }
    signal(SIGABRT, on_crash);
    signal(SIGSEGV, on_crash);
    signal(SIGBUS, on_crash);
    signal(SIGFPE, on_crash);
    for (i = optind; i < argc; i++, n_paths++)
        if (add_seed_dir(argv[i]))
            return 2;
#ifdef LH_FUZZ_CORPUS_DIR
    if (n_paths == 0 && add_seed_dir(LH_FUZZ_CORPUS_DIR))
        return 2;
#endif
    if (n_seeds == 0 || !buf) {
        fprintf(stderr, "fuzz: no seeds\n");
        return 2;
    }
    for (i = 0; i < n_seeds; i++)
        run(seeds[i].data, seeds[i].size);
    rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        const input *s = &seeds[below((size_t)n_seeds)];
        size_t n = s->size;
        if ((iters & 255) == 0) {
            clock_gettime(CLOCK_MONOTONIC, &t);
            if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) * 1e-9 >= seconds)
                break;
        }
        memcpy(buf, s->data, n);
        mutate(buf, &n);
        run(buf, n);
        iters++;
    }
    printf("fuzz: %d seeds, %llu mutated inputs in %.0f s (seed %llu), no failures\n", n_seeds,
           iters, seconds, (unsigned long long)seed);
    for (i = 0; i < n_seeds; i++)
        free(seeds[i].data);
    free(buf);
    return 0;
}
