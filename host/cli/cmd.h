/* host/cli/cmd.h — the lhost subcommands. Each takes the subcommand's argv (argv[0] is its name)
 * and returns the exit code: 0 success, 1 failure, 2 usage error. Only main.c exits. */
#ifndef LH_CMD_H
#define LH_CMD_H

int lh_cmd_plugins(int argc, char **argv);
int lh_cmd_train(int argc, char **argv);
int lh_cmd_validate(int argc, char **argv);
int lh_cmd_test(int argc, char **argv);
int lh_cmd_predict(int argc, char **argv);
int lh_cmd_ckpt(int argc, char **argv);
int lh_cmd_new_plugin(int argc, char **argv);
int lh_cmd_plot(int argc, char **argv);

#endif
