#!/usr/bin/env bash
# Verify a message's DKIM signatures with Exim's built-in verifier, the public keys served
# by a DNS server of our own. A separate, throw-away Exim: not the daemon of
# scripts/exim-up.sh (its binary is reused when already unpacked), no port, no delivery.
# `exim -bh` runs a fake SMTP session from stdin through an ACL that collects
# $dkim_verify_status for every signature (acl_smtp_dkim) and reports them in the reply to
# DATA. It runs in a private network and mount namespace (unshare) with loopback up,
# scripts/dkim-dns.py on 127.0.0.1:53 and an /etc/resolv.conf naming it bind-mounted over
# the real one: no packet leaves the namespace, nothing outside it changes.
#
#   scripts/dkim-exim.sh MESSAGE NAME=TXT [NAME=TXT ...]
#
# Prints one word per signature, `SIGNER:STATUS` (pass, fail, invalid, none), and exits 0
# when every signature passes, 1 when one does not, 3 when Exim cannot run. Needs root.
# Used by crates/cli/tests/dkim.rs.
set -euo pipefail
[[ $# -ge 2 ]] || { echo "usage: $0 MESSAGE NAME=TXT..." >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
MSG=$(realpath "$1")
shift

# The binary: Debian 12's exim4-daemon-light, unpacked (never installed: it conflicts
# with postfix), as scripts/exim-up.sh does.
ROOT=${POSTEL_DKIM_EXIM_ROOT:-$REPO/target/exim/root}
if [[ ! -x $ROOT/usr/sbin/exim4 || ! -f $ROOT/.complete ]]; then
    ROOT=$REPO/target/dkim-exim/root
    if [[ ! -x $ROOT/usr/sbin/exim4 || ! -f $ROOT/.complete ]]; then
        rm -rf "$ROOT" "$REPO/target/dkim-exim/debs"
        mkdir -p "$ROOT" "$REPO/target/dkim-exim/debs"
        (cd "$REPO/target/dkim-exim/debs" && apt-get download exim4-daemon-light libidn12) >/dev/null 2>&1 ||
            { apt-get update -q >/dev/null 2>&1 || true
              (cd "$REPO/target/dkim-exim/debs" && apt-get download exim4-daemon-light libidn12) >&2 ||
              { echo "cannot download exim4-daemon-light" >&2; exit 3; }; }
        for deb in "$REPO"/target/dkim-exim/debs/*.deb; do dpkg-deb -x "$deb" "$ROOT"; done
        chmod u-s,g-s "$ROOT/usr/sbin/exim4"
        touch "$ROOT/.complete"
    fi
fi
export LD_LIBRARY_PATH=$ROOT/usr/lib/x86_64-linux-gnu
EXIM=$ROOT/usr/sbin/exim4

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/spool" "$TMP/log"
cat >"$TMP/exim.conf" <<CONF
primary_hostname = dkim-verifier.test
spool_directory = $TMP/spool
log_file_path = $TMP/log/%slog
exim_user = root
exim_group = root
never_users =
acl_smtp_rcpt = acl_rcpt
acl_smtp_dkim = acl_dkim
acl_smtp_data = acl_data
dkim_verify_signers = \$dkim_signers
dkim_verify_minimal = false
begin acl
acl_rcpt:
  accept
acl_dkim:
  warn set acl_m_dkim = \$acl_m_dkim \$dkim_cur_signer:\$dkim_verify_status
  accept
acl_data:
  deny message = DKIMRESULT\$acl_m_dkim
CONF
{
    printf 'EHLO client.test\r\nMAIL FROM:<sender@example.com>\r\nRCPT TO:<rcpt@example.net>\r\nDATA\r\n'
    # CRLF line ends and dot-stuffing, as on the wire.
    sed -e 's/\r$//' -e 's/^\./../' -e 's/$/\r/' "$MSG"
    printf '.\r\nQUIT\r\n'
} >"$TMP/session"
printf 'nameserver 127.0.0.1\noptions timeout:2 attempts:1\n' >"$TMP/resolv.conf"
printf '%s\0' "$@" >"$TMP/records"
export HERE PY TMP EXIM
unshare --net --mount bash -c '
    set -euo pipefail
    ip link set lo up
    mount --bind "$TMP/resolv.conf" /etc/resolv.conf
    mkfifo "$TMP/ready" "$TMP/hold"
    xargs -0 -a "$TMP/records" "$PY" "$HERE/dkim-dns.py" 127.0.0.1 53 <"$TMP/hold" >"$TMP/ready" &
    exec 9>"$TMP/hold"
    read -r line <"$TMP/ready"
    [[ $line == READY ]] || { echo "dkim-dns.py did not start" >&2; exit 3; }
    "$EXIM" -C "$TMP/exim.conf" -bh 127.0.0.1 <"$TMP/session" >"$TMP/out" 2>"$TMP/err" || true
' || { echo "the namespace could not be set up" >&2; exit 3; }
line=$(grep -a 'DKIMRESULT' "$TMP/out" | head -1 | tr -d '\r') || true
if [[ -z $line ]]; then
    echo "exim gave no DKIM result; its output:" >&2
    cat "$TMP/out" "$TMP/err" >&2
    exit 3
fi
result=${line#*DKIMRESULT}
result=${result# }
echo "$result"
[[ -n $result ]] || exit 1
for r in $result; do [[ ${r##*:} == pass ]] || exit 1; done
exit 0
