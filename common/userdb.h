/* userdb.h — the user database of an instance, in db_dir (Berkeley DB maps):
 *
 *   domains.db  key: domain                  value: "" (a local domain)
 *   users.db    key: local@domain            value: "QUOTA\tHASH" or "QUOTA\tHASH\tHOST"
 *                                            (quota bytes, 0 = none; HASH: crypt(3)
 *                                            yescrypt; HOST: the user's mailbox host,
 *                                            absent when the user has none)
 *   aliases.db  key: local@domain or @domain value: "target,target,..." (@domain is the
 *                                            catch-all of that domain)
 *
 * Addresses and domains are stored lower-case (lookups are case-insensitive).
 * Written by `mailctl` (exclusive lock), read by authd (shared lock): map.h.
 * Running as root the files belong to the auth service account (mode 0600),
 * so no other daemon can read them.
 *
 * The functions that set or check password hashes live in userdb_pass.c (see
 * the end of this header); only authd and mailctl call them, so only those two
 * programs link that code. Every function takes the db_dir (authd, chrooted
 * into it, passes "/"). Functions with a `why` argument return 0 or -1 with a
 * one-line reason. */
#ifndef TERN_USERDB_H
#define TERN_USERDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define USERDB_MAX_LOCAL	64
#define USERDB_MAX_DOMAIN	253
#define USERDB_MAX_ADDR		(USERDB_MAX_LOCAL + 1 + USERDB_MAX_DOMAIN + 1)	/* with NUL */
#define USERDB_MAX_TARGETS	100	/* per alias */
#define USERDB_MAX_PASSWORD	1024
#define USERDB_MAX_HOST		253	/* a mailbox host: host name or IP address */
#define USERDB_MAX_HASH		512	/* a crypt(3) hash as stored */

/* What the directory holds about a user besides the password hash. */
struct userdb_user {
	uint64_t quota;			/* bytes, 0 = none */
	char host[USERDB_MAX_HOST + 1];	/* mailbox host, "" = none (this host) */
};

/* ---- names ---- */
/* Validate and lower-case a domain into out (USERDB_MAX_DOMAIN + 1 bytes). */
bool userdb_norm_domain(const char *in, char *out);
/* Validate and lower-case local@domain into out (USERDB_MAX_ADDR bytes). The
 * local part is dot-atom text without '/', so it is a safe directory name. */
bool userdb_norm_address(const char *in, char *out);
/* "@domain" (a catch-all) or an address, normalised; for alias keys/targets. */
bool userdb_norm_alias_key(const char *in, char *out);
/* Split a normalised address at the first '+' of its local part:
 * "u+x@d" -> base "u@d", detail "x". No '+': base = address, detail "". */
void userdb_split_detail(const char *addr, char *base, char *detail, size_t detail_len);
/* Domain part of a normalised address ("" if none). */
const char *userdb_domain_of(const char *addr);
/* A mailbox host: a host name (lower-cased) or an IPv4/IPv6 address, or "". */
bool userdb_norm_host(const char *in, char *out);

/* authd at start (as root, before its chroot): give existing maps to the auth
 * service account, whoever wrote them last (e.g. `mailctl init` before the
 * accounts existed). */
void userdb_prepare(const char *db_dir);

/* ---- domains ---- */
/* Add a local domain; adding an existing domain is not an error. */
int userdb_domain_add(const char *db_dir, const char *domain, char *why, size_t whylen);
/* Delete a domain; refused while users or aliases of it remain. */
int userdb_domain_del(const char *db_dir, const char *domain, char *why, size_t whylen);
/* 1 local, 0 not, -1 database error. domain must be normalised. */
int userdb_domain_exists(const char *db_dir, const char *domain);
/* Calls fn for each domain in order. 0 or -1. */
int userdb_domain_list(const char *db_dir, void (*fn)(const char *domain, void *arg), void *arg);

/* ---- users (no hashes here) ---- */
int userdb_user_del(const char *db_dir, const char *address, char *why, size_t whylen);
/* 1 exists (*u filled when non-NULL), 0 not, -1 error. address normalised. */
int userdb_user_get(const char *db_dir, const char *address, struct userdb_user *u);
int userdb_user_set_quota(const char *db_dir, const char *address, uint64_t quota,
			  char *why, size_t whylen);
