#!/usr/bin/env bash
# Build a throw-away test PKI for the Postel real-server tests.
#
#   scripts/pki.sh OUTDIR
#
# Produces (all PEM, keys are ECDSA P-256):
#   root.pem / root.key                  test root CA (what clients trust)
#   intermediate.pem / intermediate.key  intermediate CA (signed by root)
#   server.key, server.pem               leaf for localhost, 127.0.0.1, ::1
#   server-chain.pem                     server.pem + intermediate.pem
#   expired.key, expired.pem, expired-chain.pem
#                                        leaf for localhost (same SANs), signed by
#                                        the intermediate, valid 2020-01-01..2021-01-01
#   wronghost.key, wronghost.pem, wronghost-chain.pem
#                                        leaf for wrong.example only (signed by intermediate)
#   untrusted.key, untrusted.pem, untrusted-chain.pem (same as .pem)
#                                        self-signed leaf for localhost/127.0.0.1/::1
#                                        (not chained to root.pem)
#   client.key, client.pem, client-chain.pem
#                                        client certificate (clientAuth), CN=postel-test-client
#
# Idempotent: if OUTDIR already holds a complete PKI whose server leaf is still
# valid for 30 days, nothing is done.
set -euo pipefail

die() { printf 'pki.sh: ERROR: %s\n' "$*" >&2; exit 1; }

