#!/bin/sh
# make-dev-ca.sh: a local certificate authority and a localhost server
# certificate signed by it, for tests and development of tavla.
#
# Usage: certs/make-dev-ca.sh [--force] [DIR]      (DIR defaults to ./certs/dev)
#
# Writes into DIR:
#   ca.pem      the CA certificate: give it to clients (tavla --ca DIR/ca.pem)
#   ca.key      the CA's private key (mode 0600)
#   server.pem  the server certificate for localhost, 127.0.0.1 and ::1,
#               followed by ca.pem (the chain tavlad's `cert` key expects)
#   server.key  the server's private key (mode 0600): tavlad's `key`
#
# Idempotent: when all four files exist it changes nothing and says so;
# --force makes new ones. Files appear together or not at all (they are made
# in a temporary directory and moved into place). Needs the openssl command.
set -eu

force=0
dir=
for arg in "$@"; do
	case "$arg" in
	--force) force=1 ;;
	-h|--help)
		sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
		exit 0 ;;
	-*) echo "make-dev-ca.sh: unknown option $arg" >&2; exit 2 ;;
	*)
		if [ -n "$dir" ]; then
			echo "make-dev-ca.sh: only one directory, please" >&2
			exit 2
		fi
		dir=$arg ;;
	esac
done
dir=${dir:-./certs/dev}

command -v openssl >/dev/null 2>&1 || {
	echo "make-dev-ca.sh: the openssl command is not installed" >&2
	exit 1
}

if [ "$force" = 0 ] && [ -f "$dir/ca.pem" ] && [ -f "$dir/ca.key" ] &&
   [ -f "$dir/server.pem" ] && [ -f "$dir/server.key" ]; then
	echo "make-dev-ca.sh: $dir already has ca.pem, ca.key, server.pem and server.key; keeping them (--force to replace)"
	exit 0
fi
if [ "$force" = 0 ]; then
	for f in ca.pem ca.key server.pem server.key; do
		if [ -e "$dir/$f" ]; then
			echo "make-dev-ca.sh: $dir/$f exists but the set is incomplete; not overwriting it (--force to replace all four)" >&2
			exit 1
		fi
	done
fi

mkdir -p "$dir"
umask 077
tmp=$(mktemp -d "$dir/.make-dev-ca.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# Our own configuration, so that the result does not depend on the
# defaults in the system's openssl.cnf.
cat >"$tmp/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no

[dn]
CN = placeholder

[ca_ext]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

serial() { echo "0x$(openssl rand -hex 16)"; }

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/ca.key" 2>/dev/null
openssl req -new -x509 -config "$tmp/openssl.cnf" -key "$tmp/ca.key" \
	-subj "/CN=tavla development CA" -extensions ca_ext \
	-days 3650 -sha256 -set_serial "$(serial)" -out "$tmp/ca.pem"

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/server.key" 2>/dev/null
openssl req -new -config "$tmp/openssl.cnf" -key "$tmp/server.key" \
	-subj "/CN=localhost" -out "$tmp/server.csr"
# 825 days: the longest validity that Apple platforms accept for a
# server certificate from a private CA.
openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" \
	-set_serial "$(serial)" -days 825 -sha256 \
	-extfile "$tmp/openssl.cnf" -extensions server_ext -out "$tmp/server.crt" 2>/dev/null

openssl verify -CAfile "$tmp/ca.pem" "$tmp/server.crt" >/dev/null
cat "$tmp/server.crt" "$tmp/ca.pem" >"$tmp/server.pem"
chmod 600 "$tmp/ca.key" "$tmp/server.key"
chmod 644 "$tmp/ca.pem" "$tmp/server.pem"

for f in ca.key ca.pem server.key server.pem; do
	mv -f "$tmp/$f" "$dir/$f"
done
echo "make-dev-ca.sh: wrote $dir/ca.pem, ca.key, server.pem, server.key"
echo "  tavlad config:  cert = $dir/server.pem   key = $dir/server.key"
echo "  clients:        tavla --ca $dir/ca.pem ..."
