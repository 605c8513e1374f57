/* settings.c — smtpd.conf schema and loading. */
#include "smtpd/settings.h"
#include "common/cfgcheck.h"
#include "common/queue_proto.h"
#include "common/instance.h"
#include "common/site.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool check_spf_override(const char *item, char *why, size_t whylen)
{
	return cfg_check_domain_word(item, "reject,mark", why, whylen);
}

static bool check_dmarc_override(const char *item, char *why, size_t whylen)
{
	return cfg_check_domain_word(item, "none,quarantine,reject", why, whylen);
}

const struct cfg_key smtpd_settings[] = {
	CFG_KEY_SIZE("max_message_size", "35m", 1024, 2ull << 30, "Largest message accepted (announced in EHLO SIZE, enforced while receiving)"),
	CFG_KEY_INT("max_recipients", "100", 1, QUEUE_MAX_RCPTS, "Recipients per message; more get 452 4.5.3 (RFC 5321 4.5.3.1.8 asks for at least 100)"),
	CFG_KEY_SIZE("max_command_line", "512", 512, 12290, "Longest command line in bytes including CRLF (RFC 5321 4.5.3.1.4); MAIL and RCPT may use 1024 more for ESMTP parameters, AUTH lines 12288"),
	CFG_KEY_SIZE("max_text_line", "998", 78, 1000000, "Longest message line in bytes, without CRLF (RFC 5321 4.5.3.1.6); longer lines refuse the message"),
	CFG_KEY_INT("max_errors", "10", 1, 1000, "Protocol errors per session before the client is disconnected with 421"),
	CFG_KEY_TIME("command_timeout", "5m", 1, 86400, "Idle time allowed while waiting for a command (RFC 5321 4.5.3.2.7: 5 minutes)"),
	CFG_KEY_TIME("data_timeout", "3m", 1, 86400, "Idle time allowed while receiving message data (RFC 5321 4.5.3.2.5: 3 minutes)"),
	CFG_KEY_TIME("queue_timeout", "2m", 1, 3600, "How long the queue may take to answer before the client gets 451 4.3.0"),
	CFG_KEY_INT("max_sessions", "1000", 1, 100000, "Simultaneous SMTP sessions on the MX port (25); more are refused with 421"),
	CFG_KEY_INT("max_submission_sessions", "1000", 1, 100000, "Simultaneous sessions on submission (587) and smtps (465), a pool of their own: a flood on port 25 does not lock users out"),
	CFG_KEY_INT("max_sessions_per_ip", "50", 1, 100000, "Simultaneous SMTP sessions from one client address outside trusted_networks (as Postfix's smtpd_client_connection_count_limit: 50, mynetworks exempt)"),
	CFG_KEY_LIST("relay_domains", "", cfg_check_domain, "Domains accepted on port 25 for relaying (besides local recipients), comma-separated"),
	CFG_KEY_BOOL("add_auth_user_to_received", "no", "Name the authenticated user in the Received header"),
	CFG_KEY_PLAINTEXT_AUTH,
	CFG_KEY_PLAINTEXT_AUTH_OLD("plaintext_auth_loopback"),
	CFG_KEY_PATH("tls_cert", "tls/cert.pem", "TLS certificate chain (PEM), read at start before dropping privileges"),
	CFG_KEY_PATH("tls_key", "tls/key.pem", "TLS private key (PEM), read at start before dropping privileges"),
	CFG_KEY_BOOL("mail_auth", "yes", "Check SPF, DKIM and DMARC of mail arriving on port 25 (not for authenticated users or trusted_networks)"),
	CFG_KEY_BOOL("spf_fail_reject", "no", "Refuse mail whose SPF result is fail at MAIL FROM (default: record it and let DMARC decide, RFC 7489 10.1)"),
	CFG_KEY_LIST("spf_overrides", "", check_spf_override, "spf_fail_reject per sender domain (MAIL FROM domain, or HELO name for <>), as domain=reject|mark"),
	CFG_KEY_ENUM("dns_temperror", "accept", "accept,defer", "A temporary DNS failure during the checks: accept (and mark) or defer (451)"),
	CFG_KEY_LIST("dmarc_overrides", "", check_dmarc_override, "Local DMARC policy per sender domain, overriding its published one, as domain=none|quarantine|reject"),
	CFG_KEY_LIST("trusted_networks", NETLIST_LOOPBACK, netlist_check, "Client networks (CIDR) whose mail skips the SPF/DKIM/DMARC checks and the max_sessions_per_ip limit (this host by default, like Postfix mynetworks)"),
	CFG_KEY_INT("mail_auth_threads", "4", 1, 64, "Worker threads for the DNS work of the checks"),
	CFG_KEY_END,
};

void smtpd_conf_load(struct smtpd_conf *sc, const struct cfg *c)
{
	sc->max_message_size = cfg_int(c, "max_message_size");
	sc->max_recipients = (unsigned)cfg_int(c, "max_recipients");
	sc->max_command_line = cfg_int(c, "max_command_line");
	sc->max_text_line = cfg_int(c, "max_text_line");
	sc->max_errors = (unsigned)cfg_int(c, "max_errors");
	sc->command_timeout = (unsigned)cfg_int(c, "command_timeout");
	sc->data_timeout = (unsigned)cfg_int(c, "data_timeout");
	sc->queue_timeout = (unsigned)cfg_int(c, "queue_timeout");
	sc->max_sessions = (unsigned)cfg_int(c, "max_sessions");
	sc->max_submission_sessions = (unsigned)cfg_int(c, "max_submission_sessions");
	sc->max_sessions_per_ip = (unsigned)cfg_int(c, "max_sessions_per_ip");
	sc->nrelay_domains = cfg_list(c, "relay_domains", &sc->relay_domains);
	sc->add_auth_user_to_received = cfg_bool(c, "add_auth_user_to_received");
	netlist_from_cfg(&sc->plaintext_nets, c, "plaintext_auth_networks");
	netlist_from_cfg(&sc->trusted, c, "trusted_networks");
	sc->tls_cert = cfg_path(c, "tls_cert");
	sc->tls_key = cfg_path(c, "tls_key");
}

void smtpd_conf_free(struct smtpd_conf *sc)
{
	cfg_list_free(sc->relay_domains, sc->nrelay_domains);
	netlist_free(&sc->plaintext_nets);
	netlist_free(&sc->trusted);
	netlist_free(&sc->frontends);
	if (sc->site_secret)
		explicit_bzero(sc->site_secret, strlen(sc->site_secret));
	free(sc->site_secret);
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

void smtpd_site_load(struct smtpd_conf *sc, const struct instance *in)
{
	char why[300];
	netlist_from_cfg(&sc->frontends, &in->conf, "site_frontends");
	sc->site_secret = site_secret_load(in, why, sizeof why);
	if (!sc->site_secret)
		fatal("%s", why);
	sc->site_tls_verify = !strcmp(cfg_str(&in->conf, "site_tls"), "verify");
}
