/* cmd_dkim.c — placeholder: this subcommand arrives with its issue. */
#include "mailctl/commands.h"

int cmd_dkim(const char *dir, int argc, char **argv)
{
	return cmd_error("%s: not available yet in this build", argv[0]);
}

