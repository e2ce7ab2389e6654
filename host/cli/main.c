/* host/cli/main.c — the lhost command line: a table of subcommands, each parsing its own
 * arguments with host/cli/args.c. The only file that exits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "dist.h"
#include "lhost/version.h"

typedef struct subcommand {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} subcommand;

static const subcommand commands[] = {
    {"train", lh_cmd_train, "train a model from a YAML config (-c FILE [--resume CKPT])"},
    {"fit", lh_cmd_train, "the same as train (LightningCLI's name)"},
    {"validate", lh_cmd_validate, "validate a checkpoint (--ckpt CKPT [--data DIR])"},
    {"test", lh_cmd_test, "test a checkpoint on the test split (--ckpt CKPT [--data PATH])"},
    {"predict", lh_cmd_predict, "write predictions of a checkpoint (--ckpt --data --out)"},
    {"plugins", lh_cmd_plugins, "list plugins, describe one (--verbose NAME), check PATH.so"},
    {"ckpt", lh_cmd_ckpt, "inspect a checkpoint (ckpt inspect PATH)"},
    {"plot", lh_cmd_plot, "draw a run's learning curves (RUN_DIR -o curves.png|.svg)"},
    {"new-plugin", lh_cmd_new_plugin, "start a plugin from the SDK template (NAME [--kind])"},
};

#define N_COMMANDS ((int)(sizeof commands / sizeof commands[0]))

static void print_help(FILE *f)
{
    int k;
    fprintf(f, "usage: lhost <command> [options]\n"
               "       lhost --version | --help\n\ncommands:\n");
    for (k = 0; k < N_COMMANDS; k++)
        fprintf(f, "  %-10s %s\n", commands[k].name, commands[k].help);
    fprintf(f, "\nRun 'lhost <command> --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    int k;
    /* Redirected, stdout would be block-buffered and its lines would land after stderr's
     * (plugin messages, warnings) in a shared log: line-buffer it, as a terminal is. */
    if (!isatty(STDOUT_FILENO))
        setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        print_help(stderr);
        return 2;
    }
    if ((strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "--help") == 0 ||
         strcmp(argv[1], "-h") == 0) &&
        argc > 2) {
        fprintf(stderr, "lhost: %s takes no arguments, got '%s'%s%s%s\n", argv[1], argv[2],
                argv[1][1] == 'h' || argv[1][2] == 'h' ? " (a command's options: lhost " : "",
                argv[1][1] == 'h' || argv[1][2] == 'h' ? argv[2] : "",
                argv[1][1] == 'h' || argv[1][2] == 'h' ? " --help)" : "");
        return 2;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("lhost %s (plugin ABI %d.%d.%d)\n", LH_VERSION, LHOST_ABI_VERSION_MAJOR,
               LHOST_ABI_VERSION_MINOR, LHOST_ABI_VERSION_PATCH);
        /* What data-parallel training can ride: mpirun/srun need MPI; GPU gradients NCCL. */
#ifdef LHOST_NCCL_VERSION
        printf("MPI: %s\nNCCL: %s (GPU gradients, in the CUDA module)\n", lh_dist_engine(),
               LHOST_NCCL_VERSION);
#else
        printf("MPI: %s\nNCCL: no (not built)\n", lh_dist_engine());
#endif
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        print_help(stdout);
        return 0;
    }
    for (k = 0; k < N_COMMANDS; k++)
        if (strcmp(argv[1], commands[k].name) == 0)
            exit(commands[k].fn(argc - 1, argv + 1));
    fprintf(stderr, "lhost: unknown command '%s'\n", argv[1]);
    print_help(stderr);
    return 2;
}
