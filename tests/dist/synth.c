/* tests/dist/synth.c — write the synthetic dataset of tests/unit/synth_data.h into a folder, for
 * the shell tests that launch lhost under mpirun.
 * Usage: lh_test_synth DIR N_TRAIN N_TEST */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "synth_data.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s DIR N_TRAIN N_TEST\n", argv[0]);
        return 2;
    }
    mkdir(argv[1], 0755);
    if (synth_dataset(argv[1], atoi(argv[2]), atoi(argv[3]), 10)) {
        fprintf(stderr, "%s: cannot write the dataset into %s\n", argv[0], argv[1]);
        return 1;
    }
    return 0;
}
