/* host/util/array.c — growing an array by doubling (see array.h). */
#include "array.h"

#include <stdlib.h>

void *lh_array_grow(void *items, int32_t n, int32_t *cap, int32_t first, size_t size)
{
    int32_t nc;
    void *p;
    if (n < *cap)
        return items;
    nc = *cap ? 2 * *cap : first;
    p = realloc(items, (size_t)nc * size);
    if (p)
        *cap = nc;
    return p;
}
