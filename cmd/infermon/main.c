/*
 * infermon - command-line entry: argument parsing and wiring only.
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "cmd.h"
#include "version.h"

static void usage(FILE *f)
{
	fputs("usage: infermon <command> [options]\n"
	      "\n"
	      "commands:\n"
	      "  run       watch labelled inference pods and keep their monitoring wired\n"
	      "  render    print the objects the controller would apply (offline)\n"
	      "  check     scrape one engine once and judge its live limits\n"
	      "  version   print version and build information\n"
	      "\n"
	      "`infermon <command> --help` describes a command's options.\n",
	      f);
}

int main(int argc, char **argv)
{
	im_alloc_install_hooks();
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "render") == 0)
		return cmd_render(argc - 1, argv + 1);
	if (strcmp(argv[1], "check") == 0)
		return cmd_check(argc - 1, argv + 1);
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0)
		return cmd_version(argc - 1, argv + 1);
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "infermon: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return 2;
}
