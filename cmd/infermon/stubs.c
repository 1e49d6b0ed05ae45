#include <stdio.h>

#include "cmd.h"

/* Temporary until the subcommands land; each says so and fails. */
int cmd_render(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fputs("infermon render: not implemented yet\n", stderr);
	return 2;
}


