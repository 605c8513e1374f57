/* procs.h — the process table: every process the master starts, declared as data
 * (name, binary, role arguments, account, chroot, listening sockets). `mailctl
 * init` and `mailctl check` walk it for the config files; the master starts the
 * entries in order (later ones may connect to the sockets of earlier ones). */
#ifndef TERN_MAILCTL_PROCS_H
#define TERN_MAILCTL_PROCS_H

#include <stddef.h>

#define PROC_MAX_ARGS	 4
#define PROC_MAX_LISTEN	 5

/* What `reload` does to a process. */
enum proc_reload {
	RELOAD_IN_PLACE,	/* SIGHUP: it re-reads its config and keeps running */
	RELOAD_GENERATION,	/* a new process is started (same listening sockets);
				 * once it is ready the old one gets SIGHUP, stops
				 * accepting and exits when its sessions end */
};

/* Run keys the master passes (common/daemon.h): each process gets only those
 * its role uses, so a network parser holds neither. */
enum proc_keys {
	KEY_LOGIN = 1 << 0,	/* TERN_SECRET_FD: authd and the post-login mail roles */
	KEY_AGENT = 1 << 1,	/* TERN_AGENT_KEY_FD: queued and the delivery agents */
};

struct proc_def {
	const char *name;		/* status name, e.g. "deliverd-local" */
	const char *binary;		/* "tern-deliverd"; config is DIR/deliverd.conf */
	const char *args[PROC_MAX_ARGS];	/* role arguments, NULL-terminated */
	const char *account;		/* common/privdrop.h account when started as root */
	const char *chroot;		/* tern.conf path key ("run_dir", "db_dir") or NULL */
	const char *listen[PROC_MAX_LISTEN];	/* listening socket names, NULL-terminated */
	enum proc_reload reload;
	unsigned keys;			/* enum proc_keys */
};

extern const struct proc_def procs[];
extern const size_t nprocs;

/* A listening service: name and standard port (listening port = port_base + it). */
struct service {
	const char *name;
	unsigned port;
};
extern const struct service services[];
extern const size_t nservices;
const struct service *service_find(const char *name);

/* Config name of a process: its binary without "tern-" (static buffer-free: points
 * into the binary name). */
const char *proc_conf_name(const struct proc_def *p);
/* The distinct config names of the table, in table order; returns the count. */
size_t proc_conf_names(const char **out, size_t max);
/* True if p listens on any socket the master binds. */
int proc_is_network(const struct proc_def *p);

/* Path of a tern binary: the directory of the running mailctl when it is there
 * (a build tree), else TERN_LIBEXECDIR (installed). Caller frees. */
char *tern_binary_path(const char *binary);

/* Every account the suite uses (common/privdrop.h), NULL-terminated. */
extern const char *const tern_accounts[];

#endif
