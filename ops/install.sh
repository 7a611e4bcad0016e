#!/bin/sh
# ops/install.sh: installs tavlad as a systemd service on Debian 12.
#
# Builds (unless build/ already holds a build) and installs the binaries
# and manual pages with `cmake --install` under /usr/local, creates the
# system user `tavla`, the data directory /var/lib/tavla (mode 0700), the
# backup directory /var/backups/tavla, the configuration
# /etc/tavla/tavlad.conf (kept when it exists), and the units
# tavlad.service, tavlad-backup.service and tavlad-backup.timer.
# It enables the backup timer; start the daemon yourself once the config
# says where the certificate is:  systemctl enable --now tavlad
#
# Run as root from the source tree: ops/install.sh
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
[ "$(id -u)" = 0 ] || { echo "install.sh: run as root" >&2; exit 1; }

ops/deps.sh
if [ ! -x build/tavlad ]; then
	cmake -S . -B build -DTAVLA_TESTS=OFF -DTAVLA_FAULT=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build build -j"$(nproc)"
fi
cmake --install build --prefix /usr/local

if ! getent passwd tavla >/dev/null; then
	adduser --system --group --home /var/lib/tavla --no-create-home \
		--shell /usr/sbin/nologin tavla
fi
install -d -o tavla -g tavla -m 0700 /var/lib/tavla
install -d -o tavla -g tavla -m 0700 /var/backups/tavla
install -d -o root -g tavla -m 0750 /etc/tavla

if [ ! -e /etc/tavla/tavlad.conf ]; then
	# The example with every key, and the three that differ on a server.
	{
		/usr/local/sbin/tavlad --print-config
		echo
		echo "# ---- set by ops/install.sh ----"
		echo "data_dir /var/lib/tavla"
		echo "listen 0.0.0.0"
		echo "# cert /etc/tavla/tls/fullchain.pem"
		echo "# key  /etc/tavla/tls/privkey.pem"
	} > /etc/tavla/tavlad.conf
	chown root:tavla /etc/tavla/tavlad.conf
	chmod 0640 /etc/tavla/tavlad.conf
fi

install -m 0644 ops/tavlad.service ops/tavlad-backup.service ops/tavlad-backup.timer \
	/etc/systemd/system/
systemctl daemon-reload
systemctl enable tavlad-backup.timer
systemctl start tavlad-backup.timer || true
echo "installed; edit /etc/tavla/tavlad.conf (cert, key), then: systemctl enable --now tavlad"
