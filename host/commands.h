/* host/commands.h — the subcommands host/main.c dispatches to. Each takes its own argv (argv[0]
 * is the subcommand's name) and returns the exit code: 0 success, 1 failure, 2 usage error. */
#ifndef LH_COMMANDS_H
#define LH_COMMANDS_H

int lh_cmd_train(int argc, char **argv);
int lh_cmd_validate(int argc, char **argv);
int lh_cmd_predict(int argc, char **argv);

#endif
