#!/usr/bin/env bash
# docker_test.sh: `make docker-test`. Builds the images of docker/ with Podman,
# brings the stack of docker/compose.yaml up for real (docker-compose v1
# against `podman system service`; without the grafana profile), runs a short
# bounded hokm-loadgen --verify against the engine in it, checks through
# Prometheus's HTTP API that both targets are up and hokm_ series have values,
# runs the engine's and the sidecar's healthchecks, checks the Grafana
# dashboard against the live /metrics (scripts/docker_check.py), and tears
# everything down, also on failure. Each step says how long it took.
#
# What it needs and does first, idempotently:
#  - Debian packages podman runc debootstrap docker-compose netavark
#    aardvark-dns catatonit (apt-get when missing);
#  - Podman's settings from docker/containers.conf (CONTAINERS_CONF: runc,
#    ulimits this machine accepts, netavark), nothing under /etc;
#  - the base image debian:bookworm, when missing: no registry here, so
#    debootstrap --variant=minbase bookworm from the mirror apt uses,
#    imported under that name (with policy-rc.d and the updates and security
#    suites, as the official image has them).
#
# Settings (environment): HOKM_DOCKER_PROJECT (compose project, default
# hokm-docker-test), the host ports HOKM_{REDIS,PG,ENGINE_METRICS,
# SIDECAR_METRICS,PROMETHEUS,GRAFANA}_HOST_PORT (default 6414 5464 9474 9475
# 9490 3010, on 127.0.0.1), HOKM_DOCKER_SRC (the tree the hokm image is built
# from, default this repository), HOKM_DOCKER_KEEP=1 (leave the stack up:
# tear it down with `scripts/docker_test.sh down`), HOKM_DEBIAN_MIRROR.
# The PostgreSQL password is random per run, kept in the environment only,
# never printed.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SRC=${HOKM_DOCKER_SRC:-$ROOT}
export CONTAINERS_CONF="$ROOT/docker/containers.conf"
export COMPOSE_PROJECT_NAME=${HOKM_DOCKER_PROJECT:-hokm-docker-test}
export HOKM_REDIS_HOST_PORT=${HOKM_REDIS_HOST_PORT:-6414}
export HOKM_PG_HOST_PORT=${HOKM_PG_HOST_PORT:-5464}
export HOKM_ENGINE_METRICS_HOST_PORT=${HOKM_ENGINE_METRICS_HOST_PORT:-9474}
export HOKM_SIDECAR_METRICS_HOST_PORT=${HOKM_SIDECAR_METRICS_HOST_PORT:-9475}
export HOKM_PROMETHEUS_HOST_PORT=${HOKM_PROMETHEUS_HOST_PORT:-9490}
export HOKM_GRAFANA_HOST_PORT=${HOKM_GRAFANA_HOST_PORT:-3010}
# A small engine: the test plays 200 games.
export HOKM_ENGINE_CAPACITY=${HOKM_ENGINE_CAPACITY:-10000}
export HOKM_ENGINE_RING_MB=${HOKM_ENGINE_RING_MB:-16}
BASE_IMAGE=docker.io/library/debian:bookworm
RUN_DIR=/run/hokm-docker-test/$COMPOSE_PROJECT_NAME
SOCK=$RUN_DIR/podman.sock
export DOCKER_HOST=unix://$SOCK
COMPOSE=(docker-compose -f "$ROOT/docker/compose.yaml")
TIMEOUT_S=${HOKM_DOCKER_TIMEOUT_S:-120}

mkdir -p "$RUN_DIR"
# Random per run; exported for compose only (its file requires it), never printed.
HOKM_PG_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
export HOKM_PG_PASSWORD
HOKM_PG_WRITER_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
export HOKM_PG_WRITER_PASSWORD

T0=$(date +%s)
step_start=$T0
step() {
  local now
  now=$(date +%s)
  echo "docker-test: [$((now - T0)) s] $*" >&2
  step_start=$now
}
die() {
  echo "docker-test: FAILED: $*" >&2
  exit 1
}

