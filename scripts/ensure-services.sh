#!/bin/sh
# Starts the local services the tests talk to when they are down (PostgreSQL, MariaDB, Redis,
# RabbitMQ, Mosquitto, NATS with JetStream), with the commands this machine's image uses.
# A service whose server is not installed is reported and skipped; tests that need it say so.
set -u

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && exec 3>&- 3<&-; }

wait_port() {
  i=0
  while [ $i -lt 60 ]; do
    port_open "$1" && return 0
    sleep 0.5
    i=$((i + 1))
  done
  return 1
}

ensure() {
  name=$1 port=$2 binary=$3
  shift 3
  port_open "$port" && return 0
  if ! command -v "$binary" >/dev/null 2>&1 && [ ! -x "$binary" ]; then
    echo "ensure-services: $name is not installed (no $binary); tests that need it will fail" >&2
    return 0
  fi
  echo "ensure-services: starting $name on $port" >&2
  sh -c "$*" >/dev/null 2>&1 || true
  wait_port "$port" || echo "ensure-services: $name did not come up on $port" >&2
}

# bash is needed for /dev/tcp
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi

ensure PostgreSQL 5432 pg_ctlcluster 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start'
ensure MariaDB 3306 /usr/sbin/mariadbd 'start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd'
ensure Redis 6379 redis-server 'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log'
ensure RabbitMQ 5672 rabbitmq-server 'rabbitmq-server -detached'
ensure Mosquitto 1883 mosquitto 'mosquitto -d -c /etc/mosquitto/mosquitto.conf'
ensure NATS 4222 /usr/sbin/nats-server 'start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log'
exit 0
