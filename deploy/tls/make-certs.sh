#!/usr/bin/env bash
# Make example TLS certificates for deploy/compose.tls.yaml with openssl: a
# private CA and one server certificate that RabbitMQ (AMQP on 5671) and the
# HTTPS proxy in front of the pull API and the monitor present.
#
#   deploy/tls/make-certs.sh [--force] [NAME ...]
#
# NAMEs are extra DNS names or IP addresses of the server certificate, such
# as the host name stores connect to. It always contains rabbitmq, tls-proxy,
# localhost and 127.0.0.1. Files go to deploy/tls/out/ (ignored by git):
# ca.pem (give it to stores), ca-key.pem, server.pem, server-key.pem.
# Existing files are kept unless --force is given.
#
# These are for trials. The keys are readable by every user (mode 0644)
# because the RabbitMQ container reads them as its own user (uid 999) from a
# bind mount. In production, issue certificates from your CA and mount the
# keys as secrets readable only by the server.
set -euo pipefail

out_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/out
days=${TLS_DAYS:-365}
force=0
names=(rabbitmq tls-proxy localhost 127.0.0.1)

for argument in "$@"; do
    case $argument in
        --force) force=1 ;;
        -h | --help) sed -n '2,17p' "${BASH_SOURCE[0]}"; exit 0 ;;
        -*) echo "make-certs: unknown option $argument; use --force or names" >&2; exit 2 ;;
        *) names+=("$argument") ;;
    esac
done

if [[ -e $out_dir/server.pem && $force == 0 ]]; then
    echo "make-certs: $out_dir/server.pem exists; pass --force to make new ones" >&2
    exit 0
fi
command -v openssl >/dev/null || { echo "make-certs: openssl is missing; install it (Debian: apt-get install openssl)" >&2; exit 1; }

mkdir -p "$out_dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

subject_alt_names=()
for name in "${names[@]}"; do
    if [[ $name =~ ^[0-9.]+$ || $name == *:* ]]; then
        subject_alt_names+=("IP:$name")
    else
        subject_alt_names+=("DNS:$name")
    fi
done
san=$(IFS=,; echo "${subject_alt_names[*]}")

openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -keyout "$work/ca-key.pem" -out "$work/ca.pem" -days "$days" \
    -subj "/CN=retail-hub example CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -keyout "$work/server-key.pem" -out "$work/server.csr" \
    -subj "/CN=${names[0]}" 2>/dev/null

cat > "$work/server.ext" <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$san
EXT
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca-key.pem" \
    -CAcreateserial -out "$work/server.pem" -days "$days" \
    -extfile "$work/server.ext" 2>/dev/null

openssl verify -CAfile "$work/ca.pem" "$work/server.pem" >/dev/null
install -m 0644 "$work/ca.pem" "$work/server.pem" "$work/server-key.pem" "$out_dir/"
install -m 0600 "$work/ca-key.pem" "$out_dir/"
echo "make-certs: wrote CA and server certificate for $san to $out_dir"
