/* settings.c — deliverd.conf: the settings of both delivery agents, declared once. */
#include "deliverd/deliverd.h"
#include "deliverd/route.h"
#include "common/cfgcheck.h"

#include <string.h>
#include <strings.h>

static bool check_tls_policy(const char *item, char *why, size_t whylen)
{
	return cfg_check_domain_word(item, "none,may,encrypt,verify", why, whylen);
}

static bool check_selector(const char *item, char *why, size_t whylen)
{
	return cfg_check_domain_word(item, NULL, why, whylen);
}

const struct cfg_key deliverd_settings[] = {
	CFG_KEY_INT("local_workers", "4", 1, 64, "Local deliveries written in parallel (threads)"),
	CFG_KEY_ENUM("over_quota", "defer", "defer,bounce", "A message for a mailbox over its quota: defer (retry later) or bounce"),
	CFG_KEY_INT("max_hops", "50", 1, 1000, "Bounce a message with more Received/Delivered-To headers than this (mail loop)"),
	CFG_KEY_INT("remote_workers", "8", 1, 256, "Remote SMTP deliveries in parallel (threads)"),
	CFG_KEY_STR("relayhost", "", route_relayhost_check, "Send all remote mail through this host: host, host:port, [host] or [host]:port ([] = no MX lookup)"),
	CFG_KEY_STR("relayhost_user", "", NULL, "User for SMTP AUTH at the relay host (needs TLS)"),
	CFG_KEY_PATH("relayhost_password_file", "relay.secret", "File holding the relay host password (one line; read at start)"),
	CFG_KEY_INT("smtp_port", "25", 1, 65535, "Port of other mail servers (25; tests may change it)"),
	CFG_KEY_ENUM("smtp_tls", "may", "none,may,encrypt,verify", "STARTTLS to other servers: none, may (opportunistic), encrypt (required), verify (required, certificate checked)"),
	CFG_KEY_LIST("smtp_tls_policy", "", check_tls_policy, "Per-destination TLS level overriding smtp_tls, as domain=level (e.g. bank.example=verify)"),
	CFG_KEY_PATH("smtp_tls_ca_file", "/etc/ssl/certs/ca-certificates.crt", "CA certificates for verifying other servers"),
	CFG_KEY_BOOL("smtp_dane", "yes", "DANE (RFC 7672): TLS required and authenticated by TLSA records for MX hosts that publish them under DNSSEC; bogus DNSSEC answers defer"),
	CFG_KEY_PATH("dnssec_trust_anchor", "/usr/share/dns/root.key", "DNSSEC trust anchors (DS or DNSKEY lines) for validating DNS answers in-process (DANE); Debian package dns-root-data"),
	CFG_KEY_INT("smtp_destination_concurrency", "10", 1, 1000, "Connections at once to one destination domain"),
	CFG_KEY_TIME("smtp_connection_reuse_time", "10s", 1, 3600, "Keep an idle connection this long for the next message to the same host"),
	CFG_KEY_TIME("smtp_connect_timeout", "30s", 1, 600, "Give up connecting to one address after this long"),
	CFG_KEY_TIME("smtp_deadline", "30m", 10, 86400, "Longest time a session may take to open (connect, greeting, EHLO, STARTTLS) and then each message (MAIL to the end of DATA), however slowly the server answers: past it the delivery is deferred"),
	CFG_KEY_BOOL("dkim_sign", "yes", "DKIM-sign mail of local domains that have a key (mailctl dkim keygen)"),
	CFG_KEY_LIST("dkim_selectors", "", check_selector, "Selector to sign with per domain, as domain=selector (default: the domain's only key)"),
	CFG_KEY_BOOL("smtp_mta_sts", "yes", "MTA-STS (RFC 8461) for destinations without DANE: their published policy (fetched over HTTPS by the deliverd-sts process, certificates checked against smtp_tls_ca_file) decides which MX hosts may receive and that TLS is verified (enforce) or only reported (testing)"),
	CFG_KEY_INT("mta_sts_port", "443", 1, 65535, "Port of the mta-sts.DOMAIN web servers policies are fetched from (443; tests may change it)"),
	CFG_KEY_END,
};

const char *deliverd_dkim_selector(const char *domain, char **sel, size_t nsel)
{
	size_t dl = strlen(domain);
	for (size_t i = 0; i < nsel; i++)
		if (!strncasecmp(sel[i], domain, dl) && sel[i][dl] == '=')
			return sel[i] + dl + 1;
	return NULL;
}
