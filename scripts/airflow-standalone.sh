#!/usr/bin/env bash
# `make airflow`: Airflow 3 standalone on 127.0.0.1 with this project's DAGs, driven by the bundled
# Spotify simulator. No Spotify account, no network beyond loopback.
#
#   1. starts `spotify-pipeline simulator serve` on a free loopback port (stopped again on exit);
#   2. logs a simulated listener in with the real `spotify-pipeline auth login` (PKCE): a scripted
#      "browser" follows the authorize redirect that the simulator approves, the CLI's callback
#      server receives the code and writes the 0600 token file the tasks share;
#   3. defines the connections as AIRFLOW_CONN_* env vars pointing at the simulator, a local raw
#      zone and a SQLite warehouse under .airflow/spotify-pipeline/;
#   4. runs what `airflow standalone` runs (api-server, scheduler, dag-processor, triggerer) as four
#      processes in one process group, sized for a 2-core machine, every socket on 127.0.0.1, and
#      prints where to log in. Not `airflow standalone` itself: Airflow 3 has no setting for the
#      address of the log servers the scheduler and the triggerer start (they bind every interface,
#      ports 8793 and 8794), and standalone cannot skip them. On one host the API server reads the
#      task logs from the local folder, so the components run with --skip-serve-logs instead.
#
# Environment knobs: AIRFLOW_PORT (8080), SIM_USER (me), SIM_PROFILE (typical), VENV (.venv).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${VENV:-$ROOT/.venv}/bin"
PORT="${AIRFLOW_PORT:-8080}"
SIM_USER="${SIM_USER:-me}"
SIM_PROFILE="${SIM_PROFILE:-typical}"

for exe in airflow spotify-pipeline python; do
  [[ -x "$BIN/$exe" ]] || { echo "error: $BIN/$exe not found: run \`make install-dev\` first" >&2; exit 1; }
done
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  echo "error: 127.0.0.1:$PORT is already in use; stop that process or set AIRFLOW_PORT" >&2
  exit 1
fi

export PATH="$BIN:$PATH"
export AIRFLOW_HOME="$ROOT/.airflow"
STATE="$AIRFLOW_HOME/spotify-pipeline"
mkdir -p "$STATE"
chmod 700 "$STATE"

# --- 1. the simulator -------------------------------------------------------------------------
SIM_OUT="$STATE/simulator.json"
SIM_LOG="$STATE/simulator.log"
: >"$SIM_OUT"
spotify-pipeline simulator serve --port 0 --user "$SIM_USER" --profile "$SIM_PROFILE" >"$SIM_OUT" 2>"$SIM_LOG" &
SIM_PID=$!

AIRFLOW_PID=""
cleanup() {
  # Airflow runs in its own process group (setsid): stop the whole group (api-server, scheduler,
  # dag-processor, triggerer and the task processes they forked), then the simulator.
  # The group, not its leader: the leader may be gone while a component still runs.
  if [[ -n "$AIRFLOW_PID" ]] && kill -0 -- "-$AIRFLOW_PID" 2>/dev/null; then
    kill -TERM -- "-$AIRFLOW_PID" 2>/dev/null || true
    for _ in $(seq 1 40); do
      kill -0 -- "-$AIRFLOW_PID" 2>/dev/null || break
      sleep 0.5
    done
    kill -KILL -- "-$AIRFLOW_PID" 2>/dev/null || true
    echo "stopped Airflow (process group $AIRFLOW_PID)"
  fi
  if kill -0 "$SIM_PID" 2>/dev/null; then
    kill "$SIM_PID" 2>/dev/null || true
    wait "$SIM_PID" 2>/dev/null || true
    echo "stopped the simulator (pid $SIM_PID)"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM  # run the EXIT trap on Ctrl-C / kill as well

for _ in $(seq 1 150); do
  [[ -s "$SIM_OUT" ]] && break
  kill -0 "$SIM_PID" 2>/dev/null || { echo "error: the simulator exited; see $SIM_LOG" >&2; cat "$SIM_LOG" >&2; exit 1; }
  sleep 0.2
done
[[ -s "$SIM_OUT" ]] || { echo "error: the simulator printed nothing within 30 s; see $SIM_LOG" >&2; exit 1; }

# The first line is one JSON object: accounts_url, api_url, client_id, client_secret, redirect_uri.
eval "$(python - "$SIM_OUT" <<'PY'
import json, shlex, sys
info = json.loads(open(sys.argv[1], encoding="utf-8").readline())
for key in ("accounts_url", "api_url", "client_id", "redirect_uri"):
    print(f"SIM_{key.upper()}={shlex.quote(info[key])}")
PY
)"
echo "simulator: $SIM_API_URL (pid $SIM_PID, log $SIM_LOG)"

