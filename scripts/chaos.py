#!/usr/bin/env python3
"""chaos.py: the fault matrix of docs/DESIGN.md §6 as a suite (`make chaos`; the
short version, `make chaos-smoke` or CHAOS_SHORT=1, runs in `make test`).

Each fault is one phase on a fresh segment: hokm-engine and hokm-sidecar
start, hokm-loadgen --mode shm --verify plays under an open-loop rate, the
fault is injected mid-run, the load goes on for a while after it, then
loadgen is stopped (SIGTERM: it abandons the games still running, waits for
the sidecar to drain and checks every game it played against PostgreSQL,
exactly once, and Redis, the engine's final state). One line per fault.

Faults: the sidecar SIGKILLed N times at random moments (restarted each
time); the engine SIGKILLed and restarted on the same segment (loadgen keeps
playing through it); Redis SIGSTOPped then SIGCONTed; Redis shut down with
SHUTDOWN SAVE and restarted on its RDB file; Redis restarted empty;
PostgreSQL stopped, then started. The stores are the project-local servers
of scripts/services.sh (run through scripts/with_services.sh), since the
suite stops and restarts them.

Environment: HOKM_BIN (build/bin), CHAOS_SHORT=1, CHAOS_SEED (the random
kill times; printed), CHAOS_FAULTS (a comma list of phase names to run,
default all), CHAOS_RATE (card plays/s), CHAOS_GAMES (concurrent games),
HOKM_CHAOS_ENGINE_METRICS_PORT / HOKM_CHAOS_SIDECAR_METRICS_PORT (9474 /
9475), HOKM_REDIS_PORT / HOKM_PG_PORT (as services.sh). Logs: .local/chaos/.
Exits 1 when any phase fails, naming its logs.
"""

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("HOKM_BIN", os.path.join(ROOT, "build", "bin"))
SERVICES = os.path.join(ROOT, "scripts", "services.sh")
LOGS = os.path.join(ROOT, ".local", "chaos")
REDIS_DIR = os.path.join(ROOT, ".local", "redis")
REDIS_PORT = os.environ.get("HOKM_REDIS_PORT", "6390")
ENGINE_PORT = int(os.environ.get("HOKM_CHAOS_ENGINE_METRICS_PORT", "9474"))
SIDECAR_PORT = int(os.environ.get("HOKM_CHAOS_SIDECAR_METRICS_PORT", "9475"))
SHORT = os.environ.get("CHAOS_SHORT", "") not in ("", "0")

# How long each phase plays before and after its fault, and the faults'
# sizes: the full matrix of issue 12, and a short one for `make test`.
if SHORT:
    CFG = dict(warmup_s=2, tail_s=3, sidecar_kills=3, engine_kills=2, redis_pause_s=5,
               redis_down_s=2, pg_down_s=5, gap_s=(0.3, 1.0), games=200, rate=10000)
else:
    CFG = dict(warmup_s=5, tail_s=10, sidecar_kills=20, engine_kills=5, redis_pause_s=30,
               redis_down_s=5, pg_down_s=60, gap_s=(0.5, 2.5), games=1000, rate=15000)
CFG["games"] = int(os.environ.get("CHAOS_GAMES", CFG["games"]))
CFG["rate"] = int(os.environ.get("CHAOS_RATE", CFG["rate"]))
# A store or process must be back (answering) within this long.
START_TIMEOUT_S = 60
# Loadgen waits this long for the sidecar to drain before it verifies.
VERIFY_TIMEOUT_S = 300

children = []  # every process this script started, for cleanup
# What a fault left broken, for cleanup should the script be stopped
# mid-fault: "redis-stopped" (a pid: SIGSTOPped), "redis", "postgres".
broken = {}


def log(msg):
    print("chaos: " + msg, file=sys.stderr, flush=True)


class PhaseError(Exception):
    """A fault could not be injected or a process misbehaved: the phase fails."""


