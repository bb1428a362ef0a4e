#!/usr/bin/env bash
# Start MariaDB and RabbitMQ on 127.0.0.1 when they are not answering, and load
# MariaDB's time zone tables (Django's date lookups and date_hierarchy need them).
set -euo pipefail

wait_for() {  # wait_for NAME SECONDS COMMAND...
  local name=$1 seconds=$2; shift 2
  for _ in $(seq "$seconds"); do
    "$@" >/dev/null 2>&1 && { echo "$name is up"; return 0; }
    sleep 1
  done
  echo "$name did not answer within ${seconds}s" >&2
  return 1
}

if ! mariadb -uroot -h127.0.0.1 -e 'SELECT 1' >/dev/null 2>&1; then
  echo "starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
fi
wait_for MariaDB 60 mariadb -uroot -h127.0.0.1 -e 'SELECT 1'
if [ "$(mariadb -uroot -h127.0.0.1 -N -e "SELECT CONVERT_TZ('2026-01-01 00:00:00','UTC','Asia/Shanghai') IS NULL")" = 1 ]; then
  echo "loading MariaDB time zone tables"
  mariadb-tzinfo-to-sql /usr/share/zoneinfo 2>/dev/null | mariadb -uroot -h127.0.0.1 mysql
fi

if ! rabbitmq-diagnostics -q ping >/dev/null 2>&1; then
  echo "starting RabbitMQ"
  rabbitmq-server -detached
fi
wait_for RabbitMQ 90 rabbitmq-diagnostics -q check_port_connectivity
