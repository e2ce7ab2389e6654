/* host/cli/cmd_check.h — `lhost plugins check PATH.so`, the plugin conformance checker
 * (cmd_check.c); `lhost plugins` hands it its arguments when the first one is "check". */
#ifndef LH_CMD_CHECK_H
#define LH_CMD_CHECK_H

/* argv[0] is "check". Returns the exit code: 0 every rule passed, 1 some failed, 2 usage. */
int lh_cmd_plugins_check(int argc, char **argv);

#endif