install_packages() {
  local packages=(podman runc debootstrap docker-compose netavark aardvark-dns catatonit) missing=() p
  for p in "${packages[@]}"; do
    [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  step "installing ${missing[*]}"
  local sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# The mirror apt already uses (deb822 .sources or sources.list), else Debian's.
debian_mirror() {
  if [[ -n "${HOKM_DEBIAN_MIRROR:-}" ]]; then
    echo "$HOKM_DEBIAN_MIRROR"
    return
  fi
  local m
  m=$(grep -hsE '^URIs:.*/debian/?$' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | head -n1)
  [[ -n "$m" ]] || m=$(grep -hsE '^deb .*/debian/? bookworm' /etc/apt/sources.list | awk '{print $2}' | head -n1)
  echo "${m:-http://deb.debian.org/debian}"
}

base_image() {
  podman image exists "$BASE_IMAGE" && return 0
  local mirror work
  mirror=$(debian_mirror)
  work=$(mktemp -d /var/tmp/hokm-debootstrap.XXXXXX)
  step "no $BASE_IMAGE: debootstrap --variant=minbase bookworm from $mirror"
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed (log: $work/debootstrap.log)"; }
  # As in the official image: packages' services never start in a build;
  # updates and security suites beside the release.
  printf '#!/bin/sh\nexit 101\n' >"$work/rootfs/usr/sbin/policy-rc.d"
  chmod 0755 "$work/rootfs/usr/sbin/policy-rc.d"
  local security=${mirror%/debian}/debian-security
  [[ "$mirror" == */debian ]] || security=http://deb.debian.org/debian-security
  cat >"$work/rootfs/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
EOF
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
  tar -C "$work/rootfs" --numeric-owner -c . |
    podman import --change 'CMD ["/bin/bash"]' \
      --change 'LABEL org.opencontainers.image.description=debootstrap --variant=minbase bookworm' \
      - "$BASE_IMAGE" >/dev/null
  rm -rf "$work"
}

start_service() {
  mkdir -p "$RUN_DIR"
  if [[ -S "$SOCK" ]] && podman --url "$DOCKER_HOST" info >/dev/null 2>&1; then return 0; fi
  rm -f "$SOCK"
  podman system service --time=0 "$DOCKER_HOST" >"$RUN_DIR/service.log" 2>&1 &
  echo $! >"$RUN_DIR/service.pid"
  local deadline=$((SECONDS + 30))
  until python3 "$ROOT/scripts/docker_check.py" ping-socket "$SOCK" 2>/dev/null; do
    ((SECONDS < deadline)) || die "podman system service did not answer on $SOCK (log: $RUN_DIR/service.log)"
    sleep 0.2
  done
}

stop_service() {
  if [[ -s "$RUN_DIR/service.pid" ]]; then
    kill "$(cat "$RUN_DIR/service.pid")" 2>/dev/null || true
    rm -f "$RUN_DIR/service.pid" "$SOCK"
  fi
}

commit_of() {
  local c
  if c=$(git -C "$SRC" rev-parse --short=12 HEAD 2>/dev/null); then
    git -C "$SRC" diff --quiet HEAD -- 2>/dev/null || c+=-dirty
    echo "$c"
  else
    echo "${HOKM_COMMIT:-unknown}"
  fi
}

# Each build's output goes to $RUN_DIR/build-NAME.log (its tail on failure).
build_one() {
  local name=$1 log=$RUN_DIR/build-$1.log
  shift
  step "building $name"
  podman build --pull=never "$@" >"$log" 2>&1 ||
    { tail -n 40 "$log" >&2; die "podman build of $name failed (log: $log)"; }
}

build_images() {
  export HOKM_COMMIT=${HOKM_COMMIT:-$(commit_of)}
  build_one hokm:latest -f "$ROOT/docker/Dockerfile" --build-arg HOKM_COMMIT="$HOKM_COMMIT" \
    -t hokm:latest "$SRC"
  grep -E '^ *(Hits|Misses):|cache (hit|miss)' "$RUN_DIR/build-hokm:latest.log" | sed 's/^ */  ccache: /' >&2 || true
  local s
  for s in redis postgres prometheus; do
    build_one "hokm-$s:latest" -f "$ROOT/docker/$s/Dockerfile" -t "hokm-$s:latest" "$ROOT/docker"
  done
}

down() {
  local status=$?
  trap - EXIT INT TERM
  if [[ "${HOKM_DOCKER_KEEP:-0}" == 1 && $status == 0 && "${1:-}" != force ]]; then
    echo "docker-test: stack left up (project $COMPOSE_PROJECT_NAME); scripts/docker_test.sh down" >&2
    exit "$status"
  fi
  if [[ $status != 0 ]]; then
    echo "docker-test: ---- last log lines of each service ----" >&2
    "${COMPOSE[@]}" logs --no-color --tail=20 >&2 2>&1 || true
  fi
  step "tearing down"
  # A first `down` can fail to remove `shm` while the containers that joined
  # its namespaces are still going away, and then leaves the volumes (a new
  # run would meet the old cluster and its old password): until nothing of
  # the project is left, three times at most.
  local attempt left=""
  for attempt in 1 2 3; do
    "${COMPOSE[@]}" --profile loadgen down --volumes --remove-orphans --timeout 10 \
      >"$RUN_DIR/down.log" 2>&1 || true
    left=$(podman ps -a -q --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME"
      podman volume ls -q --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME")
    [[ -z "$left" ]] && break
  done
  if [[ -n "$left" ]]; then
    echo "docker-test: teardown left containers or volumes of $COMPOSE_PROJECT_NAME:" $left >&2
    status=1
  fi
  stop_service
  echo "docker-test: $([[ $status == 0 ]] && echo ok || echo FAILED) in $(($(date +%s) - T0)) s" >&2
  exit "$status"
}

if [[ "${1:-}" == down ]]; then
  trap 'down force' EXIT
  start_service
  exit 0
fi

install_packages
step "base image"
base_image
build_images
start_service
trap down EXIT
trap 'exit 130' INT TERM

step "compose up (redis postgres migrate shm engine sidecar prometheus)"
"${COMPOSE[@]}" up -d --no-build 2>&1 | sed 's/^/  /' >&2

CHECK=(python3 "$ROOT/scripts/docker_check.py")
ENGINE_METRICS=http://127.0.0.1:$HOKM_ENGINE_METRICS_HOST_PORT/metrics
SIDECAR_METRICS=http://127.0.0.1:$HOKM_SIDECAR_METRICS_HOST_PORT/metrics
PROMETHEUS=http://127.0.0.1:$HOKM_PROMETHEUS_HOST_PORT

step "waiting for the engine's and the sidecar's /health through the published ports"
"${CHECK[@]}" wait-http --timeout "$TIMEOUT_S" \
  "http://127.0.0.1:$HOKM_ENGINE_METRICS_HOST_PORT/health" \
  "http://127.0.0.1:$HOKM_SIDECAR_METRICS_HOST_PORT/health"

step "the images' healthchecks (podman healthcheck run)"
for s in engine sidecar prometheus redis postgres; do
  id=$("${COMPOSE[@]}" ps -q "$s")
  deadline=$((SECONDS + TIMEOUT_S))
  until podman healthcheck run "$id" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "the healthcheck of $s does not pass"
    sleep 1
  done
  echo "  $s: healthy" >&2
done

step "hokm-loadgen --mode shm --verify in the stack (docker-compose run loadgen)"
"${COMPOSE[@]}" --profile loadgen run --rm --no-deps loadgen >"$RUN_DIR/loadgen.out" 2>&1 ||
  { cat "$RUN_DIR/loadgen.out" >&2; die "hokm-loadgen failed"; }
sed 's/^/  /' "$RUN_DIR/loadgen.out" >&2
grep -q '^ *verify *ok' "$RUN_DIR/loadgen.out" || die "hokm-loadgen did not report verify ok"

step "least privilege: the sidecar writes as hokm_writer, which may not run DDL"
pg_id=$("${COMPOSE[@]}" ps -q postgres)
pg_super() { podman exec -u postgres "$pg_id" psql -X -qAt -d hokm -c "$1"; }
writers=$(pg_super "SELECT count(*) FROM pg_stat_activity WHERE usename = 'hokm_writer'")
((writers > 0)) || die "no connection of hokm_writer: the sidecar does not run as the writer"
owners=$(pg_super "SELECT count(*) FROM pg_stat_activity WHERE usename = 'hokm' AND application_name NOT LIKE 'psql%'")
echo "  hokm_writer connections: $writers; hokm (owner) connections: $owners" >&2
[[ $(pg_super "SELECT has_database_privilege('hokm_writer', 'hokm', 'CREATE')") == f ]] ||
  die "hokm_writer may CREATE in the database"
[[ $(pg_super "SELECT has_table_privilege('hokm_writer', 'game_commands', 'INSERT')") == t ]] ||
  die "hokm_writer may not INSERT into game_commands: the migration's grants did not run"

step "Prometheus: both targets up, hokm_ series with values"
"${CHECK[@]}" prometheus --timeout "$TIMEOUT_S" "$PROMETHEUS" "$ROOT/docker/prometheus.yml"

step "Grafana dashboard: JSON, every panel's metrics in the live /metrics"
"${CHECK[@]}" dashboard "$ROOT/docker/grafana/dashboards/hokm.json" "$ENGINE_METRICS" "$SIDECAR_METRICS"

step "all checks passed"
