#!/usr/bin/env bash
# Runs sandbox + api + worker in the foreground against the services that
# services.sh chose (its env is already loaded). Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.run/bin
mkdir -p .run/keys .run/logs .run/reports .run/exports
export APO_BASE_URL="${APO_BASE_URL:-http://127.0.0.1:8090}"
sandbox_addr="${APO_BASE_URL#http://}"
pids=()
stop() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

wait_http() { # URL NAME
  for _ in $(seq 200); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "run: $2 did not come up; see .run/logs/$2.log" >&2
  exit 1
}

# The sandbox makes the dev key pairs on first start; api and worker need them.
"$BIN/apo-sandbox" --addr "$sandbox_addr" --keys-dir .run/keys --reports-dir .run/reports \
  --dispute-notify-url "${PAYOPS_PUBLIC_URL:-http://127.0.0.1:8080}/webhooks/apo" \
  >>.run/logs/apo-sandbox.log 2>&1 &
pids+=($!)
wait_http "$APO_BASE_URL/sandbox/state" apo-sandbox

"$BIN/api" migrate >>.run/logs/api.log 2>&1
if [ ! -s .run/admin.key ]; then
  "$BIN/api" keys create --name dev-admin --role admin >.run/admin.key
  chmod 600 .run/admin.key
fi

# A console user for the person running this, made once: an admin, whose
# second factor is the TOTP secret below (add it to an authenticator app).
if [ ! -s .run/console-user.txt ]; then
  (umask 077; "$BIN/api" users create --email dev@payops.local --role admin >.run/console-user.txt)
fi
console_field() { sed -n "s/^$1: *//p" .run/console-user.txt | head -n1; }

"$BIN/api" serve >>.run/logs/api.log 2>&1 &
pids+=($!)
"$BIN/worker" >>.run/logs/worker.log 2>&1 &
pids+=($!)
api="http://${PAYOPS_HTTP_ADDR:-127.0.0.1:8080}"
wait_http "$api/readyz" api

cat <<MSG
payops is running (logs in .run/logs/, Ctrl-C stops everything)
  API           $api          docs: $api/docs
  APO sandbox   $APO_BASE_URL   state: $APO_BASE_URL/sandbox/state
  admin key     $(tail -n1 .run/admin.key)   (kept in .run/admin.key)
  console       ${PAYOPS_PUBLIC_URL:-$api}/console/   (kept in .run/console-user.txt)
    email       $(console_field email)
    password    $(console_field password)
    TOTP secret $(console_field totp-secret)   (add it to an authenticator app, or: oathtool --totp -b SECRET)
  try:          curl -H "Authorization: Bearer \$(tail -n1 .run/admin.key)" $api/v1/api-keys
MSG
wait -n "${pids[@]}"
echo "run: a process exited; stopping the others (see .run/logs/)" >&2
