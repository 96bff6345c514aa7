#!/bin/sh
# A throwaway PostgreSQL cluster for the test suite (SPEC R3: the suite also runs on PostgreSQL).
#
#   tests/reliability/pg_cluster.sh start   # prints the URL, e.g. postgresql://postgres@127.0.0.1:54321/postgres
#   TEST_DATABASE_URL=$(tests/reliability/pg_cluster.sh start) pytest -m reliability
#   tests/reliability/pg_cluster.sh stop    # stops it and deletes its files
#
# PG_CLUSTER_DIR (default /tmp/calbridge-pg) holds the data, the socket, the log and the port;
# PG_PORT picks the port (default: a free one). Durability is off: it is a scratch database.
# Run as root, the server runs as the "postgres" user; otherwise as the current user.
set -eu

DIR=${PG_CLUSTER_DIR:-/tmp/calbridge-pg}
BIN=${PG_BIN:-$(pg_config --bindir 2>/dev/null || ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)}

as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

url() {
    echo "postgresql://postgres@127.0.0.1:$(cat "$DIR/port")/postgres"
}

running() {
    [ -f "$DIR/port" ] && as_owner "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1
}

case "${1:-}" in
start)
    if running; then
        url
        exit 0
    fi
    rm -rf "$DIR"
    mkdir -p "$DIR"
    [ "$(id -u)" = 0 ] && chown postgres "$DIR"
    as_owner "$BIN/initdb" -D "$DIR/data" -U postgres -A trust --no-sync -E UTF8 --locale=C >"$DIR/initdb.log" 2>&1 \
        || { cat "$DIR/initdb.log" >&2; exit 1; }
    PORT=${PG_PORT:-$(free_port)}
    echo "$PORT" >"$DIR/port"
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/postgres.log" -w -t 30 \
        -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null || { cat "$DIR/postgres.log" >&2; exit 1; }
    url
    ;;
stop)
    if running; then
        as_owner "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null
    fi
    rm -rf "$DIR"
    ;;
url)
    running || { echo "no cluster running in $DIR" >&2; exit 1; }
    url
    ;;
*)
    echo "usage: $0 start|stop|url" >&2
    exit 2
    ;;
esac
