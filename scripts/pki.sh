#!/usr/bin/env bash
# Build a throw-away test PKI for the Postel real-server tests.
#
#   scripts/pki.sh OUTDIR
#
# Produces (PEM unless noted; keys are ECDSA P-256 unless noted):
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
#   rsa-root.pem / rsa-root.key          a second, independent root CA with an RSA-2048 key
#   rsa-intermediate.pem / .key          RSA-2048 intermediate CA (signed by rsa-root)
#   rsa-server.key, rsa-server.pem, rsa-server-chain.pem
#                                        RSA-2048 leaf for localhost, 127.0.0.1, ::1 (signed by
#                                        rsa-intermediate); every RSA certificate is signed
#                                        sha256WithRSAEncryption
#   root.der, rsa-root.der               the two roots in DER (for firmware that embeds a
#                                        trust anchor as bytes)
#   anchors.pem                          root.pem + rsa-root.pem (both trust anchors)
#
# The "leaf without its intermediate" case needs no file of its own: serve
# server.pem alone (it is signed by intermediate.pem, which the client lacks).
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
       client.key client.pem client-chain.pem
       rsa-root.pem rsa-root.key rsa-intermediate.pem rsa-intermediate.key
       rsa-server.key rsa-server.pem rsa-server-chain.pem
       root.der rsa-root.der anchors.pem)

complete=1
for f in "${FILES[@]}"; do [[ -s $OUT/$f ]] || complete=0; done
if ((complete)) && [[ -f $OUT/.complete ]] &&
   openssl x509 -in "$OUT/server.pem" -noout -checkend $((30*86400)) >/dev/null 2>&1 &&
   openssl x509 -in "$OUT/rsa-server.pem" -noout -checkend $((30*86400)) >/dev/null 2>&1 &&
   openssl verify -CAfile "$OUT/root.pem" -untrusted "$OUT/intermediate.pem" "$OUT/server.pem" >/dev/null 2>&1 &&
   openssl verify -CAfile "$OUT/rsa-root.pem" -untrusted "$OUT/rsa-intermediate.pem" "$OUT/rsa-server.pem" >/dev/null 2>&1; then
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

[ v3_rsa_server ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, keyEncipherment
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

genrsakey() { # path
    ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"
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

leaf() { # name cn san ext start end [issuer (default intermediate)] [keygen (default genkey)]
    local name=$1 cn=$2 san=$3 ext=$4 start=$5 end=$6 issuer=${7:-intermediate} keygen=${8:-genkey}
    "$keygen" "$T/$name.key"
    csr "$T/$name.key" "$cn" "$WORK/$name.csr"
    SAN=$san sign "$issuer" "$T/$issuer.pem" "$T/$issuer.key" \
        "$WORK/$name.csr" "$T/$name.pem" "$ext" "$start" "$end"
    cat "$T/$name.pem" "$T/$issuer.pem" >"$T/$name-chain.pem"
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

# RSA: an independent root -> intermediate -> leaf chain, all RSA-2048 keys.
newca rsa-root
genrsakey "$T/rsa-root.key"
csr "$T/rsa-root.key" "Postel Test RSA Root CA" "$WORK/rsa-root.csr"
CADIR=$WORK/ca-rsa-root ossl ca -batch -notext -config "$WORK/ca.cnf" -selfsign \
    -keyfile "$T/rsa-root.key" -in "$WORK/rsa-root.csr" -out "$T/rsa-root.pem" \
    -extensions v3_root -startdate "$START" -enddate "$CA_END"
newca rsa-intermediate
genrsakey "$T/rsa-intermediate.key"
csr "$T/rsa-intermediate.key" "Postel Test RSA Intermediate CA" "$WORK/rsa-intermediate.csr"
sign rsa-root "$T/rsa-root.pem" "$T/rsa-root.key" "$WORK/rsa-intermediate.csr" \
    "$T/rsa-intermediate.pem" v3_intermediate "$START" "$CA_END"
leaf rsa-server localhost "$GOOD_SAN" v3_rsa_server "$START" "$LEAF_END" rsa-intermediate genrsakey

# Trust anchors for firmware: DER copies and both roots in one PEM file.
ossl x509 -in "$T/root.pem" -outform DER -out "$T/root.der"
ossl x509 -in "$T/rsa-root.pem" -outform DER -out "$T/rsa-root.der"
cat "$T/root.pem" "$T/rsa-root.pem" >"$T/anchors.pem"

# Sanity checks: fail loudly if the PKI isn't what the tests expect.
# (capture first: with pipefail a failing `openssl verify | grep` would fail)
v() { openssl verify -CAfile "$T/root.pem" -untrusted "$T/intermediate.pem" "$@" 2>&1 || true; }
v -purpose sslserver -verify_hostname localhost "$T/server.pem" | grep -q ': OK$' || die "server.pem does not verify"
v -verify_ip 127.0.0.1 "$T/server.pem" | grep -q ': OK$' || die "server.pem does not verify for 127.0.0.1"
v -purpose sslclient "$T/client.pem" | grep -q ': OK$' || die "client.pem does not verify"
v "$T/expired.pem" | grep -q 'expired' || die "expired.pem is not expired"
v -verify_hostname localhost "$T/wronghost.pem" | grep -q 'mismatch' || die "wronghost.pem matches localhost"
if v "$T/untrusted.pem" | grep -q ': OK$'; then die "untrusted.pem verifies against root"; fi
# Leaf without its intermediate: the client can't build a path.
nochain=$(openssl verify -CAfile "$T/root.pem" "$T/server.pem" 2>&1 || true)
grep -q 'unable to get local issuer certificate' <<<"$nochain" || die "server.pem verifies without its intermediate"
rv() { openssl verify -CAfile "$T/rsa-root.pem" -untrusted "$T/rsa-intermediate.pem" "$@" 2>&1 || true; }
rv -purpose sslserver -verify_hostname localhost "$T/rsa-server.pem" | grep -q ': OK$' || die "rsa-server.pem does not verify"
rv -verify_ip 127.0.0.1 "$T/rsa-server.pem" | grep -q ': OK$' || die "rsa-server.pem does not verify for 127.0.0.1"
if v "$T/rsa-server.pem" | grep -q ': OK$'; then die "rsa-server.pem verifies against the ECDSA root"; fi
for c in rsa-root rsa-intermediate rsa-server; do
    txt=$(openssl x509 -in "$T/$c.pem" -noout -text)
    grep -q 'Public-Key: (2048 bit)' <<<"$txt" || die "$c.pem: key is not RSA-2048"
    grep -q 'rsaEncryption' <<<"$txt" || die "$c.pem: key is not RSA"
    [[ $(grep -c 'Signature Algorithm: sha256WithRSAEncryption' <<<"$txt") -ge 1 ]] ||
        die "$c.pem is not signed sha256WithRSAEncryption"
done

chmod 0644 "$T"/*.pem "$T"/*.der
chmod 0600 "$T"/*.key
rm -f "$OUT/.complete"
for f in "${FILES[@]}"; do
    cp -f "$T/$f" "$OUT/$f.tmp" && mv -f "$OUT/$f.tmp" "$OUT/$f"
done
touch "$OUT/.complete"
