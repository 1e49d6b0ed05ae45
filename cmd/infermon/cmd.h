/* Subcommands. Each returns the process exit status. */
#ifndef INFERMON_CMD_H
#define INFERMON_CMD_H

int cmd_run(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_version(int argc, char **argv);

#endif
