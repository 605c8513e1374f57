#!/bin/sh
# install.sh DESTDIR SBINDIR LIBEXECDIR MANDIR BUILDBIN — what `make install` does:
# mailctl to SBINDIR (plus a `sendmail` link to it), the daemons to LIBEXECDIR
# (mailctl finds them there), the man pages (docs/*.8), the documented default
# configs (etc/*.conf to PREFIX/share/tern/), and — as root installing into the
# live system (no DESTDIR) — the unprivileged accounts. The instance itself is
# made with `mailctl init /etc/tern` (see INSTALL).
set -e
DESTDIR=$1 SBINDIR=$2 LIBEXECDIR=$3 MANDIR=$4 BUILDBIN=$5
cd "$(dirname "$0")/.."

install -d -m 0755 "$DESTDIR$SBINDIR" "$DESTDIR$LIBEXECDIR" "$DESTDIR$MANDIR/man8"
install -m 0755 "$BUILDBIN/mailctl" "$DESTDIR$SBINDIR/mailctl"
for b in "$BUILDBIN"/tern-*; do
	[ -f "$b" ] && install -m 0755 "$b" "$DESTDIR$LIBEXECDIR/"
done
ln -sf mailctl "$DESTDIR$SBINDIR/sendmail"
for m in docs/*.8; do
	install -m 0644 "$m" "$DESTDIR$MANDIR/man8/"
done
# Default configuration files, documented line by line: etc/, generated from
# each program's schema (`make etc`; a test keeps it equal to --print-config).
DATADIR=$(dirname "$MANDIR")/tern
install -d -m 0755 "$DESTDIR$DATADIR"
install -m 0644 etc/*.conf "$DESTDIR$DATADIR/"
chmod 0644 "$DESTDIR$DATADIR"/*.conf
echo "installed mailctl and sendmail in $DESTDIR$SBINDIR, daemons in $DESTDIR$LIBEXECDIR,"
echo "manuals in $DESTDIR$MANDIR/man8, default configs in $DESTDIR$DATADIR"

# Accounts: the names are those of common/privdrop.h (one source of truth).
if [ -z "$DESTDIR" ] && [ "$(id -u)" = 0 ]; then
	for a in $(sed -n 's/^#define ACCT_[A-Z0-9]*[[:space:]]*"\(tern-[a-z0-9]*\)".*/\1/p' common/privdrop.h); do
		getent passwd "$a" >/dev/null && continue
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin --comment "tern mail system" "$a"
		echo "created account $a"
	done
fi
if [ ! -f "$DESTDIR/etc/tern/tern.conf" ]; then
	echo "next: mailctl init /etc/tern --hostname \$(hostname -f) --domain YOUR.DOMAIN --port-base 0 --listen 0.0.0.0"
fi
