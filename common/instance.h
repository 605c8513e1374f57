/* instance.h — an instance is a configuration directory (PRODUCT.md 3): tern.conf
 * with the paths, ports and hostname shared by every daemon, plus one config file
 * per daemon. */
#ifndef TERN_INSTANCE_H
#define TERN_INSTANCE_H

#include "common/config.h"

extern const struct cfg_key tern_settings[];

/* Standard service ports; the listening port is port_base + these. */
#define PORT_SMTP	25
#define PORT_SUBMISSION	587
#define PORT_SMTPS	465
#define PORT_POP3	110
#define PORT_POP3S	995
#define PORT_IMAP	143
#define PORT_IMAPS	993
#define PORT_HTTP	80
#define PORT_HTTPS	443

struct instance {
	char *dir;		/* absolute config directory */
	struct cfg conf;	/* tern.conf */
	char *hostname;
	unsigned port_base;
	char *spool_dir, *mail_dir, *db_dir, *run_dir, *log_dir;
};

/* Resolve the directory: explicit dir, else $TERN_CONFIG, else /etc/tern. */
const char *instance_default_dir(const char *explicit_dir);
/* Load DIR/tern.conf. Returns 0, or -1 with errors appended. */
int instance_load(struct instance *in, const char *dir, struct cfg_errors *errs);
void instance_free(struct instance *in);
/* Load DIR/NAME.conf (e.g. "smtpd") against schema. */
int instance_conf(const struct instance *in, const char *name, const struct cfg_key *schema,
		  struct cfg *out, struct cfg_errors *errs);
/* Path of a socket in run_dir, e.g. instance_sock(in, "auth") -> RUN/auth.sock. */
char *instance_sock(const struct instance *in, const char *name);

#endif
