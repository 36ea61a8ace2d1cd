#!/usr/bin/env bash
# Fuzzes the HTTP API against its own OpenAPI document with schemathesis: every answer the server
# gives (status, media type, headers, body) must be one the document describes.
#
# Starts `colony serve` (the debug binary) on a free loopback port with a temporary data directory,
# issues a read token with the CLI, runs the demo swarm against it, checks the events the demo caused
# against the document, and runs schemathesis twice: without credentials and with the token. Writes need Ed25519 signatures over the exact body, which
# schemathesis cannot make, so on the write endpoints it exercises the refusals; on the reads, both
# the refusals and the answers.
#
# Tunables: API_FUZZ_MAX_EXAMPLES (test cases per operation and phase), API_FUZZ_WORKERS; arguments
# are passed on to both schemathesis runs (`--continue-on-failure`, say, to see every failure).
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
MAX_EXAMPLES=${API_FUZZ_MAX_EXAMPLES:-50}
# One worker by default: with two, schemathesis generates cases on two threads, and CPython 3.11's
# parser can fail when two threads parse source at once ("SystemError: AST constructor recursion
# depth mismatch", raised inside hypothesis while it describes a strategy), which fails the run for
# no fault of the server.
WORKERS=${API_FUZZ_WORKERS:-1}
VENV=target/api-fuzz-venv
COLONY=target/debug/colony

# Prints a command (on stderr, with the read token masked) and runs it.
TOKEN=""
run() {
    local shown="$*"
    if [[ -n "$TOKEN" ]]; then
        shown=${shown//"$TOKEN"/<read token>}
    fi
    printf '+ %s\n' "$shown" >&2
    "$@"
}

# shellcheck source=lib/python.sh
source scripts/lib/python.sh
require_python_venv "the API fuzz run"
if [[ ! -x "$VENV/bin/schemathesis" ]] || ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    run python3 -m venv "$VENV"
    run "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
# The suite's test step has just built the binary (with the whole workspace's features); building
# it again for this package alone would rebuild every dependency with other features.
if [[ -z "${COLONY_BINARY_BUILT:-}" || ! -x "$COLONY" ]]; then
    run cargo build --locked -p colony
fi

DATA=$(mktemp -d "${TMPDIR:-/tmp}/colony-api-fuzz.XXXXXX")
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$DATA"
}
trap cleanup EXIT

# Port 0: the kernel picks a free port, and the server prints the address it bound.
printf '+ %s\n' "$COLONY serve --data $DATA/data --listen 127.0.0.1:0 --log warn" >&2
"$COLONY" serve --data "$DATA/data" --listen 127.0.0.1:0 --log warn >"$DATA/server.log" 2>&1 &
SERVER_PID=$!
URL=""
for _ in $(seq 1 200); do
    URL=$(grep -o 'listening on http://127\.0\.0\.1:[0-9]*' "$DATA/server.log" | head -n 1 | sed 's/^listening on //') || true
    [[ -n "$URL" ]] && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        cat "$DATA/server.log" >&2
        echo "colony serve exited before it listened" >&2
        exit 1
    fi
    sleep 0.1
done
if [[ -z "$URL" ]]; then
    cat "$DATA/server.log" >&2
    echo "colony serve did not report its address" >&2
    exit 1
fi
echo "server: $URL (data $DATA/data)"

TOKEN=$(run "$COLONY" token issue --label fuzz --ttl-hours 1 --server "$URL" --key "$DATA/data/operator.key")

# The demo swarm fills the server first (agents live and deregistered, wallets, escrows in every
# state, streams, consumers, dead letters), so that lists and pages answer with content whose shape
# the document must describe, not only with empty lists.
run "$COLONY" demo --server "$URL" --key "$DATA/data/operator.key" --seconds 2 >"$DATA/demo.log" 2>&1 || {
    cat "$DATA/demo.log" >&2
    echo "the demo swarm failed against the server" >&2
    exit 1
}

# Schemathesis reads an event stream's body as text, so the events the demo caused are checked here
# against the document's `Event` schema (the stream is read for a second: it never ends).
run "$VENV/bin/python" - "$URL" "$TOKEN" <<'PYTHON'
import json, socket, sys, urllib.request
import jsonschema_rs

url, token = sys.argv[1], sys.argv[2]
document = json.load(urllib.request.urlopen(f"{url}/v1/openapi.json"))
validator = jsonschema_rs.Draft202012Validator({"$ref": "#/components/schemas/Event", "components": document["components"]})
request = urllib.request.Request(f"{url}/v1/events?from=1", headers={"Authorization": f"Bearer {token}"})
events, invalid = 0, []
try:
    with urllib.request.urlopen(request, timeout=1) as stream:
        for line in stream:
            if line.startswith(b"data:"):
                event = json.loads(line[len(b"data:"):])
                events += 1
                invalid.extend(f"{event}: {error.message}" for error in validator.iter_errors(event))
except (TimeoutError, socket.timeout):
    pass
print(f"events: {events} checked against the Event schema, {len(invalid)} not described")
if events == 0 or invalid:
    print("\n".join(invalid[:10]), file=sys.stderr)
    sys.exit(1)
PYTHON

# Every check, on every operation: scripts/api-fuzz.toml enables them all, and names the few
# exceptions with the reason for each.
echo "schemathesis configuration (scripts/api-fuzz.toml):"
sed 's/^/    /' scripts/api-fuzz.toml
schemathesis_run() {
    run "$VENV/bin/schemathesis" --config-file scripts/api-fuzz.toml run "$URL/v1/openapi.json" \
        --url "$URL" \
        --max-examples "$MAX_EXAMPLES" \
        --workers "$WORKERS" \
        --seed 1 \
        --generation-database none \
        --no-color \
        "$@"
}

# Both runs go ahead whatever the first finds; the script fails if either found anything.
failed=0
echo
echo "==> schemathesis without credentials"
schemathesis_run "$@" || failed=1

echo
echo "==> schemathesis with a read token"
schemathesis_run -H "Authorization: Bearer $TOKEN" "$@" || failed=1

if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    cat "$DATA/server.log" >&2
    echo "the server died during the fuzz run" >&2
    exit 1
fi
if [[ "$failed" != 0 ]]; then
    echo "api fuzz: schemathesis found answers that the OpenAPI document does not describe (see above)" >&2
    exit 1
fi
echo
echo "api fuzz: no failures"
