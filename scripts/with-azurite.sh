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
. "$(dirname "$0")/server-lib.sh"

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

port=$(free_port)
endpoint="http://127.0.0.1:$port/devstoreaccount1"
start_server Azurite "$server" --blobHost 127.0.0.1 --blobPort "$port" --inMemoryPersistence \
  --disableTelemetry --skipApiVersionCheck --silent
# Any HTTP answer (403 without credentials) means it is listening.
wait_for_server "$endpoint?comp=list" any

# Azurite's well-known development account and key (public, accepted only by Azurite).
key="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
export AZURITE_BLOB_ENDPOINT="$endpoint"
export AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$key;BlobEndpoint=$endpoint;"
unset AZURE_STORAGE_ACCOUNT AZURE_STORAGE_KEY AZURE_STORAGE_SAS_TOKEN 2>/dev/null || true
echo "Azurite blob service running on $endpoint for this run" >&2
run_wrapped "$@"
