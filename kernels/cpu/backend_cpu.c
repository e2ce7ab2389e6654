/* kernels/cpu/backend_cpu.c — placeholder translation unit so the library links. */
#include "kernels/backend.h"
