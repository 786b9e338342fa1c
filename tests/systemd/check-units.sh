#!/bin/sh
# The units pass `systemd-analyze verify`, the service's exposure under
# `systemd-analyze security` is at most 2.0, and the D-Bus files parse.
# Usage: check-units.sh SOURCE_SYSTEMD_DIR BUILD_SYSTEMD_DIR IOBUFD
set -eu
src=$1
built=$2
iobufd=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# verify insists that ExecStart= exists: point it at the daemon just built.
sed "s|^ExecStart=.*|ExecStart=$iobufd|" "$built/iobufd.service" >"$dir/iobufd.service"
cp "$src/iobufd.socket" "$dir/"
out=$(systemd-analyze verify --man=no "$dir/iobufd.socket" "$dir/iobufd.service" 2>&1) || {
	echo "systemd-analyze verify failed:"; echo "$out"; exit 1; }
[ -z "$out" ] || { echo "systemd-analyze verify warned:"; echo "$out"; exit 1; }
echo "verify: iobufd.socket and iobufd.service are clean"

exposure=$(systemd-analyze security --offline=yes "$dir/iobufd.service" 2>&1 |
	sed -n 's/.*Overall exposure level for iobufd.service: \([0-9.]*\).*/\1/p')
[ -n "$exposure" ] || { echo "no exposure level from systemd-analyze security"; exit 1; }
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || {
	echo "exposure $exposure is over 2.0"; exit 1; }
echo "security: exposure $exposure"

python3 -c 'import sys, xml.etree.ElementTree as ET; ET.parse(sys.argv[1])' \
	"$src/org.iobufd.Allocator1.conf"
grep -qx 'SystemdService=iobufd.service' "$src/org.iobufd.Allocator1.service"
grep -qx 'BusName=org.iobufd.Allocator1' "$built/iobufd.service"
echo "dbus: policy parses, activation names iobufd.service"
