/* host/util/array.h — growing a malloc'ed array by doubling, the one way the rooms keep lists
 * (registry rows, logged values, tensors being written) whose length is not known up front. */
#ifndef LH_ARRAY_H
#define LH_ARRAY_H

#include <stddef.h>
#include <stdint.h>

/* Room for element n of items, an array of *cap elements of `size` bytes (NULL when *cap is 0)
 * of which n are used: when n == *cap it is realloc'ed to twice *cap elements (`first` when *cap
 * is 0) and *cap updated; otherwise it is returned as it is. NULL when out of memory: items is
 * still valid and *cap unchanged. */
void *lh_array_grow(void *items, int32_t n, int32_t *cap, int32_t first, size_t size);

#endif
