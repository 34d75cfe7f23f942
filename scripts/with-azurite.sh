#!/usr/bin/env bash
# Run a command with a throwaway Azurite (the Azure Storage emulator's blob service, in
# memory, telemetry off) on 127.0.0.1 and a free port. Azurite is installed with npm into
# .venv/azurite when missing. The server is stopped when the command ends, whatever its
# exit code. AZURE_STORAGE_CONNECTION_STRING points azure-storage-blob at it (Azurite's
# published development account) and AZURITE_BLOB_ENDPOINT names it for the tests; the
# command's exit status is this script's exit status.
set -euo pipefail

AZURITE_VERSION=3.37.0
repo=$(cd "$(dirname "$0")/.." && pwd)
cache="$repo/.venv/azurite"
server="$cache/node_modules/.bin/azurite-blob"
python=$(command -v python3 || command -v python)

if [ ! -x "$server" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "npm not found; installing nodejs and npm with apt-get" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  fi
  echo "Azurite not found; installing azurite@$AZURITE_VERSION with npm into $cache" >&2
  staging="$cache.partial.$$"
  rm -rf "$staging"
  mkdir -p "$staging"
  npm install --prefix "$staging" --no-audit --no-fund --loglevel=error \
    "azurite@$AZURITE_VERSION" >&2
  rm -rf "$cache"
  mv "$staging" "$cache"
fi

port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
endpoint="http://127.0.0.1:$port/devstoreaccount1"
workdir=$(mktemp -d -t orc-azurite.XXXXXX)

"$server" --blobHost 127.0.0.1 --blobPort "$port" --inMemoryPersistence --disableTelemetry \
  --skipApiVersionCheck --silent >"$workdir/log" 2>&1 &
server_pid=$!

cleanup() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Any HTTP answer (403 without credentials) means it is listening.
probe='import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1] + "?comp=list", timeout=1)
except urllib.error.HTTPError:
    pass'
ready=""
for _ in $(seq 1 300); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    break
  fi
  if "$python" -c "$probe" "$endpoint" >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 0.1
done
if [ -z "$ready" ]; then
  echo "Azurite did not start on $endpoint; its output:" >&2
  cat "$workdir/log" >&2
  exit 1
fi

# Azurite's well-known development account and key (public, accepted only by Azurite).
key="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
export AZURITE_BLOB_ENDPOINT="$endpoint"
export AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$key;BlobEndpoint=$endpoint;"
unset AZURE_STORAGE_ACCOUNT AZURE_STORAGE_KEY AZURE_STORAGE_SAS_TOKEN 2>/dev/null || true
echo "Azurite blob service running on $endpoint for this run" >&2
status=0
"$@" || status=$?
exit "$status"
