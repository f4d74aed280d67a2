#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real when they are
# missing: snmptrapd (the SNMP trap receiver), snmp (snmptranslate, which
# parses the MIB), chromium (the web console's end-to-end test), Ceph's
# radosgw, ceph-mon and ceph-osd (the S3 server of the S3 backend's tests) and
# openssh-server (the SFTP server of the SFTP backend's tests). Silent
# when all are there; as root it installs the missing ones with apt-get;
# otherwise, or when apt-get fails, it says which tests will be skipped and
# why. Never fails the run: those tests skip with their own reason.
# Called by scripts/test.sh (so `npm test` and .ci/run both get it).
set -uo pipefail

# package name → a file it installs (what the tests look for)
declare -A needs=(
  [snmptrapd]=/usr/sbin/snmptrapd
  [snmp]=/usr/bin/snmptranslate
  [chromium]=/usr/bin/chromium
  [radosgw]=/usr/bin/radosgw
  [ceph-mon]=/usr/bin/ceph-mon
  [ceph-osd]=/usr/bin/ceph-osd
  [openssh-server]=/usr/sbin/sshd
)

missing() {
  local pkg out=()
  for pkg in "${!needs[@]}"; do [ -x "${needs[$pkg]}" ] || out+=("$pkg"); done
  [ "${#out[@]}" -eq 0 ] || printf '%s\n' "${out[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}

todo=$(missing)
[ -z "$todo" ] && exit 0

why=""
if [ "$(id -u)" -ne 0 ]; then
  why="not root"
elif ! command -v apt-get >/dev/null 2>&1; then
  why="no apt-get on this machine"
else
  echo "safehold: installing the test suite's packages: $todo" >&2
  log=$(mktemp)
  # shellcheck disable=SC2086 # $todo is a list of package names
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=120 $todo; } >"$log" 2>&1; then
    why="apt-get failed: $(grep -v '^\s*$' "$log" | tail -n 1)"
  fi
  rm -f "$log"
fi

todo=$(missing)
[ -z "$todo" ] && exit 0
echo "safehold: missing $todo (${why:-installed, but still not found}); their tests will be skipped. As root: apt-get install $todo" >&2
exit 0
