/* tests/sdk/abi_layout.h — one function telling the header tests whether abi_layout.c's static
 * asserts were compiled (1 on x86_64 LP64, where the v1.0 layout is frozen; 0 elsewhere). */
#ifndef LH_TEST_ABI_LAYOUT_H
#define LH_TEST_ABI_LAYOUT_H

#ifdef __cplusplus
extern "C" {
#endif

int lh_abi_layout_frozen(void);

#ifdef __cplusplus
}
#endif

#endif
