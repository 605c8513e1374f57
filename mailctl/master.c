/* master.c — placeholder: this subcommand arrives with its issue. */
#include "mailctl/commands.h"

int cmd_start(const char *dir, int argc, char **argv)
{
	return cmd_error("%s: not available yet in this build", argv[0]);
}

int cmd_stop(const char *dir, int argc, char **argv)
{
	return cmd_error("%s: not available yet in this build", argv[0]);
}

int cmd_restart(const char *dir, int argc, char **argv)
{
	return cmd_error("%s: not available yet in this build", argv[0]);
}

int cmd_reload(const char *dir, int argc, char **argv)
{
	return cmd_error("%s: not available yet in this build", argv[0]);
}

int cmd_status(const char *dir, int argc, char **argv)
{
	return cmd_error("%s: not available yet in this build", argv[0]);
}

