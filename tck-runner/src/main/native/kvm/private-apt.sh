#!/bin/bash
# A private APT configuration in DIR for Debian architecture DEBARCH (arm64, amd64): the host's own
# Debian sources, an empty dpkg status (nothing installed), its own lists and cache, so that
# `APT_CONFIG=DIR/apt.conf apt-get ...` fetches packages of that architecture without touching the
# host's dpkg state. Used by prepare.sh (the kernel, busybox) and ../guest/inner-root.sh (arm64 QEMU).
# Usage: private-apt.sh DEBARCH DIR
set -euo pipefail
DEBARCH=$1
A=$2
mkdir -p "$A"/etc/apt/sources.list.d "$A"/etc/apt/apt.conf.d "$A"/etc/apt/preferences.d \
         "$A"/var/lib/apt/lists/partial "$A"/var/cache/apt/archives/partial
: > "$A/status"
cp /etc/apt/sources.list.d/*.sources "$A"/etc/apt/sources.list.d/ 2>/dev/null || true
[ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$A"/etc/apt/sources.list
cat > "$A/apt.conf" <<CONF
APT::Architecture "$DEBARCH";
APT::Architectures { "$DEBARCH"; };
APT::Sandbox::User "root";
Dir "$A/";
Dir::State "var/lib/apt";
Dir::State::status "$A/status";
Dir::Cache "var/cache/apt";
Dir::Etc "etc/apt";
Dir::Etc::TrustedParts "/etc/apt/trusted.gpg.d";
CONF
