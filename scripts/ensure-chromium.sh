#!/usr/bin/env bash
# Print the path of a headless Chromium (Debian's `chromium` package), installing it when
# we are root and it is missing. Exits non-zero with a message on stderr when there is none.
# The browser tests of the HTML plan page (tests/integration/test_html_browser.py) use it.
set -euo pipefail

find_chromium() {
    local candidate
    for candidate in "${ORC_CHROMIUM:-}" /usr/bin/chromium "$(command -v chromium 2>/dev/null || true)"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ]; then
            printf '%s\n' "$candidate"
            return 0
        fi
    done
    return 1
}

if find_chromium; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "ensure-chromium: chromium is not installed and we are not root to install it;" \
        "run 'apt-get install chromium' (Debian) or set ORC_CHROMIUM to a Chromium binary" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-chromium: chromium is not installed and there is no apt-get to install it;" \
        "set ORC_CHROMIUM to a Chromium binary" >&2
    exit 1
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >"$log" 2>&1; then
    echo "ensure-chromium: 'apt-get install chromium' failed:" >&2
    tail -n 20 "$log" >&2
    exit 1
fi

if find_chromium; then
    exit 0
fi
echo "ensure-chromium: installed the chromium package but found no chromium binary" >&2
exit 1
