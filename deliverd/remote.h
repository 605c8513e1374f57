/* remote.h — the remote delivery agent (`tern-deliverd --remote`): SMTP to other
 * servers, chosen by relay host or MX, with STARTTLS per policy, DKIM signing of
 * our own domains, connection reuse and a per-destination concurrency limit. */
#ifndef TERN_DELIVERD_REMOTE_H
#define TERN_DELIVERD_REMOTE_H

#include "common/config.h"
#include "common/instance.h"

struct event_base;

/* Settings of deliverd.conf used by the remote agent (merged into its schema). */
#define REMOTE_SETTINGS \
	{ "remote_workers", CFG_INT, "8", "Remote SMTP deliveries in parallel (threads)", NULL }, \
	{ "relayhost", CFG_STR, "", "Send all remote mail through this host: host, host:port, [host] or [host]:port ([] = no MX lookup)", NULL }, \
	{ "relayhost_user", CFG_STR, "", "User for SMTP AUTH at the relay host (needs TLS)", NULL }, \
	{ "relayhost_password_file", CFG_PATH, "relay.secret", "File holding the relay host password (one line; read at start)", NULL }, \
	{ "smtp_port", CFG_INT, "25", "Port of other mail servers (25; tests may change it)", NULL }, \
	{ "smtp_tls", CFG_ENUM, "may", "STARTTLS to other servers: none, may (opportunistic), encrypt (required), verify (required, certificate checked)", "none,may,encrypt,verify" }, \
	{ "smtp_tls_policy", CFG_LIST, "", "Per-destination TLS level overriding smtp_tls, as domain=level (e.g. bank.example=verify)", NULL }, \
	{ "smtp_tls_ca_file", CFG_PATH, "/etc/ssl/certs/ca-certificates.crt", "CA certificates for verifying other servers", NULL }, \
	{ "smtp_destination_concurrency", CFG_INT, "10", "Connections at once to one destination domain", NULL }, \
	{ "smtp_connection_reuse_time", CFG_TIME, "10s", "Keep an idle connection this long for the next message to the same host", NULL }, \
	{ "smtp_connect_timeout", CFG_TIME, "30s", "Give up connecting to one address after this long", NULL }, \
	{ "dkim_sign", CFG_BOOL, "yes", "DKIM-sign mail of local domains that have a key (mailctl dkim keygen)", NULL }, \
	{ "dkim_selectors", CFG_LIST, "", "Selector to sign with per domain, as domain=selector (default: the domain's only key)", NULL }

struct agent *remote_run(const struct instance *in, const struct cfg *conf,
			 struct event_base *base, const char *queue_sock);
/* Read keys and secrets (before privileges are dropped). */
void remote_load(const struct instance *in, const struct cfg *conf);

#endif
