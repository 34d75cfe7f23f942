#!/usr/bin/env bash
# Run a command with a throwaway moto S3 server on 127.0.0.1 and a free port, answering one
# request at a time (scripts/moto_server_atomic.py: moto's conditional writes are atomic
# only then). The server (moto, importable by the python on PATH) is stopped when the
# command ends, whatever its exit code. AWS_* variables point boto3 at it with dummy
# credentials; the command's exit status is this script's exit status.
set -euo pipefail

if ! command -v moto_server >/dev/null 2>&1; then
  echo "moto_server not found on PATH: install the dev extras (pip install 'moto[server]')" >&2
  exit 127
fi
. "$(dirname "$0")/server-lib.sh"

port=$(free_port)
endpoint="http://127.0.0.1:$port"
start_server moto_server "$python" "$(dirname "$0")/moto_server_atomic.py" -H 127.0.0.1 -p "$port"
wait_for_server "$endpoint/moto-api/"

export AWS_ENDPOINT_URL="$endpoint"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL_S3 2>/dev/null || true
echo "moto S3 server running on $endpoint for this run" >&2
run_wrapped "$@"
