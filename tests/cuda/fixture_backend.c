/* tests/cuda/fixture_backend.c — stand-ins for liblhost_cuda.so whose backend table breaks one
 * rule of kernels/backend.h, for test_backend_select. One source, built once per FIXTURE_*:
 *   FIXTURE_NEWER   version LH_BACKEND_VERSION + 1, a table one member longer
 *   FIXTURE_OLDER   version LH_BACKEND_VERSION - 1, a table one member shorter
 *   FIXTURE_SMALL   this version, but a table of only struct_size and version (8 bytes)
 *   FIXTURE_NO_OPS  this version and size, the lifetime members set, every op NULL
 *   FIXTURE_UNVERSIONED  the layout before versioned tables: the name pointer comes first
 * The table ends where an unreadable page begins, so a host that reads past struct_size
 * crashes the (forked) test instead of passing it by luck. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernels/backend.h"

#if defined FIXTURE_NEWER
#define FIX_VERSION (LH_BACKEND_VERSION + 1)
#define FIX_SIZE (sizeof(lh_backend) + sizeof(void *))
#elif defined FIXTURE_OLDER
#define FIX_VERSION (LH_BACKEND_VERSION - 1)
#define FIX_SIZE (sizeof(lh_backend) - sizeof(void *))
#elif defined FIXTURE_SMALL
#define FIX_VERSION LH_BACKEND_VERSION
#define FIX_SIZE (offsetof(lh_backend, version) + sizeof(uint32_t))
#elif defined FIXTURE_NO_OPS
#define FIX_VERSION LH_BACKEND_VERSION
#define FIX_SIZE sizeof(lh_backend)
#elif defined FIXTURE_UNVERSIONED
#define FIX_VERSION 0 /* not written: the name pointer lies over struct_size and version */
#define FIX_SIZE sizeof(lh_backend)
#else
#error "define one FIXTURE_*"
#endif

static lh_backend_ctx *fix_open(int32_t device, int32_t threads, char *err, size_t errlen)
{
    return NULL;
}

static void fix_close(lh_backend_ctx *ctx)
{
}

static const char *fix_text(lh_backend_ctx *ctx)
{
    return "fixture";
}

static lh_dmem *fix_alloc(lh_backend_ctx *ctx, size_t bytes)
{
    return NULL;
}

static void fix_free(lh_backend_ctx *ctx, lh_dmem *p)
{
}

static int fix_sync(lh_backend_ctx *ctx)
{
    return 0;
}

/* Writes member `field` only where the fixture's struct_size covers it. */
#define FIX_SET(t, field, value)                                                                 \
    do {                                                                                         \
        if (offsetof(lh_backend, field) + sizeof((t)->field) <= FIX_SIZE)                        \
            (t)->field = (value);                                                                \
    } while (0)

__attribute__((visibility("default"))) const lh_backend *lh_cuda_backend(void)
{
    static lh_backend *table;
    long page = sysconf(_SC_PAGESIZE);
    size_t room = (FIX_SIZE + 7) / 8 * 8;
    char *base;
    if (table)
        return table;
    base = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                -1, 0);
    if (base == MAP_FAILED || mprotect(base + page, (size_t)page, PROT_NONE) != 0)
        return NULL;
    table = (lh_backend *)(void *)(base + page - room);
#ifdef FIXTURE_UNVERSIONED
    *(const char **)(void *)table = "cuda";
    return table;
#endif
    FIX_SET(table, struct_size, (uint32_t)FIX_SIZE);
    FIX_SET(table, version, (uint32_t)FIX_VERSION);
    FIX_SET(table, name, "fixture");
    FIX_SET(table, open, fix_open);
    FIX_SET(table, close, fix_close);
    FIX_SET(table, last_error, fix_text);
    FIX_SET(table, describe, fix_text);
    FIX_SET(table, alloc, fix_alloc);
    FIX_SET(table, free, fix_free);
    FIX_SET(table, sync, fix_sync);
    return table;
}
