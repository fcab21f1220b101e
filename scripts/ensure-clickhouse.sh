#!/bin/sh
# A ClickHouse server for the tests and for trying the clickhouse sink by hand. Installs
# Debian's clickhouse-server and clickhouse-client (18.16 on bookworm) when they are missing,
# then runs a *private* server: its own config, users and data in a directory of its own, on
# the ports given, so nothing depends on (or touches) a system service.
#
#   sh scripts/ensure-clickhouse.sh --exec DIR HTTP_PORT TCP_PORT
#       Writes DIR/config.xml and DIR/users.xml, prints http://127.0.0.1:HTTP_PORT on stdout,
#       then execs clickhouse-server in the foreground: the caller owns the process (a test
#       spawns this, waits for GET /ping to answer "Ok.", and kills the pid when done).
#
#   sh scripts/ensure-clickhouse.sh
#       Makes sure something answers GET /ping on 127.0.0.1:${BEACON_CLICKHOUSE_HTTP_PORT:-8123};
#       if nothing does, starts a private server as a daemon in
#       ${TMPDIR:-/tmp}/beacon-clickhouse-<port> (TCP port ${BEACON_CLICKHOUSE_TCP_PORT:-9000}),
#       waits until it answers "Ok." and prints its URL. Stop it with
#       kill "$(cat ${TMPDIR:-/tmp}/beacon-clickhouse-8123/server.pid)".
#
# Users of the private server: `default` (no password) and `beacon` (password `beacon`).
# Exit codes: 0 ready; 3 the packages cannot be installed here (tests skip); other: failure.
set -eu
cd "$(dirname "$0")/.."

SERVER=/usr/sbin/clickhouse-server

if [ ! -x "$SERVER" ] || ! command -v clickhouse-client >/dev/null 2>&1; then
  if ! sh scripts/ensure-debian-packages.sh clickhouse-server clickhouse-client >&2; then
    echo "ensure-clickhouse: clickhouse-server could not be installed; the ClickHouse tests will skip" >&2
    exit 3
  fi
fi

# write_config DIR HTTP_PORT TCP_PORT
write_config() {
  dir=$1 http=$2 tcp=$3
  mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas" "$dir/log"
  cat >"$dir/config.xml" <<EOF
<?xml version="1.0"?>
<!-- Private ClickHouse for Beacon's tests; written by scripts/ensure-clickhouse.sh. -->
<yandex>
    <logger>
        <level>warning</level>
        <log>$dir/log/clickhouse-server.log</log>
        <errorlog>$dir/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$http</http_port>
    <tcp_port>$tcp</tcp_port>
    <max_connections>1024</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>$dir/data/</path>
    <tmp_path>$dir/tmp/</tmp_path>
    <user_files_path>$dir/user_files/</user_files_path>
    <format_schema_path>$dir/format_schemas/</format_schema_path>
    <users_config>$dir/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
</yandex>
EOF
  cat >"$dir/users.xml" <<'EOF'
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>2000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
        <beacon>
            <password>beacon</password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </beacon>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF
}

ping_ok() { [ "$(curl -s --max-time 2 "http://127.0.0.1:$1/ping" 2>/dev/null || true)" = "Ok." ]; }

if [ "${1:-}" = "--exec" ]; then
  [ "$#" -eq 4 ] || { echo "usage: $0 --exec DIR HTTP_PORT TCP_PORT" >&2; exit 2; }
  write_config "$2" "$3" "$4"
  echo "http://127.0.0.1:$3"
  exec "$SERVER" --config-file="$2/config.xml"
fi

http=${BEACON_CLICKHOUSE_HTTP_PORT:-8123}
tcp=${BEACON_CLICKHOUSE_TCP_PORT:-9000}
if ping_ok "$http"; then
  echo "http://127.0.0.1:$http"
  exit 0
fi
dir=${TMPDIR:-/tmp}/beacon-clickhouse-$http
write_config "$dir" "$http" "$tcp"
echo "ensure-clickhouse: starting a private server in $dir on $http" >&2
"$SERVER" --daemon --pid-file="$dir/server.pid" --config-file="$dir/config.xml" >"$dir/log/stdout.log" 2>&1 || true
i=0
while [ $i -lt 120 ]; do
  if ping_ok "$http"; then
    echo "http://127.0.0.1:$http"
    exit 0
  fi
  sleep 0.5
  i=$((i + 1))
done
echo "ensure-clickhouse: no answer from http://127.0.0.1:$http/ping after 60 s; see $dir/log/" >&2
tail -n 20 "$dir/log/clickhouse-server.err.log" >&2 2>/dev/null || true
exit 1