[[ $# -eq 1 ]] || die "usage: $0 OUTDIR"
OUT=$1
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

FILES=(root.pem root.key intermediate.pem intermediate.key
       server.key server.pem server-chain.pem
       expired.key expired.pem expired-chain.pem
       wronghost.key wronghost.pem wronghost-chain.pem
       untrusted.key untrusted.pem untrusted-chain.pem
       client.key client.pem client-chain.pem)

complete=1
for f in "${FILES[@]}"; do [[ -s $OUT/$f ]] || complete=0; done
if ((complete)) && [[ -f $OUT/.complete ]] &&
   openssl x509 -in "$OUT/server.pem" -noout -checkend $((30*86400)) >/dev/null 2>&1 &&
   openssl verify -CAfile "$OUT/root.pem" -untrusted "$OUT/intermediate.pem" "$OUT/server.pem" >/dev/null 2>&1; then
    exit 0
fi

WORK=$(mktemp -d)
LOG=$WORK/openssl.log
trap 'rc=$?; if ((rc)); then echo "pki.sh: openssl output:" >&2; cat "$LOG" >&2 2>/dev/null || true; fi; rm -rf "$WORK"' EXIT

ossl() { openssl "$@" >>"$LOG" 2>&1 || die "openssl $1 failed"; }

cat >"$WORK/ca.cnf" <<'EOF'
[ ca ]
default_ca = CA_default

[ CA_default ]
dir             = $ENV::CADIR
database        = $dir/index.txt
serial          = $dir/serial
new_certs_dir   = $dir/new
default_md      = sha256
policy          = policy_any
unique_subject  = no
copy_extensions = none
email_in_dn     = no

[ policy_any ]
commonName             = supplied
organizationName       = optional
organizationalUnitName = optional

[ req ]
distinguished_name = req_dn
prompt             = no
[ req_dn ]
CN = placeholder

[ v3_root ]
basicConstraints       = critical, CA:TRUE
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ v3_intermediate ]
basicConstraints       = critical, CA:TRUE, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ v3_server ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectAltName         = $ENV::SAN
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ v3_selfsigned_server ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, keyCertSign
extendedKeyUsage       = serverAuth
subjectAltName         = $ENV::SAN
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ v3_client ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = clientAuth
subjectAltName         = $ENV::SAN
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
EOF
export SAN="DNS:localhost" CADIR=$WORK

newca() { # name
    local d=$WORK/ca-$1
    mkdir -p "$d/new"
    : >"$d/index.txt"
    openssl rand -hex 16 >"$d/serial"
}

genkey() { # path
    ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"
}

csr() { # key cn out
    ossl req -new -config "$WORK/ca.cnf" -key "$1" -subj "/O=Postel test PKI/CN=$2" -out "$3"
}

# sign CA-name ca-cert ca-key csr out extensions startdate enddate [-selfsign]
sign() {
    local caname=$1 cacert=$2 cakey=$3 req=$4 out=$5 ext=$6 start=$7 end=$8
    shift 8
    CADIR=$WORK/ca-$caname ossl ca -batch -notext -config "$WORK/ca.cnf" \
        -cert "$cacert" -keyfile "$cakey" -in "$req" -out "$out" \
        -extensions "$ext" -startdate "$start" -enddate "$end" "$@"
}

# Validity: start one day in the past to tolerate small clock skew.
now=$(date -u +%s)
ts() { date -u -d "@$1" +%Y%m%d%H%M%SZ; }
START=$(ts $((now - 86400)))
CA_END=$(ts $((now + 20*365*86400)))
LEAF_END=$(ts $((now + 5*365*86400)))

T=$WORK/out
mkdir -p "$T"

# Root CA (self-signed via `openssl ca -selfsign`).
newca root
genkey "$T/root.key"
csr "$T/root.key" "Postel Test Root CA" "$WORK/root.csr"
CADIR=$WORK/ca-root ossl ca -batch -notext -config "$WORK/ca.cnf" -selfsign \
    -keyfile "$T/root.key" -in "$WORK/root.csr" -out "$T/root.pem" \
    -extensions v3_root -startdate "$START" -enddate "$CA_END"

# Intermediate CA.
newca intermediate
genkey "$T/intermediate.key"
csr "$T/intermediate.key" "Postel Test Intermediate CA" "$WORK/intermediate.csr"
sign root "$T/root.pem" "$T/root.key" "$WORK/intermediate.csr" "$T/intermediate.pem" v3_intermediate "$START" "$CA_END"

leaf() { # name cn san ext start end
    local name=$1 cn=$2 san=$3 ext=$4 start=$5 end=$6
    genkey "$T/$name.key"
    csr "$T/$name.key" "$cn" "$WORK/$name.csr"
    SAN=$san sign intermediate "$T/intermediate.pem" "$T/intermediate.key" \
        "$WORK/$name.csr" "$T/$name.pem" "$ext" "$start" "$end"
    cat "$T/$name.pem" "$T/intermediate.pem" >"$T/$name-chain.pem"
}

GOOD_SAN="DNS:localhost,IP:127.0.0.1,IP:::1"
leaf server localhost "$GOOD_SAN" v3_server "$START" "$LEAF_END"
leaf expired localhost "$GOOD_SAN" v3_server 20200101000000Z 20210101000000Z
leaf wronghost wrong.example "DNS:wrong.example" v3_server "$START" "$LEAF_END"
leaf client postel-test-client "DNS:postel-test-client" v3_client "$START" "$LEAF_END"

# Untrusted: self-signed leaf with the right names, not chained to root.pem.
newca untrusted
genkey "$T/untrusted.key"
csr "$T/untrusted.key" localhost "$WORK/untrusted.csr"
SAN=$GOOD_SAN CADIR=$WORK/ca-untrusted ossl ca -batch -notext -config "$WORK/ca.cnf" -selfsign \
    -keyfile "$T/untrusted.key" -in "$WORK/untrusted.csr" -out "$T/untrusted.pem" \
    -extensions v3_selfsigned_server -startdate "$START" -enddate "$LEAF_END"
cp "$T/untrusted.pem" "$T/untrusted-chain.pem"

# Sanity checks: fail loudly if the PKI isn't what the tests expect.
# (capture first: with pipefail a failing `openssl verify | grep` would fail)
v() { openssl verify -CAfile "$T/root.pem" -untrusted "$T/intermediate.pem" "$@" 2>&1 || true; }
v -purpose sslserver -verify_hostname localhost "$T/server.pem" | grep -q ': OK$' || die "server.pem does not verify"
v -verify_ip 127.0.0.1 "$T/server.pem" | grep -q ': OK$' || die "server.pem does not verify for 127.0.0.1"
v -purpose sslclient "$T/client.pem" | grep -q ': OK$' || die "client.pem does not verify"
v "$T/expired.pem" | grep -q 'expired' || die "expired.pem is not expired"
v -verify_hostname localhost "$T/wronghost.pem" | grep -q 'mismatch' || die "wronghost.pem matches localhost"
if v "$T/untrusted.pem" | grep -q ': OK$'; then die "untrusted.pem verifies against root"; fi

chmod 0644 "$T"/*.pem
chmod 0600 "$T"/*.key
rm -f "$OUT/.complete"
for f in "${FILES[@]}"; do
    cp -f "$T/$f" "$OUT/$f.tmp" && mv -f "$OUT/$f.tmp" "$OUT/$f"
done
touch "$OUT/.complete"
