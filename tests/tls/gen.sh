#!/bin/sh
# tests/tls/gen.sh DIR - a throw-away PKI for unit_tls, made fresh each run
# (no private key is ever committed).  Everything is for mta-sts.example.com
# and is only ever served on 127.0.0.1 / ::1.
#   ca.pem            test root (EC P-256), the only anchor the tests load
#   inter.pem         intermediate CA (RSA 2048) under ca
#   good              SAN mta-sts.example.com, signed by ca
#   chained           SAN mta-sts.example.com, signed by inter (serve with inter.pem)
#   wildcard          SAN *.example.com
#   expired           SAN mta-sts.example.com, notAfter in the past
#   wrongname         SAN www.example.org
#   cnonly            CN=mta-sts.example.com, no SAN extension at all
#   iponly            CN=mta-sts.example.com, SAN with only IP:127.0.0.1
#   selfsigned        SAN mta-sts.example.com, self-signed
#   untrusted         SAN mta-sts.example.com, signed by a CA nobody trusts
set -e
d=$1
[ -n "$d" ] && mkdir -p "$d" && cd "$d"
exec 2>gen.log          # openssl chatter; the test shows it on failure
H=mta-sts.example.com

cat >ext.cnf <<EOT
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[good]
subjectAltName = DNS:$H
[wildcard]
subjectAltName = DNS:*.example.com
[wrongname]
subjectAltName = DNS:www.example.org
[iponly]
subjectAltName = IP:127.0.0.1
[none]
subjectKeyIdentifier = hash
EOT

ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }

# root and a second, untrusted root
for ca in ca otherca; do
	ec $ca
	openssl req -new -x509 -key $ca.key -out $ca.pem -days 30 -subj "/CN=mtasts test $ca" \
	    -config ext.cnf -extensions ca
done
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out inter.key 2>/dev/null
openssl req -new -key inter.key -subj "/CN=mtasts test intermediate" -out inter.csr -config ext.cnf
openssl x509 -req -in inter.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
    -extfile ext.cnf -extensions ca -out inter.pem

# leaf NAME CN SECTION ISSUER DAYS
leaf() {
	ec $1
	openssl req -new -key $1.key -subj "/CN=$2" -out $1.csr -config ext.cnf
	openssl x509 -req -in $1.csr -CA $4.pem -CAkey $4.key -CAcreateserial -days $5 \
	    -extfile ext.cnf -extensions $3 -out $1.pem
}
leaf good      $H              good      ca      30
leaf chained   $H              good      inter   30
leaf wildcard  wildcard        wildcard  ca      30
leaf expired   $H              good      ca      -1
leaf wrongname www.example.org wrongname ca      30
leaf cnonly    $H              none      ca      30
leaf iponly    $H              iponly    ca      30
leaf untrusted $H              good      otherca 30
ec selfsigned
openssl req -new -x509 -key selfsigned.key -out selfsigned.pem -days 30 -subj "/CN=$H" \
    -config ext.cnf -extensions good
rm -f ./*.csr ./*.srl
