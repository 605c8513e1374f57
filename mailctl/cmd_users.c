/* cmd_users.c — placeholder: this subcommand arrives with its issue. */
#include "mailctl/commands.h"

int cmd_domain(const char *dir, int argc, char **argv)
{
	return cmd_error("%s: not available yet in this build", argv[0]);
}

int cmd_user(const char *dir, int argc, char **argv)
{
	return cmd_error("%s: not available yet in this build", argv[0]);
}

int cmd_alias(const char *dir, int argc, char **argv)
{
	return cmd_error("%s: not available yet in this build", argv[0]);
}

