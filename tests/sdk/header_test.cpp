/* tests/sdk/header_test.cpp — header_test.c compiled as C++17. */
#include "header_test.c"
