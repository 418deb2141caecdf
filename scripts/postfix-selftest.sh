#!/usr/bin/env bash
# Prove the private Postfix instance behaves the way Postel's client tests rely on.
#
#   scripts/postfix-selftest.sh [STATE_DIR] [-- postfix-check.py args, e.g. --ehlo -v]
#
# Expects scripts/postfix-up.sh to have run. Quiet on success.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
STATE=${POSTEL_POSTFIX_STATE:-$REPO/target/postfix}
if [[ $# -gt 0 && $1 != -* ]]; then
    STATE=$1
    shift
fi
[[ ${1-} == -- ]] && shift

ENVFILE=$STATE/env
if [[ ! -f $ENVFILE ]]; then
    echo "postfix-selftest: ERROR: $ENVFILE missing: run scripts/postfix-up.sh first" >&2
    exit 1
fi
# The firmware's DEVICE_* listeners, seen with exactly what the device's TLS stack offers
# (TLS 1.3, the P-256 key share, TLS_AES_128_GCM_SHA256): each negotiates that, gives the
# documented verification result, and offers AUTH only inside TLS.
device_check() {
    (
        # shellcheck disable=SC1090
        . "$ENVFILE"
        pki=$POSTEL_POSTFIX_PKI
        bad=0
        # listener mode ca verify-code certificates-sent
        while read -r name mode ca want certs; do
            var=POSTEL_POSTFIX_$name
            hp=${!var-}
            if [[ -z $hp ]]; then
                echo "postfix-selftest: $var not set" >&2
                bad=1
                continue
            fi
            st=()
            [[ $mode == starttls ]] && st=(-starttls smtp)
            out=$(printf 'EHLO selftest\r\nQUIT\r\n' |
                timeout 15 openssl s_client "${st[@]}" -tls1_3 -groups P-256 \
                    -ciphersuites TLS_AES_128_GCM_SHA256 -CAfile "$pki/$ca" -verify_hostname localhost \
                    -servername localhost -showcerts -ign_eof -connect "$hp" 2>&1) || true
            probs=()
            grep -q 'Protocol *: *TLSv1.3' <<<"$out" || probs+=("not TLSv1.3")
            grep -q 'Cipher is TLS_AES_128_GCM_SHA256' <<<"$out" || probs+=("not TLS_AES_128_GCM_SHA256")
            grep -q 'Server Temp Key: ECDH, prime256v1' <<<"$out" || probs+=("no P-256 key exchange")
            grep -q "Verify return code: $want " <<<"$out" || probs+=("verify result $(grep -m1 'Verify return code' <<<"$out" | sed 's/^ *//'), expected $want")
            n=$(grep -c 'BEGIN CERTIFICATE' <<<"$out" || true)
            [[ $n == "$certs" ]] || probs+=("$n certificates sent, expected $certs")
            grep -q '^250-AUTH PLAIN .*SCRAM-SHA-256' <<<"$out" || probs+=("no AUTH PLAIN/SCRAM-SHA-256 inside TLS")
            if [[ $mode == starttls ]]; then
                pre=$(timeout 10 python3 - "${hp%:*}" "${hp##*:}" <<'PY' || true
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.recv(512)
s.sendall(b"EHLO selftest\r\n")
time.sleep(0.5)
print(s.recv(4096).decode("ascii", "replace"))
s.sendall(b"QUIT\r\n")
PY
                )
                grep -q '^250-STARTTLS' <<<"$pre" || probs+=("no STARTTLS offered")
                if grep -q 'AUTH' <<<"$pre"; then probs+=("AUTH offered before STARTTLS"); fi
            fi
            if ((${#probs[@]})); then
                echo "postfix-selftest: $name ($hp): $(IFS=';'; echo "${probs[*]}")" >&2
                bad=1
            fi
        done <<'LIST'
DEVICE_STARTTLS starttls root.pem 0 2
DEVICE_RSA starttls rsa-root.pem 0 2
DEVICE_RSA_IMPLICIT implicit rsa-root.pem 0 2
DEVICE_NOCHAIN starttls root.pem 21 1
DEVICE_EXPIRED starttls root.pem 10 2
DEVICE_WRONGHOST starttls root.pem 62 2
DEVICE_UNTRUSTED starttls root.pem 18 1
LIST
        exit "$bad"
    )
}

if ! device_check || ! python3 "$HERE/postfix-check.py" --env "$ENVFILE" "$@"; then
    # shellcheck disable=SC1090
    log=$(. "$ENVFILE" && echo "$POSTEL_POSTFIX_LOG")
    echo "---- last lines of $log ----" >&2
    tail -n 40 "$log" >&2 || true
    echo "postfix-selftest: FAILED" >&2
    exit 1
fi
