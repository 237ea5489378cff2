#!/usr/bin/env bash
# redis_cluster.sh start|stop|status|env|kill-master [PORT]|pids: a local
# Redis Cluster of three masters and three replicas on 127.0.0.1, for the
# cluster integration tests and for running the pipeline against a cluster
# by hand (docs/DESIGN.md §9). scripts/services.sh calls it as
# start-redis-cluster / stop-redis-cluster, and `services.sh stop` stops it.
#
# Six redis-server processes (Debian's redis-server, 7.0) on ports
# HOKM_REDIS_CLUSTER_PORT (7000) .. +5, each with its cluster bus on
# port + 10000: `--cluster-enabled yes`, no persistence (as services.sh's
# single Redis: --save '', no AOF), a short --cluster-node-timeout
# (HOKM_REDIS_CLUSTER_NODE_TIMEOUT_MS, 1000) so that a replica takes over a
# killed master within seconds. `redis-cli --cluster create --cluster-replicas 1`
# joins them: the first three ports are the masters at creation.
#
#   .local/redis-cluster/<port>/   redis.pid, redis.log, nodes.conf
#
# start waits (polling, up to HOKM_SERVICES_TIMEOUT_S, 60) until every node
# says cluster_state:ok and every replica's master_link_status is up, then
# prints HOKM_REDIS_CLUSTER_URL=redis://127.0.0.1:P,127.0.0.1:P+1,127.0.0.1:P+2
# (a seed list: a cluster's URL, sidecar/url.h). It is idempotent: when the
# six already run and the cluster is ok it only prints the URL. A cluster
# half made (some nodes down, or never created) is stopped and made anew:
# it holds no data worth keeping.
#
# kill-master [PORT]: SIGKILLs the master serving slot 0 (or the master on
# PORT) and prints its port; the failover tests then wait for its replica
# to take over (status). pids: "port pid role" per running node.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOCAL="$ROOT/.local"
BASE=${HOKM_REDIS_CLUSTER_PORT:-7000}
NODE_TIMEOUT_MS=${HOKM_REDIS_CLUSTER_NODE_TIMEOUT_MS:-1000}
START_TIMEOUT_S=${HOKM_SERVICES_TIMEOUT_S:-60}
CLUSTER_DIR="$LOCAL/redis-cluster"
NODES=6
HOST=127.0.0.1

die() {
  echo "redis-cluster: $*" >&2
  exit 1
}

if ! [[ $BASE =~ ^[0-9]+$ ]] || ((BASE < 1 || BASE + NODES - 1 + 10000 > 65535)); then
  die "HOKM_REDIS_CLUSTER_PORT=$BASE: need a port whose +5 and cluster bus (+10000) fit in 65535"
fi

ports() { seq "$BASE" $((BASE + NODES - 1)); }
node_dir() { echo "$CLUSTER_DIR/$1"; }

# wait_until SECONDS WHAT CMD...: polls CMD every 0.1 s until it succeeds or
# the deadline passes (returns 1).
wait_until() {
  local seconds=$1 what=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      echo "redis-cluster: $what did not happen within ${seconds}s" >&2
      return 1
    fi
    sleep 0.1
  done
}

log_tails() {
  local port
  for port in $(ports); do
    if [[ -r "$(node_dir "$port")/redis.log" ]]; then
      echo "---- last lines of $(node_dir "$port")/redis.log ----" >&2
      tail -n 8 "$(node_dir "$port")/redis.log" >&2
    fi
  done
  echo "----" >&2
}

cli() {
  local port=$1
  shift
  redis-cli -h "$HOST" -p "$port" "$@"
}

cluster_url() {
  echo "redis://$HOST:$BASE,$HOST:$((BASE + 1)),$HOST:$((BASE + 2))"
}

