#!/usr/bin/env bash
# Start what the test suite needs and is not there yet: MariaDB on 127.0.0.1:3306, PostgreSQL on
# 127.0.0.1:5432 (user postgres, trust authentication), Redis on 127.0.0.1:6379 (the Celery broker),
# and chromium for the browser tests (installed with apt-get when missing).
# (moto's S3 server and the Spotify simulator are started by the test fixtures themselves.)
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! port_open 3306; then
  echo "MariaDB is not running on 127.0.0.1:3306: starting it"
  if [ -x /usr/sbin/mariadbd ]; then
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  else
    echo "error: /usr/sbin/mariadbd not found; install MariaDB or set TEST_MYSQL_HOST/TEST_MYSQL_PORT" >&2
    exit 1
  fi
  for _ in $(seq 1 60); do
    port_open 3306 && break
    sleep 0.5
  done
  port_open 3306 || { echo "error: MariaDB did not come up on 127.0.0.1:3306 within 30 s" >&2; exit 1; }
fi
echo "MariaDB: up on 127.0.0.1:3306"

if ! port_open 5432; then
  echo "PostgreSQL is not running on 127.0.0.1:5432: starting it"
  if command -v pg_ctlcluster >/dev/null; then
    cluster=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
    [ -n "$cluster" ] && pg_ctlcluster "$cluster" main start || true
  fi
  for _ in $(seq 1 60); do
    port_open 5432 && break
    sleep 0.5
  done
  port_open 5432 || { echo "error: PostgreSQL did not come up on 127.0.0.1:5432 (install it: user postgres, trust auth on 127.0.0.1)" >&2; exit 1; }
fi
echo "PostgreSQL: up on 127.0.0.1:5432"

if ! port_open 6379; then
  echo "Redis is not running on 127.0.0.1:6379: starting it"
  command -v redis-server >/dev/null || { echo "error: redis-server not found; install Redis" >&2; exit 1; }
  redis-server --bind 127.0.0.1 --port 6379 --daemonize yes >/dev/null
  for _ in $(seq 1 20); do
    port_open 6379 && break
    sleep 0.5
  done
  port_open 6379 || { echo "error: Redis did not come up on 127.0.0.1:6379" >&2; exit 1; }
fi
echo "Redis: up on 127.0.0.1:6379"

# The browser tests drive Debian's chromium (Playwright cannot download browsers here).
if [ ! -x /usr/bin/chromium ]; then
  echo "chromium is not installed: installing chromium and chromium-driver"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo missing)"
