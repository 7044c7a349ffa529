#!/bin/sh
# The first thing to try: a working VPN server from the ocserv binary alone (no openssl, no certtool).
#
#   sudo sh examples/demo.sh            # sets up /var/lib/ocserv-demo once, then runs the server
#   sh examples/demo.sh --check         # sets up, then only checks the configuration (ocserv -t)
#
# Environment (all optional):
#   OCSERV               the server binary (default: ../dist/ocserv from this script, else `ocserv` on PATH)
#   OCSERV_DEMO_DIR      state directory (default /var/lib/ocserv-demo)
#   OCSERV_DEMO_HOST     the name or IP address clients use (default: this machine's name, `uname -n`)
#   OCSERV_DEMO_PORT     TCP and UDP port (default 4443)
#   OCSERV_DEMO_PASSWORD the demo user's password (default: 16 random hex digits from /dev/urandom)
#
# What is missing in the state directory is created there with the binary's own applets, reached
# busybox-style through links named after them in <state>/bin (OCSERV_APPLET is set as well, for an
# OCSERV that is a wrapper running `bun src/cli.ts`, where the invoked name is not visible):
#   ca.pem, ca-key.pem          a CA (ocserv-certtool ca)
#   server.pem, server-key.pem  the server certificate for OCSERV_DEMO_HOST (ocserv-certtool server)
#   ocpasswd, demo-password     user `demo` (ocpasswd)
#   ocserv.conf                 examples/demo.conf with its paths and port adjusted
# Existing files are never replaced; delete the directory to start over.
set -eu

die() {
	printf 'demo.sh: %s\n' "$*" >&2
	exit 1
}

mode=run
case "${1:-}" in
"") ;;
--check) mode=check ;;
-h | --help)
	sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
*) die "unknown argument '$1' (use --check or --help)" ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
template=$here/demo.conf
[ -f "$template" ] || die "$template is missing (it is the configuration template)"

if [ -z "${OCSERV:-}" ]; then
	if [ -x "$here/../dist/ocserv" ]; then
		OCSERV=$here/../dist/ocserv
	else
		OCSERV=$(command -v ocserv) || die "no server binary: build dist/ocserv or set OCSERV"
	fi
fi
# The links in <state>/bin need an absolute target.
case "$OCSERV" in
/*) ;;
*/*) OCSERV=$(cd "$(dirname "$OCSERV")" && pwd)/$(basename "$OCSERV") ;;
*) OCSERV=$(command -v "$OCSERV") || die "'$OCSERV' not found on PATH" ;;
esac
[ -x "$OCSERV" ] || die "$OCSERV is not an executable file"

STATE=${OCSERV_DEMO_DIR:-/var/lib/ocserv-demo}
case "$STATE" in
/*) ;;
*) STATE=$(pwd)/$STATE ;;
esac
case "$STATE" in
*"
"*) die "the state directory name must not contain a line break" ;;
esac
PORT=${OCSERV_DEMO_PORT:-4443}
case "$PORT" in
"" | *[!0-9]*) die "OCSERV_DEMO_PORT must be a number" ;;
esac
[ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] || die "OCSERV_DEMO_PORT must be 1..65535"
HOST=${OCSERV_DEMO_HOST:-$(uname -n)}

if [ "$mode" = run ] && [ "$(id -u)" != 0 ]; then
	die "run as root: the server creates a tun device (or use --check to only set up and test)"
fi

umask 077
mkdir -p "$STATE/bin"
chmod 700 "$STATE"
ln -sf "$OCSERV" "$STATE/bin/ocpasswd"
ln -sf "$OCSERV" "$STATE/bin/ocserv-certtool"

certtool() {
	OCSERV_APPLET=ocserv-certtool "$STATE/bin/ocserv-certtool" "$@"
}
ocpasswd() {
	OCSERV_APPLET=ocpasswd "$STATE/bin/ocpasswd" "$@"
}

if [ ! -f "$STATE/ca.pem" ]; then
	echo "creating the demo CA"
	certtool ca --cn "ocserv demo CA" --out-cert "$STATE/ca.pem" --out-key "$STATE/ca-key.pem" >/dev/null
fi
if [ ! -f "$STATE/server.pem" ]; then
	echo "creating the server certificate for $HOST"
	certtool server --ca "$STATE/ca.pem" --ca-key "$STATE/ca-key.pem" --cn "$HOST" \
		--out-cert "$STATE/server.pem" --out-key "$STATE/server-key.pem" >/dev/null
fi
if [ ! -f "$STATE/ocpasswd" ]; then
	echo "creating user 'demo'"
	if [ -n "${OCSERV_DEMO_PASSWORD:-}" ]; then
		password=$OCSERV_DEMO_PASSWORD
	else
		password=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
	fi
	printf '%s\n' "$password" >"$STATE/demo-password"
	printf '%s\n' "$password" | ocpasswd -c "$STATE/ocpasswd" demo
fi
if [ ! -f "$STATE/ocserv.conf" ]; then
	echo "writing $STATE/ocserv.conf"
	# Escape the characters sed's replacement treats specially (and the '|' delimiter).
	state_sed=$(printf '%s\n' "$STATE" | sed 's/[\\&|]/\\&/g')
	sed -e "s|/var/lib/ocserv-demo|$state_sed|g" \
		-e "s/^tcp-port = 4443\$/tcp-port = $PORT/" \
		-e "s/^udp-port = 4443\$/udp-port = $PORT/" \
		"$template" >"$STATE/ocserv.conf"
fi

pin=$(certtool pin "$STATE/server.pem")
case "$HOST" in
*:*) url_host="[$HOST]" ;;
*) url_host=$HOST ;;
esac
cat <<EOF

ocserv demo in $STATE
  user:      demo
  password:  $(cat "$STATE/demo-password" 2>/dev/null || echo "(not stored: see $STATE/ocpasswd)")
Connect from a client with:
  sudo openconnect --user demo --servercert $pin https://$url_host:$PORT
Add users with:  $STATE/bin/ocpasswd -c $STATE/ocpasswd USERNAME

EOF

# The server must not see an applet request meant for the commands above.
unset OCSERV_APPLET
if [ "$mode" = check ]; then
	exec "$OCSERV" -t -c "$STATE/ocserv.conf"
fi
exec "$OCSERV" -f -e -c "$STATE/ocserv.conf"
