/* tests/sdk/abi_layout.cpp — abi_layout.c compiled as C++17 (static_assert). */
#include "abi_layout.c"
