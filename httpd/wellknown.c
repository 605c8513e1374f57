/* wellknown.c — what the front answers without a login: mail client
 * autoconfiguration (Thunderbird's config-v1.1.xml), the MTA-STS policy
 * (RFC 8461), and the redirect of plain HTTP to HTTPS. */
#include "httpd/front.h"
#include "common/auth_client.h"
#include "common/instance.h"
#include "common/log.h"
#include "common/util.h"

#include <ctype.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>

#define AUTOCONFIG_PATH "/.well-known/autoconfig/mail/config-v1.1.xml"
#define AUTOCONFIG_PATH_OLD "/mail/config-v1.1.xml"
#define MTA_STS_PATH "/.well-known/mta-sts.txt"

/* A domain name we may put into XML and ask authd about as it is. */
static bool plain_domain(const char *s, size_t n)
{
	if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
			return false;
	return true;
}

/* The domain a client asks about: ?emailaddress=user@DOMAIN (Thunderbird),
 * else the Host it connected to without "autoconfig." and port; malloc'd,
 * lower case, or NULL when neither names a domain. */
static char *asked_domain(struct evhttp_request *req)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *q = u ? evhttp_uri_get_query(u) : NULL;
	char *d = NULL;
	struct evkeyvalq args;
	TAILQ_INIT(&args);
	if (q && evhttp_parse_query_str(q, &args) == 0) {
		const char *addr = evhttp_find_header(&args, "emailaddress");
		const char *at = addr ? strrchr(addr, '@') : NULL;
		if (at && plain_domain(at + 1, strlen(at + 1)))
			d = xstrdup(at + 1);
	}
	evhttp_clear_headers(&args);
	const char *host = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");
	if (!d && host) {
		if (!strncasecmp(host, "autoconfig.", 11))
			host += 11;
		size_t n = strcspn(host, ":");
		if (plain_domain(host, n))
			d = xstrndup(host, n);
	}
	if (d)
		str_lower(d);
	return d;
}

static void server_xml(struct evbuffer *b, const char *dir, const char *type, unsigned port,
		       const char *socket)
{
	evbuffer_add_printf(b,
		"    <%sServer type=\"%s\">\n"
		"      <hostname>%s</hostname>\n"
		"      <port>%u</port>\n"
		"      <socketType>%s</socketType>\n"
		"      <authentication>password-cleartext</authentication>\n"
		"      <username>%%EMAILADDRESS%%</username>\n"
		"    </%sServer>\n", dir, type, F.host, front_port(port), socket, dir);
}

static void send_autoconfig(struct evhttp_request *req, const char *domain)
{
	struct evbuffer *b = evbuffer_new();
	evbuffer_add_printf(b,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<clientConfig version=\"1.1\">\n"
		"  <emailProvider id=\"%s\">\n"
		"    <domain>%s</domain>\n"
		"    <displayName>%s mail</displayName>\n"
		"    <displayShortName>%s</displayShortName>\n", domain, domain, domain, domain);
	/* Implicit TLS first: clients take the first server they can use. */
	server_xml(b, "incoming", "imap", PORT_IMAPS, "SSL");
	server_xml(b, "incoming", "imap", PORT_IMAP, "STARTTLS");
	server_xml(b, "incoming", "pop3", PORT_POP3S, "SSL");
	server_xml(b, "incoming", "pop3", PORT_POP3, "STARTTLS");
	server_xml(b, "outgoing", "smtp", PORT_SMTPS, "SSL");
	server_xml(b, "outgoing", "smtp", PORT_SUBMISSION, "STARTTLS");
	evbuffer_add_printf(b, "  </emailProvider>\n</clientConfig>\n");
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", "application/xml; charset=utf-8");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

struct ac_wait {
	struct evhttp_request *req;
	char *domain;
};

/* authd says whether the domain is ours (postmaster@ is local or unknown
 * for a local domain, remote for any other). */
static void on_domain(const struct auth_reply *r, void *arg)
{
	struct ac_wait *w = arg;
	if (r->tempfail || r->result == RCPT_TEMPFAIL)
		reply_status(w->req, 503, "Try again later");
	else if (r->result == RCPT_REMOTE)
		reply_status(w->req, 404, "Not a domain of this server");
	else
		send_autoconfig(w->req, w->domain);
	free(w->domain);
	free(w);
}

static void autoconfig(struct evhttp_request *req)
{
	char *domain = asked_domain(req);
	if (!domain) {
		reply_status(req, 400, "Which domain? Add ?emailaddress=user@domain");
		return;
	}
	struct ac_wait *w = xcalloc(1, sizeof *w);
	w->req = req;
	w->domain = domain;
	char *pm = xasprintf("postmaster@%s", domain);
	auth_client_rcpt(F.auth, pm, on_domain, w);
	free(pm);
}

static void mta_sts(struct evhttp_request *req)
{
	if (!F.sts_policy)
		reply_status(req, 404, "No MTA-STS policy");
	else
		reply_body(req, 200, "text/plain", F.sts_policy, strlen(F.sts_policy));
}

bool wellknown_serve(struct evhttp_request *req, const char *path, bool tls)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	bool get = cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD;
	if (!strcmp(path, AUTOCONFIG_PATH) || !strcmp(path, AUTOCONFIG_PATH_OLD)) {
		if (get)
			autoconfig(req);
		else
			reply_status(req, 405, "Method not allowed");
		return true;
	}
	/* RFC 8461 3.3: the policy is fetched over HTTPS only. */
	if (tls && !strcmp(path, MTA_STS_PATH)) {
		if (get)
			mta_sts(req);
		else
			reply_status(req, 405, "Method not allowed");
		return true;
	}
	return false;
}

void redirect_https(struct evhttp_request *req)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u ? evhttp_uri_get_path(u) : NULL, *q = u ? evhttp_uri_get_query(u) : NULL;
	/* The configured public host, never the client's Host header: a
	 * redirect must not send anyone to a host an attacker named. */
	char *loc = xasprintf("%s%s%s%s", F.base_url, path && *path ? path : "/", q ? "?" : "",
			      q ? q : "");
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Location", loc);
	/* 301 keeps GET a GET; 308 keeps every other method and its body. */
	bool get = cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD;
	reply_status(req, get ? 301 : 308, "Use HTTPS");
	free(loc);
}