/* Set the mailbox host ("" = none). */
int userdb_user_set_host(const char *db_dir, const char *address, const char *host,
			 char *why, size_t whylen);
/* domain NULL: every user. */
int userdb_user_list(const char *db_dir, const char *domain,
		     void (*fn)(const char *address, const struct userdb_user *u, void *arg),
		     void *arg);

/* ---- aliases ---- */
/* Add targets (comma-separated) to the alias key (address or @domain) of a local
 * domain; targets already there are kept once. */
int userdb_alias_add(const char *db_dir, const char *key, const char *targets,
		     char *why, size_t whylen);
/* Remove the given targets (comma-separated), or the whole alias when targets is
 * NULL or empty; an alias left without targets is deleted. */
int userdb_alias_del(const char *db_dir, const char *key, const char *targets,
		     char *why, size_t whylen);
/* Replace the targets of an alias (an import). */
int userdb_alias_put(const char *db_dir, const char *key, const char *targets,
		     char *why, size_t whylen);
/* 1 found (*targets malloc'd "a,b,c"), 0 not, -1 error. key normalised. */
int userdb_alias_get(const char *db_dir, const char *key, char **targets);
/* domain NULL: every alias. */
int userdb_alias_list(const char *db_dir, const char *domain,
		      void (*fn)(const char *key, const char *targets, void *arg), void *arg);

/* Merge an alias's target list (userdb_alias.c, shared by every directory
 * backend): old (NULL: none) plus the targets of add, minus those of remove
 * (remove "" removes all). *out is the new "a,b" list (malloc'd; "" when no
 * target is left: the alias goes). 0, or -1 with why. */
int userdb_alias_merge(const char *old, const char *add, const char *remove, char **out,
		       char *why, size_t whylen);

/* ---- passwords: userdb_pass.c (authd and mailctl only) ---- */
/* Add a user of a local domain with a password (hashed here), quota and
 * mailbox host ("" = none). */
int userdb_user_add(const char *db_dir, const char *address, const char *password,
		    const struct userdb_user *u, char *why, size_t whylen);
int userdb_user_passwd(const char *db_dir, const char *address, const char *password,
		       char *why, size_t whylen);
/* Check a password: 1 right, 0 wrong or no such user, -1 database error. The
 * work done for an unknown user is the same as for a wrong password. */
int userdb_check_password(const char *db_dir, const char *address, const char *password);
/* yescrypt hash of password into out (CRYPT_OUTPUT_SIZE bytes); 0 or -1. */
int userdb_hash_password(const char *password, char *out, size_t outlen);
/* Does password match hash (NULL: no such user; the same work is done)? */
bool userdb_hash_matches(const char *password, const char *hash);
/* A hash as the directory stores it: crypt(3) text, no spaces or controls. */
bool userdb_hash_valid(const char *hash);
/* Export and import (`mailctl directory`): every user with its hash, and a
 * user stored exactly as given (replacing one of that address). */
int userdb_user_list_hashes(const char *db_dir,
			    void (*fn)(const char *address, const struct userdb_user *u,
				       const char *hash, void *arg), void *arg);
int userdb_user_put_hash(const char *db_dir, const char *address, const struct userdb_user *u,
			 const char *hash, char *why, size_t whylen);

/* ---- internal, shared by userdb.c and userdb_pass.c ---- */
char *userdb_path(const char *db_dir, const char *name);
/* Make a written map readable by the auth service only (when root). */
void userdb_fix_owner(const char *db_dir, const char *name);
/* Parse "QUOTA\tHASH[\tHOST]" into u; *hash (NUL-terminated, malloc'd)
 * when hash is non-NULL. false if malformed. */
bool userdb_parse_user(const char *rec, struct userdb_user *u, char **hash);
/* The record for u and hash (malloc'd). */
char *userdb_user_record(const struct userdb_user *u, const char *hash);
struct map;
/* Open name.db of db_dir for writing (creating db_dir) / close it and fix its owner. */
int userdb_open_write(const char *db_dir, const char *name, struct map **m);
int userdb_close_write(const char *db_dir, const char *name, struct map *m);

#endif
