#!/usr/bin/env bash
# Regenerates the OpenSSL-made PKI test fixtures in certs/ (openssl only; idempotent).
#
# Every file is written under a temporary directory first and moved into place
# at the end, so a failed run never leaves a half-made set behind. Running it
# again replaces the set with fresh keys under the same file names.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

# Long lifetimes so the "valid" fixtures do not rot; the expired one has fixed past dates.
long_days=10950

leaf_ext() { # a user-certificate profile like the one sis issues
  cat <<'X'
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth, emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
X
}

make_ca() { # make_ca <name> <common name>
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$long_days" \
    -keyout "$1.key" -out "$1.pem" -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:true,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" 2>/dev/null
}

# 1. A foreign CA (not the sis CA) and a well-formed alice leaf it issued.
make_ca foreign-ca "foreign CA"
openssl req -new -newkey rsa:2048 -nodes -keyout foreign-alice.key \
  -out foreign-alice.csr -subj "/CN=alice" 2>/dev/null
leaf_ext > leaf.ext
openssl x509 -req -in foreign-alice.csr -CA foreign-ca.pem -CAkey foreign-ca.key \
  -set_serial "0x$(openssl rand -hex 15)" -days "$long_days" -sha256 \
  -extfile leaf.ext -out foreign-alice.pem 2>/dev/null

# 2. An expired alice leaf, issued by a throwaway CA that is itself still valid,
#    so a verifier given expired-ca.pem as its anchor must answer "expired".
#    OpenSSL 3.0's `x509 -req` cannot set a past notBefore, so use `openssl ca`.
#    The throwaway CA is self-signed through `openssl ca -selfsign` too, with a
#    notBefore in 2019, so it was already valid when the leaf was.
mkdir -p ca-db && : > ca-db/index.txt && openssl rand -hex 15 > ca-db/serial
cat > ca.cnf <<'X'
[ ca ]
default_ca = fixture
[ fixture ]
database = ca-db/index.txt
serial = ca-db/serial
new_certs_dir = ca-db
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
x509_extensions = leaf
[ anything ]
commonName = supplied
[ leaf ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth, emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ root ]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
X
openssl req -new -newkey rsa:2048 -nodes -keyout expired-ca.key -out expired-ca.csr \
  -subj "/CN=sis expired-fixture CA" 2>/dev/null
openssl ca -batch -config ca.cnf -selfsign -keyfile expired-ca.key -extensions root \
  -startdate 20190101000000Z -enddate 20491231235959Z -notext \
  -in expired-ca.csr -out expired-ca.pem 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -keyout expired.key -out expired.csr \
  -subj "/CN=alice" 2>/dev/null
openssl ca -batch -config ca.cnf -cert expired-ca.pem -keyfile expired-ca.key \
  -startdate 20200101000000Z -enddate 20210101000000Z -notext \
  -in expired.csr -out expired.pem 2>/dev/null

# 3. A CSR whose key is too weak (RSA 1024).
openssl req -new -newkey rsa:1024 -nodes -keyout /dev/null -out weak-1024.csr \
  -subj "/CN=weak" 2>/dev/null

# 4. A CSR that fails proof of possession: a valid RSA-2048 CSR whose last
#    signature byte is flipped (XOR 0x01). Structure and key are intact; only
#    the signature no longer matches, so `openssl req -verify` refuses it.
openssl req -new -newkey rsa:2048 -nodes -keyout /dev/null -outform DER \
  -out bad-pop.der -subj "/CN=mallory" 2>/dev/null
size=$(wc -c < bad-pop.der)
last=$(tail -c 1 bad-pop.der | od -An -tu1 | tr -d ' ')
printf "$(printf '\\%03o' $(( last ^ 1 )))" |
  dd of=bad-pop.der bs=1 seek=$(( size - 1 )) conv=notrunc status=none
{ echo "-----BEGIN CERTIFICATE REQUEST-----"
  openssl base64 -e -in bad-pop.der
  echo "-----END CERTIFICATE REQUEST-----"; } > bad-pop.csr
# `req -verify` exits 0 even on failure in OpenSSL 3.0: judge by its message.
if ! openssl req -in bad-pop.csr -noout -verify 2>&1 | grep -q "verify failure"; then
  echo "make-fixtures: bad-pop.csr still verifies" >&2; exit 1
fi

chmod 0644 ./*.key
for f in foreign-ca.pem foreign-ca.key foreign-alice.pem foreign-alice.key \
         expired-ca.pem expired-ca.key expired.pem expired.key \
         weak-1024.csr bad-pop.csr; do
  mv "$f" "$here/$f"
done
echo "make-fixtures: wrote fixtures to $here"
