/* settings.h — smtpd.conf: the schema (each setting declared once, with its
 * default and documentation) and the values a running smtpd uses. */
#ifndef TERN_SMTPD_SETTINGS_H
#define TERN_SMTPD_SETTINGS_H

#include "common/config.h"
#include "common/netlist.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

extern const struct cfg_key smtpd_settings[];

struct smtpd_conf {
	uint64_t max_message_size;
	unsigned max_recipients;
	size_t max_command_line;	/* including CRLF */
	size_t max_text_line;		/* excluding CRLF */
	unsigned max_errors;
	unsigned command_timeout;	/* seconds */
	unsigned data_timeout;
	unsigned queue_timeout;		/* seconds queued may take to answer */
	unsigned max_sessions;		/* MX pool (port 25) */
	unsigned max_submission_sessions;	/* submission pool (587, 465) */
	unsigned max_sessions_per_ip;
	char **relay_domains;
	size_t nrelay_domains;
	bool add_auth_user_to_received;
	struct netlist plaintext_nets;	/* may AUTH without TLS */
	struct netlist trusted;		/* trusted_networks */
	char *tls_cert, *tls_key;
	/* tern.conf, for the internal port of a mailbox host */
	struct netlist frontends;	/* site_frontends: who may connect there */
	char *site_secret;		/* site_secret_file: what they AUTH with, "" none */
	bool site_tls_verify;		/* site_tls = verify: the secret only inside TLS */
};

void smtpd_conf_load(struct smtpd_conf *sc, const struct cfg *c);
void smtpd_conf_free(struct smtpd_conf *sc);
/* The site settings of tern.conf (as root: the secret file); fatal if unreadable. */
struct instance;
void smtpd_site_load(struct smtpd_conf *sc, const struct instance *in);
/* Is domain (case-insensitive) one of relay_domains? */
bool smtpd_relay_domain(const struct smtpd_conf *sc, const char *domain);

#endif
