# Shared by the scripts/with-*.sh wrappers: start a throwaway server on 127.0.0.1, wait
# until it answers, stop it when the wrapper exits. Source it, then:
#   port=$(free_port)
#   start_server NAME COMMAND...     # output to a temp log; stopped (and log removed) at exit
#   wait_for_server URL [ANY]        # polls URL; with ANY, any HTTP answer (4xx too) counts
python=$(command -v python3 || command -v python)

free_port() {
  "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_server() {
  server_name=$1
  shift
  server_log=$(mktemp -t "orc-server.XXXXXX")
  "$@" >"$server_log" 2>&1 &
  server_pid=$!
  trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; rm -f "$server_log"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

wait_for_server() {
  local probe='import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=1)
except urllib.error.HTTPError:
    if not sys.argv[2]:
        raise'
  for _ in $(seq 1 300); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      break
    fi
    if "$python" -c "$probe" "$1" "${2:-}" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  echo "$server_name did not start on $1; its output:" >&2
  cat "$server_log" >&2
  exit 1
}

# Run the wrapped command; its exit status becomes the wrapper's.
run_wrapped() {
  local status=0
  "$@" || status=$?
  exit "$status"
}
