/* tests/fuzz/fuzz_main.c — a standalone driver for libFuzzer-style targets, used where the
 * build has no libFuzzer (gcc). It runs LLVMFuzzerTestOneInput on every seed, then on random
 * mutations of them (bit flips, byte edits, dictionary tokens, deletions, duplications, splices)
 * until a time budget runs out. The random sequence is fixed by the seed, so a failure at
 * iteration N comes back with the same seed.
 *
 * Usage: fuzz_TARGET [-t SECONDS] [-s SEED] [-d DICT] [PATH...]
 *   PATH: a directory (every file in it not starting with '.') or a file; default: the
 *   target's committed corpus (LH_FUZZ_CORPUS_DIR).
 *   SECONDS: default $LH_FUZZ_SECONDS, else 20. SEED: default $LH_FUZZ_SEED, else 1.
 *   DICT: a libFuzzer dictionary ("token" per line, \xNN escapes); default LH_FUZZ_DICT.
 * When an input aborts or crashes, it is written to ./fuzz-crash.bin first (rerun the driver
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

#define FUZZ_MAX_INPUT 65536
#define MAX_SEEDS 256
#define MAX_DICT 512

typedef struct input {
    uint8_t *data;
    size_t size;
} input;

static input seeds[MAX_SEEDS];
static int n_seeds;
static const uint8_t *cur_data; /* what is running now, for the crash handler */
static size_t cur_size;

/* Tokens of the target's grammar (its .dict file), so mutations reach past the lexer. */
static char *dict[MAX_DICT];
static size_t dict_len[MAX_DICT];
static int n_dict;

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                  : c >= 'A' && c <= 'F'     ? c - 'A' + 10
                                                             : -1;
}

/* Read a libFuzzer dictionary: one "token" per line (name= prefixes and # comments allowed). */
static int load_dict(const char *path)
{
    char line[1024];
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "fuzz: cannot open dictionary %s\n", path);
        return -1;
    }
    while (fgets(line, sizeof line, f) && n_dict < MAX_DICT) {
        char *a = strchr(line, '"'), *b = strrchr(line, '"'), *tok;
        size_t n = 0;
        if (line[0] == '#' || !a || b == a)
            continue;
        tok = malloc((size_t)(b - a));
        for (a++; tok && a < b; a++) {
            if (*a == '\\' && a + 1 < b && a[1] == 'x' && a + 3 < b && hexval(a[2]) >= 0 &&
                hexval(a[3]) >= 0) {
                tok[n++] = (char)(hexval(a[2]) * 16 + hexval(a[3]));
                a += 3;
            } else if (*a == '\\' && a + 1 < b) {
                tok[n++] = *++a;
            } else {
                tok[n++] = *a;
            }
        }
        if (tok && n) {
            dict[n_dict] = tok;
            dict_len[n_dict++] = n;
        } else {
            free(tok);
        }
    }
    fclose(f);
    return 0;
}

static void on_crash(int sig)
{
    int fd = open("fuzz-crash.bin", O_WRONLY | O_CREAT | O_TRUNC, 0644);
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

/* A directory's files (not those starting with '.'), in name order (so runs are reproducible). */
static int add_seed_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char *names[MAX_SEEDS];
    int n = 0, i, rc = 0;
    if (!d)
        return add_seed_file(dir);
    while ((e = readdir(d)) && n < MAX_SEEDS) {
        if (e->d_name[0] != '.')
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
        case 2: /* insert a dictionary token (or a random byte without a dictionary) */
        {
            uint8_t byte = (uint8_t)rnd();
            size_t w = below((size_t)n_dict);
            const char *t = n_dict ? dict[w] : (const char *)&byte;
            len = n_dict ? dict_len[w] : 1;
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
    const char *dict_path = NULL;
    int i, opt, n_paths = 0;
#ifdef LH_FUZZ_DICT
    dict_path = LH_FUZZ_DICT;
#endif
    while ((opt = getopt(argc, argv, "t:s:d:")) != -1) {
        if (opt == 't')
            seconds = atof(optarg);
        else if (opt == 's')
            seed = strtoull(optarg, NULL, 0);
        else if (opt == 'd')
            dict_path = optarg;
        else {
            fprintf(stderr, "usage: %s [-t SECONDS] [-s SEED] [-d DICT] [PATH...]\n", argv[0]);
            return 2;
        }
    }
    if (dict_path && *dict_path && load_dict(dict_path))
        return 2;
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
    for (i = 0; i < n_dict; i++)
        free(dict[i]);
    free(buf);
    return 0;
}
