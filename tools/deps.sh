#!/bin/sh
# deps.sh [run|check|bench] [--print] — install the Debian packages one use of
# tern needs, when missing. Quick when nothing is missing (one dpkg-query per
# package). Run as root (or with sudo available); prints what it installs.
#
#   run    building and running tern (`make run`, `make install`): compiler,
#          libraries, and the tools `mailctl init` and tools/run-demo call.
#          Nothing that is only a test or benchmark peer: `make run` must not
#          put Postfix or Dovecot on a user's machine.
#   check  run + the test tools (`make check`): sanitizers, pytest, swaks,
#          dnsmasq, fetchmail, isync, Postfix for smtp-sink/smtp-source, and
#          headless Chromium with its WebDriver for the webmail's browser test.
#   bench  run + the benchmark's peers (`make bench`): Postfix and Dovecot.
#
# --print lists the packages it would install (those of the set that dpkg does
# not show installed), one a line, and changes nothing: tests read it to check
# what `make run` would install on a machine without them.
set -e
RUN="gcc make pkg-config libssl-dev libevent-dev libdb-dev libspf2-dev libopendkim-dev
     libopendmarc-dev libcrypt-dev zlib1g-dev publicsuffix openssl passwd libjansson-dev librnp-dev
     libunbound-dev dns-root-data libcurl4-openssl-dev libpq-dev libicu-dev libseccomp-dev"
CHECK="clang libclang-rt-14-dev python3 python3-pytest python3-pytest-xdist python3-dkim python3-spf
       python3-dnspython swaks dnsmasq-base isync fetchmail procps iproute2 postfix
       dovecot-imapd dovecot-pop3d libxml2-utils gpg gpg-agent gpgconf python3-cryptography
       ldnsutils nsd postgresql chromium chromium-driver python3-selenium"
BENCH="python3 dnsmasq-base procps postfix dovecot-imapd dovecot-pop3d gpg gpg-agent gpgconf"

set_name=check
print=no
for a in "$@"; do
	case "$a" in
	run|check|bench) set_name=$a ;;
	--print) print=yes ;;
	*) echo "usage: tools/deps.sh [run|check|bench] [--print]" >&2; exit 2 ;;
	esac
done
case "$set_name" in
run) WANT="$RUN" ;;
check) WANT="$RUN $CHECK" ;;
bench) WANT="$RUN $BENCH" ;;
esac
missing=""
for p in $(printf '%s\n' $WANT | awk '!seen[$0]++'); do
	s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$s" = "installed" ] || missing="$missing $p"
done
if [ "$print" = yes ]; then
	[ -z "$missing" ] || printf '%s\n' $missing
	exit 0
fi
[ -z "$missing" ] && exit 0

echo "tern: installing missing Debian packages ($set_name):$missing"
SUDO=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null; then SUDO=sudo; else
		echo "tern: need root to install:$missing — run 'sudo apt-get install$missing' and retry" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
# postfix is installed only for its test tools (smtp-sink, smtp-source) and the
# benchmark; preseed "No configuration" so it neither configures nor runs itself.
case " $missing " in
*" postfix "*)
	echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections ;;
esac
# postgresql is installed for the directory tests, which start clusters of
# their own in temp dirs: the package must make no system cluster.
case " $missing " in
*" postgresql "*)
	$SUDO mkdir -p /etc/postgresql-common/createcluster.d
	echo "create_main_cluster = false" |
		$SUDO tee /etc/postgresql-common/createcluster.d/tern-tests.conf >/dev/null ;;
esac
# dovecot is installed for the benchmark's private instances: no package may
# start a system service (policy-rc.d 101 = "not allowed"), ours or the host's.
policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
	policy=/usr/sbin/policy-rc.d
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee $policy >/dev/null
	$SUDO chmod 755 $policy
fi
$SUDO apt-get update -qq || true
rc=0
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null || rc=$?
[ -n "$policy" ] && $SUDO rm -f $policy
exit $rc
