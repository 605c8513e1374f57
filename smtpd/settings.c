/* settings.c — smtpd.conf schema and loading. */
#include "smtpd/settings.h"
#include "common/util.h"

#include <stdlib.h>
#include <strings.h>

const struct cfg_key smtpd_settings[] = {
	{ "max_message_size", CFG_SIZE, "35m", "Largest message accepted (announced in EHLO SIZE, enforced while receiving)", NULL },
	{ "max_recipients", CFG_INT, "100", "Recipients per message; more get 452 4.5.3 (RFC 5321 4.5.3.1.8 asks for at least 100)", NULL },
	{ "max_command_line", CFG_INT, "512", "Longest command line in bytes including CRLF (RFC 5321 4.5.3.1.4); MAIL and RCPT may use 1024 more for ESMTP parameters, AUTH lines 12288", NULL },
	{ "max_text_line", CFG_INT, "998", "Longest message line in bytes, without CRLF (RFC 5321 4.5.3.1.6); longer lines refuse the message", NULL },
	{ "max_errors", CFG_INT, "10", "Protocol errors per session before the client is disconnected with 421", NULL },
	{ "command_timeout", CFG_TIME, "5m", "Idle time allowed while waiting for a command (RFC 5321 4.5.3.2.7: 5 minutes)", NULL },
	{ "data_timeout", CFG_TIME, "3m", "Idle time allowed while receiving message data (RFC 5321 4.5.3.2.5: 3 minutes)", NULL },
	{ "queue_timeout", CFG_TIME, "2m", "How long the queue may take to answer before the client gets 451 4.3.0", NULL },
	{ "max_sessions", CFG_INT, "1000", "Simultaneous SMTP sessions; more are refused with 421", NULL },
	{ "max_sessions_per_ip", CFG_INT, "20", "Simultaneous SMTP sessions from one client address", NULL },
	{ "relay_domains", CFG_LIST, "", "Domains accepted on port 25 for relaying (besides local recipients), comma-separated", NULL },
	{ "add_auth_user_to_received", CFG_BOOL, "no", "Name the authenticated user in the Received header", NULL },
	{ "plaintext_auth_loopback", CFG_BOOL, "no", "Offer AUTH without TLS to clients on the loopback address", NULL },
	{ "tls_cert", CFG_PATH, "tls/cert.pem", "TLS certificate chain (PEM), read at start before dropping privileges", NULL },
	{ "tls_key", CFG_PATH, "tls/key.pem", "TLS private key (PEM), read at start before dropping privileges", NULL },
	{ "mail_auth", CFG_BOOL, "yes", "Check SPF, DKIM and DMARC of mail arriving on port 25 (not for authenticated users or trusted_networks)", NULL },
	{ "spf_fail_reject", CFG_BOOL, "no", "Refuse mail whose SPF result is fail at MAIL FROM (default: record it and let DMARC decide, RFC 7489 10.1)", NULL },
	{ "spf_overrides", CFG_LIST, "", "spf_fail_reject per sender domain (MAIL FROM domain, or HELO name for <>), as domain=reject|mark", NULL },
	{ "dns_temperror", CFG_ENUM, "accept", "A temporary DNS failure during the checks: accept (and mark) or defer (451)", "accept,defer" },
	{ "dmarc_overrides", CFG_LIST, "", "Local DMARC policy per sender domain, overriding its published one, as domain=none|quarantine|reject", NULL },
	{ "trusted_networks", CFG_LIST, "127.0.0.0/8, ::1", "Client networks (CIDR) whose mail skips the SPF/DKIM/DMARC checks (this host by default, like Postfix mynetworks)", NULL },
	{ "mail_auth_threads", CFG_INT, "4", "Worker threads for the DNS work of the checks", NULL },
	{ NULL, 0, NULL, NULL, NULL },
};

static unsigned bounded(const struct cfg *c, const char *name, unsigned lo, unsigned hi)
{
	uint64_t v = cfg_int(c, name);
	return v < lo ? lo : v > hi ? hi : (unsigned)v;
}

void smtpd_conf_load(struct smtpd_conf *sc, const struct cfg *c)
{
	sc->max_message_size = cfg_int(c, "max_message_size");
	sc->max_recipients = bounded(c, "max_recipients", 1, 1000);	/* QUEUE_MAX_RCPTS */
	sc->max_command_line = bounded(c, "max_command_line", 512, 12290);
	sc->max_text_line = bounded(c, "max_text_line", 78, 1000000);
	sc->max_errors = bounded(c, "max_errors", 1, 1000);
	sc->command_timeout = bounded(c, "command_timeout", 1, 86400);
	sc->data_timeout = bounded(c, "data_timeout", 1, 86400);
	sc->queue_timeout = bounded(c, "queue_timeout", 1, 3600);
	sc->max_sessions = bounded(c, "max_sessions", 1, 100000);
	sc->max_sessions_per_ip = bounded(c, "max_sessions_per_ip", 1, 100000);
	sc->nrelay_domains = cfg_list(c, "relay_domains", &sc->relay_domains);
	sc->add_auth_user_to_received = cfg_bool(c, "add_auth_user_to_received");
	sc->plaintext_auth_loopback = cfg_bool(c, "plaintext_auth_loopback");
	sc->tls_cert = cfg_path(c, "tls_cert");
	sc->tls_key = cfg_path(c, "tls_key");
}

void smtpd_conf_free(struct smtpd_conf *sc)
{
	cfg_list_free(sc->relay_domains, sc->nrelay_domains);
	free(sc->tls_cert);
	free(sc->tls_key);
}

bool smtpd_relay_domain(const struct smtpd_conf *sc, const char *domain)
{
	for (size_t i = 0; i < sc->nrelay_domains; i++)
		if (!strcasecmp(sc->relay_domains[i], domain))
			return true;
	return false;
}