# --- 2. log the listener in, exactly as a person would with the CLI ----------------------------
TOKEN_FILE="$STATE/tokens.json"
# The "browser": fetch the authorize URL and follow its redirect to the CLI's callback server.
ROBOT_BROWSER="$BIN/python -c 'import sys, httpx; httpx.get(sys.argv[1], follow_redirects=True, timeout=30)' %s"
(
  # In the state folder, so a developer's own .env / spotify-pipeline.toml cannot interfere.
  cd "$STATE"
  env -u SPOTIFY_PIPELINE_CLIENT_SECRET -u SPOTIFY_PIPELINE_CONFIG_FILE \
    SPOTIFY_PIPELINE_CLIENT_ID="$SIM_CLIENT_ID" \
    SPOTIFY_PIPELINE_ACCOUNTS_URL="$SIM_ACCOUNTS_URL" \
    SPOTIFY_PIPELINE_API_URL="$SIM_API_URL" \
    SPOTIFY_PIPELINE_REDIRECT_URI="$SIM_REDIRECT_URI" \
    SPOTIFY_PIPELINE_TOKEN_FILE="$TOKEN_FILE" \
    BROWSER="$ROBOT_BROWSER" \
    spotify-pipeline auth login
)

# --- 3. connections: what a deployment defines in its secrets backend ---------------------------
eval "$(python - <<PY
import json, shlex
spotify = {
    "conn_type": "generic",
    "login": "$SIM_CLIENT_ID",
    "password": "",  # PKCE: a self-hosted app needs no secret
    "extra": {
        "accounts_url": "$SIM_ACCOUNTS_URL",
        "api_url": "$SIM_API_URL",
        "redirect_uri": "$SIM_REDIRECT_URI",
        "user": "$SIM_USER",
        "token_file": "$TOKEN_FILE",
        "raw_zone": "$STATE/raw",
    },
}
warehouse = {"conn_type": "sqlite", "host": "$STATE/warehouse.db"}
print("export AIRFLOW_CONN_SPOTIFY_DEFAULT=" + shlex.quote(json.dumps(spotify)))
print("export AIRFLOW_CONN_SPOTIFY_WAREHOUSE=" + shlex.quote(json.dumps(warehouse)))
PY
)"

# --- 4. Airflow, sized for 2 cores ----------------------------------------------------------------
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
# Paused until the API server answers: tasks report to it, so earlier runs would fail their first try.
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=True
export AIRFLOW__CORE__PARALLELISM=4
export AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG=2
export AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES=1
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT="$PORT"
export AIRFLOW__API__WORKERS=1
export AIRFLOW__API__BASE_URL="http://127.0.0.1:$PORT"
# Tasks report to the API server; "localhost" may resolve to ::1, where nothing listens.
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$PORT/execution/"
# Load each landed object minutes after the fetch instead of at 06:00 (see docs/airflow.md).
export AIRFLOW__SPOTIFY_PIPELINE__PROCESS_ON_LANDING=true

PASSWORDS="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
cat <<EOF

  Airflow UI:  http://127.0.0.1:$PORT   (user: admin)
  Password:    in $PASSWORDS
               (written by the API server on its first start)
  DAGs:        $ROOT/dags  (unpaused once the API server answers; trigger spotify_bihourly_download)
  Data:        raw zone $STATE/raw, warehouse $STATE/warehouse.db
  Stop:        Ctrl-C (stops Airflow and the simulator)

EOF
# The deploy step: create and migrate the warehouse once, before any task runs (tasks never migrate).
(
  cd "$STATE"
  env -u SPOTIFY_PIPELINE_CONFIG_FILE SPOTIFY_PIPELINE_WAREHOUSE_URL="sqlite:///$STATE/warehouse.db" \
    SPOTIFY_PIPELINE_RAW_ZONE="$STATE/raw" spotify-pipeline init >/dev/null
)
airflow db migrate >/dev/null

# The four components of `airflow standalone`, in one process group; no log server (see the top).
setsid bash -c '
  declare -A name
  airflow api-server --host 127.0.0.1 --port "$AIRFLOW__API__PORT" & name[$!]=api-server
  airflow scheduler --skip-serve-logs & name[$!]=scheduler
  airflow dag-processor & name[$!]=dag-processor
  airflow triggerer --skip-serve-logs & name[$!]=triggerer
  wait -n -p gone
  echo "error: airflow ${name[$gone]:-?} exited; stopping the other components" >&2
  kill -TERM 0
' &
AIRFLOW_PID=$!

# Wait for the API server's health endpoint, then create the Spotify app's pool and unpause.
healthy=""
for _ in $(seq 1 360); do
  kill -0 "$AIRFLOW_PID" 2>/dev/null || { echo "error: an Airflow component exited" >&2; exit 1; }
  if python -c "import httpx,sys; sys.exit(httpx.get('http://127.0.0.1:$PORT/api/v2/monitor/health', timeout=2).status_code != 200)" 2>/dev/null; then
    healthy=1
    break
  fi
  sleep 0.5
done
[[ -n "$healthy" ]] || { echo "error: the API server did not answer on 127.0.0.1:$PORT within 3 minutes" >&2; exit 1; }
airflow pools set spotify_api 2 "concurrent calls of one Spotify app (its rate limit)" >/dev/null
for dag in spotify_bihourly_download spotify_daily_download spotify_daily_data_pipeline; do
  for _ in $(seq 1 120); do  # until the DAG processor has registered it
    airflow dags unpause "$dag" >/dev/null 2>&1 && break
    sleep 1
  done
done
echo "Airflow is up and the DAGs are unpaused; Ctrl-C stops everything"
wait "$AIRFLOW_PID"
