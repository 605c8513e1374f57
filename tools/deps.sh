#!/bin/sh
# deps.sh — install the Debian packages tern needs to build and test, when
# missing. Quick when nothing is missing (one dpkg-query). Run as root (or with
# sudo available); prints what it installs.
set -e
BUILD="gcc make pkg-config libssl-dev libevent-dev libdb-dev libspf2-dev libopendkim-dev
       libopendmarc-dev libcrypt-dev zlib1g-dev publicsuffix"
TEST="clang libclang-rt-14-dev python3 python3-pytest python3-dkim python3-spf python3-dnspython
      swaks dnsmasq-base isync fetchmail openssl procps iproute2 passwd postfix
      dovecot-imapd dovecot-pop3d libxml2-utils"
[ "${1:-}" = "--build-only" ] && TEST=""

missing=""
for p in $BUILD $TEST; do
	s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$s" = "installed" ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "tern: installing missing Debian packages:$missing"
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
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
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
