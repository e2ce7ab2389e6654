/* host/main.c — the lhost command line. */
#include <stdio.h>
#include <string.h>

#include "cmd_new_plugin.h"

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "new-plugin") == 0)
        return lh_cmd_new_plugin(argc - 1, argv + 1);
    puts("lhost " LH_VERSION);
    return 0;
}
