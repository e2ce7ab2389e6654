/* host/util/crc32c.c — CRC-32C, by the SSE4.2 instruction when there is one, else by table (see
 * crc32c.h). */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#define LH_CRC32C_POLY 0x82f63b78u /* Castagnoli's polynomial, bit-reversed */

static uint32_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ LH_CRC32C_POLY : c >> 1;
        table[i] = c;
    }
}

uint32_t lh_crc32c_portable(uint32_t crc, const void *p, size_t n)
{
    const uint8_t *b = p;
    uint32_t c = ~crc;
    pthread_once(&table_once, table_init);
    while (n--)
        c = table[(c ^ *b++) & 0xffu] ^ (c >> 8);
    return ~c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>

/* One dependent chain of 8-byte steps: the instruction's 3-cycle latency bounds it, which is
 * still several times what a table manages. */
__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t crc, const void *p,
                                                               size_t n)
{
    const uint8_t *b = p;
    uint64_t c = ~crc;
    for (; n >= 8; b += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, b, sizeof w); /* any alignment */
        c = _mm_crc32_u64(c, w);
    }
    uint32_t c32 = (uint32_t)c;
    while (n--)
        c32 = _mm_crc32_u8(c32, *b++);
    return ~c32;
}

uint32_t lh_crc32c(uint32_t crc, const void *p, size_t n)
{
    return __builtin_cpu_supports("sse4.2") ? crc32c_sse42(crc, p, n)
                                            : lh_crc32c_portable(crc, p, n);
}
#else
uint32_t lh_crc32c(uint32_t crc, const void *p, size_t n)
{
    return lh_crc32c_portable(crc, p, n);
}
#endif
