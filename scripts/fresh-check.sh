#!/usr/bin/env bash
# Proves README's two commands on a fresh Debian 12: builds a minimal root with debootstrap,
# copies a clean clone of this repository's HEAD into it, and runs command (a) (scripts/demo.sh)
# and then command (b) (scripts/test.sh) inside it with chroot. Nothing of this machine's
# installed packages reaches the root, so a missing install step fails here.
#
#   sudo scripts/fresh-check.sh            # root in /var/tmp/paradit-fresh (about 4 GB at the end)
#   FRESH_ROOT=/path scripts/fresh-check.sh
#
# It downloads a whole system (Debian's packages only), so it is not part of CI. Run it whenever
# the dependencies change and record its result in docs/dependencies.md.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
root="${FRESH_ROOT:-/var/tmp/paradit-fresh}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
[ "$(id -u)" -eq 0 ] || { echo "fresh-check: needs root (debootstrap, chroot, mounts)" >&2; exit 2; }
command -v debootstrap >/dev/null || { apt-get update -qq; apt-get install -y -qq debootstrap; }

mounted() { findmnt -rn -o TARGET | grep -q "^$root/"; }
unmount_all() {
  for m in dev/shm dev/pts dev sys proc; do
    mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m"
  done
  return 0
}
trap unmount_all EXIT
unmount_all
if mounted; then echo "fresh-check: something is still mounted under $root; not removing it" >&2; exit 1; fi
rm -rf --one-file-system "$root"

start=$(date +%s)
echo "fresh-check: debootstrap bookworm (minbase) into $root"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.debootstrap.log" 2>&1 ||
  { tail -20 "$root.debootstrap.log"; exit 1; }
cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian}/debian-security bookworm-security main
EOF
cp /etc/resolv.conf "$root/etc/resolv.conf"
# Every installed Debian has these (debootstrap leaves them to the installer); the browser test's
# driver is reached as "localhost".
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
# git itself is not part of the check: the clone is made here and copied in.
git clone -q --no-local "$repo" "$root/root/paradit"
rm -rf "$root/root/paradit/.git"
mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
mount -t tmpfs shm "$root/dev/shm"
boot=$(($(date +%s) - start))

run() {  # NAME COMMAND: runs COMMAND in the root, prints its wall time
  local name="$1" t0 code
  t0=$(date +%s)
  set +e
  chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 /bin/bash -c "cd /root/paradit && $2" >"$root.$name.log" 2>&1
  code=$?
  set -e
  echo "fresh-check: $name: exit $code in $(($(date +%s) - t0)) s (log: $root.$name.log)"
  tail -5 "$root.$name.log"
  return $code
}
status=0
run demo "scripts/demo.sh" || status=1
[ -s "$root/root/paradit/tiny.png" ] && echo "fresh-check: command (a) wrote tiny.png" || status=1
run test "scripts/test.sh" || status=1
echo "fresh-check: $(date -u +%F) debian root in ${boot} s, total $(($(date +%s) - start)) s, result $([ $status -eq 0 ] && echo PASS || echo FAIL)"
exit $status
