#!/usr/bin/env bash
# Brings up (or down) the PostgreSQL and Redis that payops needs.
#   up:   use DATABASE_URL / REDIS_ADDR when they answer (creating the database if missing);
#         otherwise start private servers under .run/ on non-default ports, installing the
#         Debian packages when the binaries are missing. Writes .run/services.env.
#   down: stop only what `up` started (by PID file).
#   browser: install Debian's Chromium when missing (`make test` runs it; page tests need it).
# Idempotent. Also makes sure the tools the tests call (redis-server, pg_dump) are on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN="$PWD/.run"
ENVFILE="$RUN/services.env"
PG_DIR="$RUN/pg"
PG_PORT="${PAYOPS_PRIVATE_PG_PORT:-55432}"
REDIS_DIR="$RUN/redis"
REDIS_PORT="${PAYOPS_PRIVATE_REDIS_PORT:-56379}"
DEFAULT_DB_URL="postgres://postgres@127.0.0.1:5432/payops?sslmode=disable"

log() { printf 'services: %s\n' "$*" >&2; }

apt_updated=""
apt_install() {
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if [ -z "$apt_updated" ]; then
    log "apt-get update"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=1
  fi
  log "installing $*"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# tcp_open HOST PORT: true when something listens there.
tcp_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

pg_bin() {
  local b
  for b in /usr/lib/postgresql/*/bin/"$1"; do [ -x "$b" ] && { echo "$b"; return; }; done
  command -v "$1" || true
}

ensure_tools() {
  command -v curl >/dev/null || apt_install curl
  command -v redis-server >/dev/null || apt_install redis-server
  command -v psql >/dev/null && command -v pg_dump >/dev/null || apt_install postgresql-client
}

# url_part URL: prints "host port user dbname" of a postgres URL.
url_part() {
  local rest=${1#*://} auth="" hostport path
  [[ "$rest" == *@* ]] && { auth=${rest%%@*}; rest=${rest#*@}; }
  hostport=${rest%%/*}; path=${rest#*/}; path=${path%%\?*}
  local host=${hostport%%:*} port=5432
  [[ "$hostport" == *:* ]] && port=${hostport##*:}
  echo "$host" "$port" "${auth%%:*}" "${path:-payops}"
}

create_db() { # URL
  local host port user db admin
  read -r host port user db < <(url_part "$1")
  admin=$(echo "$1" | sed -E "s#/${db}(\?|$)#/postgres\1#")
  if ! psql "$admin" -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1; then
    log "creating database $db"
    psql "$admin" -qc "CREATE DATABASE \"$db\"" >/dev/null
  fi
}

pg_up() {
  local url="${DATABASE_URL:-$DEFAULT_DB_URL}" host port user db
  read -r host port user db < <(url_part "$url")
  if tcp_open "$host" "$port" && psql "$(echo "$url" | sed -E "s#/${db}(\?|$)#/postgres\1#")" -tAc 'SELECT 1' >/dev/null 2>&1; then
    create_db "$url"
    echo "$url"
    return
  fi
  log "no PostgreSQL at $host:$port; starting a private cluster on 127.0.0.1:$PG_PORT"
  [ -n "$(pg_bin initdb)" ] || apt_install postgresql
  local initdb pg_ctl as=()
  initdb=$(pg_bin initdb); pg_ctl=$(pg_bin pg_ctl)
  mkdir -p "$PG_DIR"
  if [ "$(id -u)" -eq 0 ]; then chown -R postgres "$PG_DIR"; as=(runuser -u postgres --); fi
  [ -f "$PG_DIR/data/PG_VERSION" ] || "${as[@]}" "$initdb" -D "$PG_DIR/data" -U postgres -A trust >/dev/null
  if ! "${as[@]}" "$pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1; then
    "${as[@]}" "$pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w start \
      -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >/dev/null
  fi
  url="postgres://postgres@127.0.0.1:$PG_PORT/payops?sslmode=disable"
  create_db "$url"
  echo "$url"
}

redis_up() {
  local addr="${REDIS_ADDR:-127.0.0.1:6379}"
  local host=${addr%:*} port=${addr##*:}
  if tcp_open "$host" "$port" && [ "$(timeout 2 bash -c "exec 3<>/dev/tcp/$host/$port; printf 'PING\r\n' >&3; head -c 5 <&3" 2>/dev/null)" = "+PONG" ]; then
    echo "$addr"
    return
  fi
  log "no Redis at $addr; starting a private redis-server on 127.0.0.1:$REDIS_PORT"
  mkdir -p "$REDIS_DIR"
  if ! { [ -f "$REDIS_DIR/redis.pid" ] && kill -0 "$(cat "$REDIS_DIR/redis.pid")" 2>/dev/null; }; then
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
      --dir "$REDIS_DIR" --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log"
    for _ in $(seq 100); do tcp_open 127.0.0.1 "$REDIS_PORT" && break; sleep 0.1; done
  fi
  echo "127.0.0.1:$REDIS_PORT"
}

up() {
  mkdir -p "$RUN"
  ensure_tools
  local db redis
  db=$(pg_up)
  redis=$(redis_up)
  printf 'export DATABASE_URL=%q\nexport REDIS_ADDR=%q\n' "$db" "$redis" >"$ENVFILE"
  log "PostgreSQL $(echo "$db" | sed -E 's#//[^@]*@#//#'), Redis $redis"
}

down() {
  if [ -f "$PG_DIR/data/postmaster.pid" ]; then
    local as=()
    [ "$(id -u)" -eq 0 ] && as=(runuser -u postgres --)
    "${as[@]}" "$(pg_bin pg_ctl)" -D "$PG_DIR/data" -m fast -w stop >/dev/null && log "stopped private PostgreSQL"
  fi
  if [ -f "$REDIS_DIR/redis.pid" ]; then
    kill "$(cat "$REDIS_DIR/redis.pid")" 2>/dev/null && log "stopped private Redis"
    rm -f "$REDIS_DIR/redis.pid"
  fi
  rm -f "$ENVFILE"
}

# browser: Debian's Chromium, which the page tests drive headless. Installed here,
# before the tests start, so that no test spends its own time limit on apt-get.
browser() {
  [ -x /usr/bin/chromium ] || apt_install chromium
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  browser) browser ;;
  *) echo "usage: $0 up|down|browser" >&2; exit 2 ;;
esac