# node_pid PORT: the pid of the node on PORT when it runs; fails otherwise.
node_pid() {
  local file
  file="$(node_dir "$1")/redis.pid"
  [[ -s "$file" ]] || return 1
  local pid
  pid=$(cat "$file")
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

node_answers() { [[ $(cli "$1" ping 2>/dev/null) == PONG ]]; }

# info_field PORT SECTION FIELD: FIELD's value in INFO SECTION (or CLUSTER INFO
# when SECTION is "cluster-info").
info_field() {
  local port=$1 section=$2 field=$3 text
  if [[ $section == cluster-info ]]; then
    text=$(cli "$port" cluster info 2>/dev/null) || return 1
  else
    text=$(cli "$port" info "$section" 2>/dev/null) || return 1
  fi
  printf '%s\n' "$text" | tr -d '\r' | sed -n "s/^$field://p"
}

all_running() {
  local port
  for port in $(ports); do node_pid "$port" >/dev/null && node_answers "$port" || return 1; done
}

# Every node: cluster_state ok, all 16384 slots assigned; every replica's
# link to its master up; three masters with a replica each.
cluster_ok() {
  local port role masters=0 replicas=0
  for port in $(ports); do
    [[ $(info_field "$port" cluster-info cluster_state) == ok ]] || return 1
    [[ $(info_field "$port" cluster-info cluster_slots_assigned) == 16384 ]] || return 1
    role=$(info_field "$port" replication role) || return 1
    if [[ $role == slave ]]; then
      [[ $(info_field "$port" replication master_link_status) == up ]] || return 1
      replicas=$((replicas + 1))
    else
      masters=$((masters + 1))
    fi
  done
  ((masters == 3 && replicas == 3))
}

node_start() {
  local port=$1 dir
  dir=$(node_dir "$port")
  mkdir -p "$dir"
  rm -f "$dir/redis.pid"
  if node_answers "$port"; then
    die "something else answers on $HOST:$port; stop it or set HOKM_REDIS_CLUSTER_PORT"
  fi
  # nodes.conf is the node's cluster identity: a fresh one, as the data
  # (none kept) is fresh too.
  rm -f "$dir/nodes.conf"
  redis-server --bind "$HOST" --port "$port" --protected-mode yes \
    --cluster-enabled yes --cluster-config-file nodes.conf \
    --cluster-node-timeout "$NODE_TIMEOUT_MS" \
    --save '' --appendonly no --daemonize yes \
    --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" ||
    { log_tails; die "redis-server on port $port failed to start"; }
}

node_stop() {
  local port=$1 pid
  pid=$(node_pid "$port") || return 0
  cli "$port" shutdown nosave >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
  wait_until 30 "redis cluster node $port (pid $pid) exiting" bash -c "! kill -0 $pid" ||
    die "redis cluster node $port (pid $pid) still running; kill it by hand"
  rm -f "$(node_dir "$port")/redis.pid"
}

cmd_stop() {
  local port any=0
  for port in $(ports); do
    if node_pid "$port" >/dev/null; then
      any=1
      node_stop "$port"
    fi
  done
  if ((any)); then
    echo "redis-cluster: stopped (ports $BASE..$((BASE + NODES - 1)))"
  else
    echo "redis-cluster: not running"
  fi
}

cmd_start() {
  command -v redis-server >/dev/null || die "no redis-server: scripts/setup.sh installs it"
  if all_running && cluster_ok; then
    echo "HOKM_REDIS_CLUSTER_URL=$(cluster_url)"
    return 0
  fi
  # Anything less than a whole, healthy cluster: start over.
  cmd_stop >/dev/null
  local port addrs=()
  for port in $(ports); do
    node_start "$port"
    addrs+=("$HOST:$port")
  done
  for port in $(ports); do
    wait_until "$START_TIMEOUT_S" "redis cluster node $HOST:$port answering PING" node_answers "$port" ||
      { log_tails; die "node $port did not come up"; }
  done
  local out
  out=$(redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes 2>&1) ||
    { echo "$out" >&2; log_tails; die "redis-cli --cluster create failed"; }
  wait_until "$START_TIMEOUT_S" "cluster_state:ok on every node with every replica in sync" cluster_ok ||
    { cmd_status >&2 || true; log_tails; die "the cluster did not become ok; see the logs above"; }
  echo "HOKM_REDIS_CLUSTER_URL=$(cluster_url)"
}

cmd_status() {
  local port pid rc=0 role state
  for port in $(ports); do
    if pid=$(node_pid "$port") && node_answers "$port"; then
      role=$(info_field "$port" replication role)
      [[ $role == slave ]] && role="replica (link $(info_field "$port" replication master_link_status))"
      state=$(info_field "$port" cluster-info cluster_state)
      echo "redis-cluster $HOST:$port: running (pid $pid), $role, cluster_state $state"
    else
      echo "redis-cluster $HOST:$port: not running"
      rc=3
    fi
  done
  if ((rc == 0)) && ! cluster_ok; then rc=4; fi
  return $rc
}

cmd_pids() {
  local port pid
  for port in $(ports); do
    if pid=$(node_pid "$port"); then
      echo "$port $pid $(info_field "$port" replication role)"
    fi
  done
}

# The port of the master serving slot 0, from the first node that answers
# (CLUSTER NODES: "id host:port@bus flags master ping pong epoch link slots...").
slot0_master_port() {
  local port found
  for port in $(ports); do
    found=$(cli "$port" cluster nodes 2>/dev/null | awk '
      $3 ~ /master/ && $3 !~ /fail/ {
        for (i = 9; i <= NF; ++i) {
          split($i, r, "-")
          if (r[1] == "0") { split($2, a, "[:@]"); print a[2] }
        }
      }') || continue
    [[ -n $found ]] && { echo "$found"; return 0; }
  done
  return 1
}

cmd_kill_master() {
  local port=${1:-} pid
  if [[ -z $port ]]; then
    port=$(slot0_master_port) || die "no node answers: is the cluster running?"
  fi
  [[ $(info_field "$port" replication role) == master ]] || die "$HOST:$port is not a master"
  pid=$(node_pid "$port") || die "no running node on port $port"
  kill -KILL "$pid"
  wait_until 10 "the master on $port (pid $pid) dying" bash -c "! kill -0 $pid" ||
    die "the master on $port (pid $pid) survived SIGKILL"
  rm -f "$(node_dir "$port")/redis.pid"
  echo "$port"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env)
    all_running || die "not running: run '$0 start' first"
    echo "export HOKM_REDIS_CLUSTER_URL=$(cluster_url)"
    ;;
  pids) cmd_pids ;;
  kill-master) cmd_kill_master "${2:-}" ;;
  *)
    echo "usage: $0 start|stop|status|env|pids|kill-master [PORT]" >&2
    exit 2
    ;;
esac
