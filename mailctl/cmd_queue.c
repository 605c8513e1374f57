/* cmd_queue.c — placeholder: this subcommand arrives with its issue. */
#include "mailctl/commands.h"

int cmd_queue(const char *dir, int argc, char **argv)
{
	return cmd_error("%s: not available yet in this build", argv[0]);
}