def wait_for(what, cond, timeout_s, interval_s=0.05):
    """Polls cond() until it is true; PhaseError after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        if cond():
            return
        if time.monotonic() > deadline:
            raise PhaseError(f"{what} did not happen within {timeout_s} s")
        time.sleep(interval_s)


def spawn(args, log_path):
    out = open(log_path, "ab")
    p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    out.close()
    p.log_path = log_path
    children.append(p)
    return p


def reap(p, timeout_s):
    try:
        return p.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise PhaseError(f"{os.path.basename(p.args[0])} (pid {p.pid}) did not exit within {timeout_s} s; "
                         f"see {p.log_path}")


def cleanup():
    for p in children:
        if p.poll() is None:
            p.kill()
            p.wait()
    if "redis-stopped" in broken:
        os.kill(broken["redis-stopped"], signal.SIGCONT)
    for store in ("redis", "postgres"):
        if store in broken:
            log(f"starting {store} again (scripts/services.sh start-{store})")
            subprocess.run([SERVICES, f"start-{store}"], stdout=subprocess.DEVNULL)


def http_get(url, timeout_s=1.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as r:
            return r.read().decode()
    except urllib.error.HTTPError as e:
        # /health answers 503 with its JSON while a store is down: still an answer.
        return e.read().decode() if e.code == 503 else None
    except OSError:
        return None


def sidecar_health():
    body = http_get(f"http://127.0.0.1:{SIDECAR_PORT}/health")
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def services(*args):
    r = subprocess.run([SERVICES, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise PhaseError(f"scripts/services.sh {' '.join(args)} failed: {r.stderr.strip()}")


def redis_cli(*args):
    r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", REDIS_PORT, *args], capture_output=True,
                       text=True, timeout=10)
    return r.stdout.strip() if r.returncode == 0 else None


class Resp:
    """A minimal pipelining Redis client (RESP2) for the checks below."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", int(port)), timeout=30)
        self.f = self.sock.makefile("rb")

    def close(self):
        self.f.close()
        self.sock.close()

    def pipeline(self, commands):
        out = bytearray()
        for c in commands:
            out += b"*%d\r\n" % len(c)
            for a in c:
                a = a.encode() if isinstance(a, str) else a
                out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return [self.reply() for _ in commands]

    def reply(self):
        line = self.f.readline()
        kind, rest = line[:1], line[1:-2]
        if kind in (b"+", b"-"):
            return rest.decode()
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2].decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise PhaseError(f"redis: unexpected reply {line!r}")


def entry_fields(entry):
    """{field: value} of one stream entry [id, [f1, v1, ...]]."""
    kv = entry[1]
    return dict(zip(kv[0::2], kv[1::2]))


def check_redis_games(path):
    """What loadgen's verify does not look at, over the games it saved:
    (1) games whose last state lacks what their GameCreated set (room
    "loadgen", target 7): a state rebuilt from part of its events;
    (2) streams that do not start at seq 1 (events lost from the head).
    Returns (games, incomplete states, streams without their head)."""
    with open(path) as f:
        ids = [line.split()[0] for line in f.readlines()[1:] if line.strip()]
    r = Resp(REDIS_PORT)
    incomplete = headless = 0
    try:
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            cmds = []
            for g in chunk:
                cmds.append(["XREVRANGE", f"hokm:g:{{{g}}}", "+", "-", "COUNT", "1"])
                cmds.append(["XRANGE", f"hokm:g:{{{g}}}", "-", "+", "COUNT", "1"])
            replies = r.pipeline(cmds)
            for last, first in zip(replies[0::2], replies[1::2]):
                if not last or not first:
                    incomplete += 1
                    headless += 1
                    continue
                state = json.loads(entry_fields(last[0]).get("state", "{}"))
                if state.get("room") != "loadgen" or state.get("target") != 7:
                    incomplete += 1
                events = json.loads(entry_fields(first[0]).get("events", "[]"))
                if not events or min(e.get("seq", 0) for e in events) != 1:
                    headless += 1
    finally:
        r.close()
    return len(ids), incomplete, headless


def redis_pid():
    with open(os.path.join(REDIS_DIR, "redis.pid")) as f:
        return int(f.read().strip())


def pid_gone(pid):
    try:
        os.kill(pid, 0)
        return False
    except ProcessLookupError:
        return True


