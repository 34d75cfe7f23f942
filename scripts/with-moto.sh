#!/usr/bin/env bash
# Run a command with a throwaway moto S3 server on 127.0.0.1 and a free port.
# The server (moto_server, found on PATH) is stopped when the command ends, whatever its
# exit code. AWS_* variables point boto3 at it with dummy credentials; the command's
# exit status is this script's exit status.
set -euo pipefail

if ! command -v moto_server >/dev/null 2>&1; then
  echo "moto_server not found on PATH: install the dev extras (pip install 'moto[server]')" >&2
  exit 127
fi
python=$(command -v python3 || command -v python)

port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
logfile=$(mktemp -t orc-moto.XXXXXX)

moto_server -H 127.0.0.1 -p "$port" >"$logfile" 2>&1 &
server_pid=$!

cleanup() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  rm -f "$logfile"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

endpoint="http://127.0.0.1:$port"
ready=""
for _ in $(seq 1 150); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    break
  fi
  if "$python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/moto-api/", timeout=1)' "$endpoint" >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 0.1
done
if [ -z "$ready" ]; then
  echo "moto_server did not start on $endpoint; its output:" >&2
  cat "$logfile" >&2
  exit 1
fi

export AWS_ENDPOINT_URL="$endpoint"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL_S3 2>/dev/null || true
echo "moto S3 server running on $endpoint for this run" >&2
status=0
"$@" || status=$?
exit "$status"
