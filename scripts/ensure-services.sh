#!/usr/bin/env bash
# Start what the test suite needs and is not there yet: MariaDB on 127.0.0.1:3306, and chromium
# for the browser tests (installed with apt-get when missing).
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

# The browser tests drive Debian's chromium (Playwright cannot download browsers here).
if [ ! -x /usr/bin/chromium ]; then
  echo "chromium is not installed: installing chromium and chromium-driver"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo missing)"
