#!/bin/sh
# Regenerates the certificate-verification fixtures of postel-device's tests (tests/verify*.rs).
# Run from anywhere: `sh crates/device/tests/data/gen.sh` (needs the openssl command, 3.x).
# Keys are made afresh, so every file changes; the tests only rely on what is described in
# README.md. The private keys here are test keys, for these fixtures and the local
# `openssl s_server` of the end-to-end test only.
set -eu
cd "$(dirname "$0")"
rm -f ./*.pem ./*.der ./*.bin
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
: > "$work/index.txt"
echo 1000 > "$work/serial"

cat > "$work/ca.cnf" <<CNF
[ca]
default_ca = test_ca
[test_ca]
database = $work/index.txt
new_certs_dir = $work
serial = $work/serial
policy = any_name
default_md = sha256
unique_subject = no
copy_extensions = none
[any_name]
commonName = supplied
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[ca_ext]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf_ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:mail.example.test, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = DNS:mail.example.test, IP:127.0.0.1
[leaf_as_ca_ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:mail.example.test, IP:127.0.0.1
CNF

ec_key() { openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:${2:-P-256}" -out "$1.key.pem" 2>/dev/null; }
rsa_key() { openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$2" -out "$1.key.pem" 2>/dev/null; }

# cert NAME CN ISSUER EXT START END [extra openssl ca options...]; ISSUER "self" for a root.
cert() {
  name=$1 cn=$2 issuer=$3 ext=$4 start=$5 end=$6
  shift 6
  openssl req -new -config "$work/ca.cnf" -key "$name.key.pem" -subj "/CN=$cn" -out "$work/$name.csr"
  if [ "$issuer" = self ]; then
    set -- -selfsign -keyfile "$name.key.pem" "$@"
  else
    set -- -cert "$issuer.pem" -keyfile "$issuer.key.pem" "$@"
  fi
  openssl ca -batch -notext -config "$work/ca.cnf" -extensions "$ext" \
    -startdate "$start" -enddate "$end" -in "$work/$name.csr" -out "$name.pem" "$@" 2>/dev/null
  openssl x509 -in "$name.pem" -outform DER -out "$name.der"
}

long_start=20250101000000Z
long_end=21000101000000Z

# ECDSA P-256: root -> intermediate -> server certificates.
for k in ec-root ec-inter ec-leaf ec-expired ec-future ec-client ec-other-root ec-grandchild; do ec_key $k; done
cert ec-root "Postel Test EC Root" self ca_ext $long_start $long_end
cert ec-inter "Postel Test EC Intermediate" ec-root ca_ext $long_start $long_end
cert ec-leaf mail.example.test ec-inter leaf_ext $long_start $long_end
cert ec-expired mail.example.test ec-inter leaf_ext 20200101000000Z 20210101000000Z
cert ec-future mail.example.test ec-inter leaf_ext 20900101000000Z $long_end
cert ec-client mail.example.test ec-inter client_ext $long_start $long_end
cert ec-other-root "Postel Test Other Root" self ca_ext $long_start $long_end
# A server certificate signed by ec-leaf, which is no CA.
cert ec-grandchild mail.example.test ec-leaf leaf_as_ca_ext $long_start $long_end

# ECDSA P-384 (as Let's Encrypt's ISRG Root X2 and E-series): root -> intermediate -> server,
# all P-384 keys and ecdsa-with-SHA384 signatures (the `p384` feature's tests).
for k in ec384-root ec384-inter ec384-leaf; do ec_key $k P-384; done
cert ec384-root "Postel Test P-384 Root" self ca_ext $long_start $long_end -md sha384
cert ec384-inter "Postel Test P-384 Intermediate" ec384-root ca_ext $long_start $long_end -md sha384
cert ec384-leaf mail.example.test ec384-inter leaf_ext $long_start $long_end -md sha384

# RSA: 4096-bit root signs a 3072-bit intermediate (PKCS#1 v1.5, SHA-384); the intermediate
# signs the 2048-bit server certificate with RSA-PSS (SHA-256, MGF1-SHA-256, 32-octet salt)
# and a 1024-bit one (PKCS#1 v1.5, SHA-256).
rsa_key rsa-root 4096
rsa_key rsa-inter 3072
rsa_key rsa-leaf 2048
rsa_key rsa-weak 1024
# 2049 bits: modBits - 1 is a multiple of 8, so PSS's encoded message is one octet shorter
# than the modulus (RFC 8017 section 9.1.2 emLen).
rsa_key rsa-odd 2049
cert rsa-root "Postel Test RSA Root" self ca_ext $long_start $long_end
cert rsa-inter "Postel Test RSA Intermediate" rsa-root ca_ext $long_start $long_end -md sha384
cert rsa-leaf mail.example.test rsa-inter leaf_ext $long_start $long_end \
  -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -sigopt rsa_mgf1_md:sha256
cert rsa-weak mail.example.test rsa-inter leaf_ext $long_start $long_end

# Public keys as webpki hands them to a signature algorithm (the subjectPublicKey octets):
# PKCS#1 RSAPublicKey for RSA, the SPKI DER for EC (its last 65 octets are the SEC1 point).
for k in rsa-root rsa-inter rsa-leaf rsa-weak rsa-odd; do
  openssl rsa -in $k.key.pem -RSAPublicKey_out -outform DER -out $k.pub.der 2>/dev/null
done
openssl pkey -in ec-leaf.key.pem -pubout -outform DER -out ec-leaf.spki.der

# Known-answer signatures over msg.bin.
printf 'known-answer message for postel-device\n' > msg.bin
pkcs1() { openssl dgst "-$2" -sign "$1.key.pem" -out "$3" msg.bin; }
pss() {
  openssl dgst "-$2" -sign "$1.key.pem" -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:digest -sigopt "rsa_mgf1_md:$2" -out "$3" msg.bin
}
for h in sha256 sha384 sha512; do
  pkcs1 rsa-leaf $h sig-rsa2048-pkcs1-$h.bin
  pss rsa-leaf $h sig-rsa2048-pss-$h.bin
done
pss rsa-inter sha384 sig-rsa3072-pss-sha384.bin
pkcs1 rsa-root sha512 sig-rsa4096-pkcs1-sha512.bin
pss rsa-root sha256 sig-rsa4096-pss-sha256.bin
pkcs1 rsa-weak sha256 sig-rsa1024-pkcs1-sha256.bin
pss rsa-odd sha256 sig-rsa2049-pss-sha256.bin
pkcs1 rsa-odd sha256 sig-rsa2049-pkcs1-sha256.bin
openssl dgst -sha256 -sign ec-leaf.key.pem -out sig-p256-sha256.der msg.bin
openssl dgst -sha384 -sign ec-leaf.key.pem -out sig-p256-sha384.der msg.bin
openssl pkey -in ec384-leaf.key.pem -pubout -outform DER -out ec384-leaf.spki.der
openssl dgst -sha384 -sign ec384-leaf.key.pem -out sig-p384-sha384.der msg.bin

# TLS 1.3 CertificateVerify content for a transcript hash of SHA-256("postel transcript"):
# 64 spaces, the context string, a zero octet, the hash (RFC 8446 section 4.4.3).
{
  printf '%64s' ''
  printf 'TLS 1.3, server CertificateVerify\000'
  printf 'postel transcript' | openssl dgst -sha256 -binary
} > cv-content.bin
openssl dgst -sha256 -sign ec-leaf.key.pem -out cv-ecdsa-p256.der cv-content.bin
openssl dgst -sha256 -sign rsa-leaf.key.pem -sigopt rsa_padding_mode:pss \
  -sigopt rsa_pss_saltlen:digest -out cv-rsa2048-pss-sha256.bin cv-content.bin
openssl dgst -sha256 -sign rsa-weak.key.pem -sigopt rsa_padding_mode:pss \
  -sigopt rsa_pss_saltlen:digest -out cv-rsa1024-pss-sha256.bin cv-content.bin
openssl dgst -sha256 -sign rsa-leaf.key.pem -out cv-rsa2048-pkcs1-sha256.bin cv-content.bin
# Only the keys the end-to-end test's openssl s_server needs are kept.
for k in ec-root ec-inter ec-future ec-client ec-other-root ec-grandchild ec384-root ec384-inter \
  rsa-root rsa-inter rsa-odd; do
  rm -f $k.key.pem
done
echo "fixtures written to $(pwd)"