class Phase:
    """One fault under load: engine, sidecar and loadgen on a segment of its own."""

    def __init__(self, name):
        self.name = name
        self.dir = os.path.join(LOGS, name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.shm = f"hokm-chaos-{os.getpid()}-{name}"
        self.engine = self.sidecar = self.loadgen = None
        self.engines = self.sidecars = 0
        self.count = 0
        self.downtimes = []
        self.recovery_s = None
        self.notes = []
        self.after = []  # called with the phase once loadgen has exited
        self.json_path = os.path.join(self.dir, "loadgen.json")
        self.games_path = os.path.join(self.dir, "games.txt")

    # ---- processes ------------------------------------------------------

    def start_engine(self, fresh):
        path = os.path.join(self.dir, f"engine-{self.engines}.log")
        self.engines += 1
        args = [os.path.join(BIN, "hokm-engine"), "--shm-name", self.shm, "--metrics-port", str(ENGINE_PORT)]
        self.engine = spawn(args + (["--fresh"] if fresh else []), path)

        def serving():
            if self.engine.poll() is not None:
                raise PhaseError(f"hokm-engine exited with {self.engine.returncode}; see {path}")
            with open(path, errors="replace") as f:
                return "hokm-engine: serving" in f.read()
        wait_for(f"hokm-engine serving (log {path})", serving, START_TIMEOUT_S, 0.01)

    def start_sidecar(self):
        path = os.path.join(self.dir, f"sidecar-{self.sidecars}.log")
        self.sidecars += 1
        self.sidecar = spawn([os.path.join(BIN, "hokm-sidecar"), "--shm-name", self.shm, "--spill-dir",
                              os.path.join(self.dir, "spill"), "--metrics-port", str(SIDECAR_PORT)], path)

        def answers():
            if self.sidecar.poll() is not None:
                raise PhaseError(f"hokm-sidecar exited with {self.sidecar.returncode}; see {path}")
            return sidecar_health() is not None
        wait_for(f"hokm-sidecar answering /health (log {path})", answers, START_TIMEOUT_S, 0.01)

    def start_loadgen(self):
        path = os.path.join(self.dir, "loadgen.log")
        # --duration only bounds the run: the script stops it with SIGTERM.
        self.loadgen = spawn([os.path.join(BIN, "hokm-loadgen"), "--mode", "shm", "--shm-name", self.shm,
                              "--games", str(CFG["games"]), "--rate", str(CFG["rate"]), "--ramp-s", "1",
                              "--duration", "900", "--bots", "greedy", "--quiet", "--verify",
                              "--verify-timeout-s", str(VERIFY_TIMEOUT_S), "--wait-for-sidecar", "30",
                              "--sidecar-metrics", f"http://127.0.0.1:{SIDECAR_PORT}/metrics",
                              "--json", self.json_path, "--save-games", self.games_path], path)

    def check_loadgen(self):
        if self.loadgen.poll() is not None:
            raise PhaseError(f"hokm-loadgen exited with {self.loadgen.returncode} during the fault; "
                             f"see {self.loadgen.log_path}")

    def play(self, seconds):
        """Lets the load run for `seconds` (a duration, not a wait for a state)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.check_loadgen()
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))

    def await_recovery(self, since, budget_s):
        """The time from `since` until the sidecar says both stores are
        current: status ok (nothing spilled) and no more records pending
        than about 100 ms of load. Polls for at most budget_s; None if not reached."""
        deadline = time.monotonic() + budget_s
        threshold = max(1000, CFG["rate"] // 10)
        while time.monotonic() < deadline:
            h = sidecar_health()
            if h and h.get("status") == "ok" and h.get("pending_records", threshold + 1) <= threshold:
                self.recovery_s = time.monotonic() - since
                return
            time.sleep(0.05)

    # ---- the phase --------------------------------------------------------

    def run(self, inject):
        started = time.monotonic()
        try:
            # Each phase starts from an empty Redis: its own games only, and
            # the restart with data saves and loads what this phase wrote.
            if redis_cli("flushall") != "OK":
                raise PhaseError(f"redis on 127.0.0.1:{REDIS_PORT} does not answer FLUSHALL")
            self.start_engine(fresh=True)
            self.start_sidecar()
            self.start_loadgen()
            self.play(CFG["warmup_s"])
            fault_end = inject(self)
            tail_end = time.monotonic() + CFG["tail_s"]
            if self.recovery_s is None:
                self.await_recovery(fault_end, CFG["tail_s"])
            self.play(max(0.0, tail_end - time.monotonic()))
            self.loadgen.send_signal(signal.SIGTERM)
            if self.recovery_s is None:
                self.await_recovery(fault_end, VERIFY_TIMEOUT_S)
            rc = reap(self.loadgen, VERIFY_TIMEOUT_S + 120)
            self.error = None if rc == 0 else f"hokm-loadgen exited with {rc}"
            for f in self.after:
                f(self)
        except (PhaseError, OSError, subprocess.SubprocessError) as e:
            self.error = str(e)
        finally:
            self.stop_all()
        self.wall_s = time.monotonic() - started
        self.report = {}
        try:
            with open(self.json_path) as f:
                self.report = json.load(f)
        except (OSError, ValueError):
            self.error = self.error or "hokm-loadgen wrote no report"
        v = self.report.get("verify", {})
        if not self.error and not v.get("ok"):
            self.error = "verify failed"
        self.incomplete = self.headless = None
        if os.path.exists(self.games_path):
            try:
                _, self.incomplete, self.headless = check_redis_games(self.games_path)
            except (OSError, PhaseError, ValueError) as e:
                self.error = self.error or f"checking the Redis states failed: {e}"
        if not self.error and self.incomplete:
            self.error = (f"{self.incomplete} games' Redis state lacks the room or target its GameCreated "
                          f"set (rebuilt from part of its events)")
        if not self.error and self.report.get("errors", 0):
            self.error = f"{self.report['errors']} commands refused"
        return self.error is None

    def stop_all(self):
        for p, what in ((self.loadgen, "hokm-loadgen"), (self.engine, "hokm-engine"),
                        (self.sidecar, "hokm-sidecar")):
            if p is None or p.poll() is not None:
                continue
            p.send_signal(signal.SIGTERM)
            try:
                rc = p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                rc = "a timeout (SIGKILLed)"
            if rc != 0 and not getattr(self, "error", None):
                self.error = f"{what} ended with {rc} on SIGTERM; see {p.log_path}"
        try:
            os.unlink(f"/dev/shm/{self.shm}")
        except FileNotFoundError:
            pass

    def line(self):
        r, v = self.report, self.report.get("verify", {})
        lag = r.get("sync_lag_ms", {})
        down = (f"down max {max(self.downtimes):.2f} s, total {sum(self.downtimes):.1f} s"
                if self.downtimes else "down -")
        rec = f"{self.recovery_s:.1f} s" if self.recovery_s is not None else "-"
        fields = [f"{self.name:<20}", f"x{self.count:<3}", f"{down:<34}",
                  f"plays {r.get('card_plays', 0):>9,}", f"games {v.get('games', 0):>6,}",
                  f"lost {v.get('lost', '?')}", f"dup {v.get('duplicated', '?')}",
                  f"mismatched {v.get('mismatched', '?')}",
                  f"incomplete {'?' if self.incomplete is None else self.incomplete}",
                  f"headless {'?' if self.headless is None else self.headless}",
                  f"lag p999 redis {lag.get('redis', {}).get('max', 0):,.0f} ms"
                  f" pg {lag.get('postgres', {}).get('max', 0):,.0f} ms",
                  f"recovered {rec}", f"{self.wall_s:.0f} s", "PASS" if self.error is None else "FAIL"]
        out = "  ".join(fields)
        if self.notes:
            out += "\n    " + "; ".join(self.notes)
        if self.error:
            out += f"\n    {self.error}; logs in {self.dir}"
        return out


# ---- the faults: each returns when the fault is over (monotonic time) --------

def gap():
    return random.uniform(*CFG["gap_s"])


def sidecar_kills(ph):
    for _ in range(CFG["sidecar_kills"]):
        ph.play(gap())
        ph.sidecar.kill()
        t0 = time.monotonic()
        if reap(ph.sidecar, 10) != -signal.SIGKILL:
            raise PhaseError("hokm-sidecar ended before its SIGKILL")
        ph.start_sidecar()
        ph.downtimes.append(time.monotonic() - t0)
        ph.count += 1
    return time.monotonic()


def engine_kills(ph):
    for _ in range(CFG["engine_kills"]):
        ph.play(gap())
        ph.engine.kill()
        t0 = time.monotonic()
        if reap(ph.engine, 10) != -signal.SIGKILL:
            raise PhaseError("hokm-engine ended before its SIGKILL")
        ph.start_engine(fresh=False)
        ph.downtimes.append(time.monotonic() - t0)
        ph.count += 1
    ph.check_loadgen()
    ph.after.append(settled_commands)
    return time.monotonic()


def settled_commands(ph):
    """What loadgen said of the commands the killed engines took and never
    answered (loadgen/README.md, "Engine restart")."""
    lost = applied = restarts = 0
    pattern = re.compile(r"never answered: (\d+) had been applied, (\d+) sent again")
    with open(ph.loadgen.log_path, errors="replace") as f:
        for m in pattern.finditer(f.read()):
            restarts += 1
            applied += int(m.group(1))
            lost += int(m.group(1)) + int(m.group(2))
    ph.notes.append(f"loadgen saw {restarts} restart(s); commands a killed engine took and never answered: "
                    f"{lost} ({applied} had been applied, {lost - applied} sent again)")


def redis_pause(ph):
    pid = redis_pid()
    broken["redis-stopped"] = pid
    os.kill(pid, signal.SIGSTOP)
    t0 = time.monotonic()
    try:
        ph.play(CFG["redis_pause_s"])
    finally:
        os.kill(pid, signal.SIGCONT)
        del broken["redis-stopped"]
    ph.downtimes.append(time.monotonic() - t0)
    ph.count = 1
    wait_for("redis answering PING after SIGCONT", lambda: redis_cli("ping") == "PONG", START_TIMEOUT_S)
    return time.monotonic()


def redis_restart(ph, keep_data):
    pid = redis_pid()
    rdb = os.path.join(REDIS_DIR, "dump.rdb")
    before = int(redis_cli("dbsize") or 0)
    t0 = time.monotonic()
    broken["redis"] = True
    if keep_data:
        # services.sh runs Redis without persistence; SHUTDOWN SAVE writes
        # dump.rdb into its --dir all the same, and the next start loads it.
        redis_cli("shutdown", "save")
        wait_for(f"redis (pid {pid}) exiting", lambda: pid_gone(pid), 30)
        if not os.path.exists(rdb):
            raise PhaseError(f"SHUTDOWN SAVE left no {rdb}")
    else:
        services("stop-redis")
        if os.path.exists(rdb):
            os.unlink(rdb)
    ph.play(CFG["redis_down_s"])
    try:
        services("start-redis")
        del broken["redis"]
    finally:
        # Later starts must not load it (services.sh's Redis keeps nothing).
        if os.path.exists(rdb):
            os.unlink(rdb)
    ph.downtimes.append(time.monotonic() - t0)
    ph.count = 1
    after = int(redis_cli("dbsize") or 0)
    ph.notes.append(f"redis keys: {before:,} before the restart, {after:,} after it")
    if keep_data and after < before:
        raise PhaseError(f"redis came back with {after} keys of {before}: the data was not kept")
    return time.monotonic()


def pg_stop(ph):
    t0 = time.monotonic()
    broken["postgres"] = True
    services("stop-postgres")
    ph.play(CFG["pg_down_s"])
    services("start-postgres")
    del broken["postgres"]
    ph.downtimes.append(time.monotonic() - t0)
    ph.count = 1
    return time.monotonic()


PHASES = [
    ("sidecar-sigkill", sidecar_kills),
    ("engine-sigkill", engine_kills),
    ("redis-pause", redis_pause),
    ("redis-restart-data", lambda ph: redis_restart(ph, keep_data=True)),
    ("redis-restart-empty", lambda ph: redis_restart(ph, keep_data=False)),
    ("postgres-stop", pg_stop),
]


def preflight():
    for b in ("hokm-engine", "hokm-sidecar", "hokm-loadgen"):
        if not os.access(os.path.join(BIN, b), os.X_OK):
            sys.exit(f"chaos: no {os.path.join(BIN, b)}: run `make build` first (or set HOKM_BIN)")
    if os.environ.get("HOKM_SERVICES_LOCAL") != "1":
        sys.exit("chaos: the suite stops and restarts Redis and PostgreSQL, so it runs only against the "
                 "project-local servers: run it through scripts/with_services.sh (make chaos) without "
                 "HOKM_REDIS_URL / HOKM_PG_URL set")
    if shutil.which("redis-cli") is None:
        sys.exit("chaos: redis-cli not found: run `make setup`")
    for port, what in ((ENGINE_PORT, "HOKM_CHAOS_ENGINE_METRICS_PORT"), (SIDECAR_PORT, "HOKM_CHAOS_SIDECAR_METRICS_PORT")):
        if http_get(f"http://127.0.0.1:{port}/health", 0.5) is not None:
            sys.exit(f"chaos: something already serves 127.0.0.1:{port}; stop it or set {what}")


def main():
    preflight()
    seed = int(os.environ.get("CHAOS_SEED", str(int(time.time()))))
    random.seed(seed)
    wanted = [f for f in os.environ.get("CHAOS_FAULTS", "").split(",") if f]
    unknown = set(wanted) - {n for n, _ in PHASES}
    if unknown:
        sys.exit(f"chaos: unknown CHAOS_FAULTS {sorted(unknown)}; known: {', '.join(n for n, _ in PHASES)}")
    os.makedirs(LOGS, exist_ok=True)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda s, f: sys.exit(128 + s))
    print(f"chaos: {'short' if SHORT else 'full'} fault matrix, {CFG['games']:,} concurrent games at "
          f"{CFG['rate']:,} card plays/s (hokm-loadgen --mode shm --verify), CHAOS_SEED={seed}; logs in {LOGS}",
          flush=True)
    t0 = time.monotonic()
    failed = []
    for name, inject in PHASES:
        if wanted and name not in wanted:
            continue
        ph = Phase(name)
        ok = ph.run(inject)
        print(ph.line(), flush=True)
        if not ok:
            failed.append(name)
    verdict = "PASS" if not failed else f"FAIL ({', '.join(failed)})"
    print(f"chaos: {verdict} in {time.monotonic() - t0:.0f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        cleanup()
