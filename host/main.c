/* host/main.c — the lhost command line. */
#include <stdio.h>
int main(void) { puts("lhost " LH_VERSION); return 0; }
