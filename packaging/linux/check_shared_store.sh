#!/usr/bin/env bash
# The bundled envops connects a data folder to a shared store on a local S3 server (moto's,
# run by the project's own Python) and checks it: proves that boto3, its S3 data,
# cryptography and scrypt all made it into the bundle.
# Usage: check_shared_store.sh BUNDLE_DIR PYTHON
set -euo pipefail
bundle=$1
python=$2
scratch=$(mktemp -d)
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$python" -m moto.server -H 127.0.0.1 -p "$port" > "$scratch/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$scratch"' EXIT
endpoint="http://127.0.0.1:$port"
for _ in $(seq 100); do
    "$python" -c "import socket, sys; sys.exit(socket.socket().connect_ex(('127.0.0.1', $port)))" && break
    sleep 0.1
done
credentials=(AWS_ACCESS_KEY_ID=bundle AWS_SECRET_ACCESS_KEY=bundle AWS_DEFAULT_REGION=us-east-1)
env "${credentials[@]}" "$python" -c "import boto3; boto3.client('s3', endpoint_url='$endpoint').create_bucket(Bucket='bundle-check')"
run() {
    env -i PATH="$bundle" HOME="$scratch" "${credentials[@]}" ENVOPS_PASSPHRASE=bundle-check \
        "$bundle/envops" --data-dir "$scratch/data" "$@"
}
run store use s3://bundle-check/team --endpoint "$endpoint"
run store check
echo "bundled envops made and checked a shared store"
