/* host/cli/cmd_ckpt.h — the `lhost ckpt` command (see cmd_ckpt.c). */
#ifndef LH_CMD_CKPT_H
#define LH_CMD_CKPT_H

/* argv[0] is "ckpt". Prints to stdout (errors to stderr, prefixed "lhost: ").
 * Returns the exit status: 0 ok, 1 unreadable or invalid checkpoint, 2 usage error. */
int lh_cmd_ckpt(int argc, char **argv);

#endif
