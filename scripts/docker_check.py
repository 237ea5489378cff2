#!/usr/bin/env python3
"""docker_check.py: the checks of `make docker-test` (scripts/docker_test.sh).

  ping-socket SOCK                    the Docker API (podman system service) answers on SOCK
  wait-http [--timeout S] URL...      each URL answers 2xx before the deadline
  prometheus [--timeout S] URL CONFIG every scrape job of CONFIG (docker/prometheus.yml)
                                      has all its targets up in the Prometheus at URL, and
                                      each job has hokm_ series with values
  dashboard JSON METRICS_URL...       the Grafana dashboard parses, has panels, and every
                                      metric name in every panel's expr is in the live
                                      /metrics of one of METRICS_URL

Each polls with a deadline (no fixed sleeps) and exits 1 with the reason.
Standard library only (plus PyYAML, which docker-compose depends on).
"""
import argparse
import json
import re
import socket
import sys
import time
import urllib.parse
import urllib.request


def fail(message):
    print(f"docker-check: {message}", file=sys.stderr)
    sys.exit(1)


def get(url, timeout=3.0):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read().decode()


def ping_socket(args):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(3)
    s.connect(args.sock)
    s.sendall(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")
    answer = s.recv(64).decode(errors="replace")
    if " 200 " not in answer:
        fail(f"{args.sock}: {answer!r}")


def wait_http(args):
    deadline = time.monotonic() + args.timeout
    for url in args.urls:
        last = ""
        while True:
            try:
                status, _ = get(url)
                if 200 <= status < 300:
                    print(f"  {url}: {status}", file=sys.stderr)
                    break
                last = f"HTTP {status}"
            except Exception as e:  # refused, reset, HTTP error: retried
                last = str(e)
            if time.monotonic() > deadline:
                fail(f"{url} did not answer 2xx within {args.timeout} s (last: {last})")
            time.sleep(0.5)


def job_names(config_path):
    import yaml

    with open(config_path) as f:
        config = yaml.safe_load(f)
    return [job["job_name"] for job in config.get("scrape_configs", [])]


def prometheus(args):
    jobs = job_names(args.config)
    if not jobs:
        fail(f"{args.config} has no scrape job")
    deadline = time.monotonic() + args.timeout
    api = args.url.rstrip("/") + "/api/v1/"
    pending = ""
    while True:
        try:
            pending = prometheus_pending(api, jobs)
        except Exception as e:
            pending = f"API error: {e}"
        if not pending:
            break
        if time.monotonic() > deadline:
            fail(f"Prometheus at {args.url} after {args.timeout} s: {pending}")
        time.sleep(1)
    for job in jobs:
        query = f'count({{job="{job}",__name__=~"hokm_.+"}})'
        _, body = get(api + "query?" + urllib.parse.urlencode({"query": query}))
        count = json.loads(body)["data"]["result"][0]["value"][1]
        print(f"  job {job}: targets up, {count} hokm_ series", file=sys.stderr)


def prometheus_pending(api, jobs):
    """What is not there yet ("" when every job is up and has hokm_ series)."""
    _, body = get(api + "targets?state=active")
    targets = json.loads(body)["data"]["activeTargets"]
    for job in jobs:
        mine = [t for t in targets if t["labels"].get("job") == job]
        if not mine:
            return f"no target of job {job}"
        down = [f'{t["scrapeUrl"]} {t["health"]} {t.get("lastError", "")}' for t in mine
                if t["health"] != "up"]
        if down:
            return f"job {job}: " + "; ".join(down)
        query = f'count({{job="{job}",__name__=~"hokm_.+"}})'
        _, body = get(api + "query?" + urllib.parse.urlencode({"query": query}))
        result = json.loads(body)["data"]["result"]
        if not result or float(result[0]["value"][1]) == 0:
            return f"job {job}: no hokm_ series yet"
    return ""


# A metric name in PromQL: an identifier that is not followed by "(" (a
# function) and not a label name, keyword or duration; ours all start hokm_.
METRIC = re.compile(r"\bhokm_[a-zA-Z0-9_:]*")


def panels_of(dashboard):
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # collapsed rows


def exposed_names(text):
    names = set()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def dashboard(args):
    try:
        with open(args.json) as f:
            board = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{args.json}: {e}")
    live = set()
    for url in args.metrics_urls:
        try:
            _, text = get(url)
        except Exception as e:
            fail(f"{url}: {e}")
        live |= exposed_names(text)
    panels = [p for p in panels_of(board) if p.get("type") != "row"]
    if not panels:
        fail(f"{args.json}: no panels")
    problems = []
    checked = 0
    for panel in panels:
        title = panel.get("title", "?")
        targets = panel.get("targets", [])
        if not targets:
            problems.append(f'panel "{title}": no targets')
        for target in targets:
            expr = target.get("expr", "")
            names = METRIC.findall(expr)
            if not names:
                problems.append(f'panel "{title}": expr names no hokm_ metric: {expr!r}')
            for name in names:
                checked += 1
                if name not in live:
                    problems.append(f'panel "{title}": {name} is not in the live /metrics')
    if problems:
        fail(f"{args.json}:\n  " + "\n  ".join(problems))
    print(f"  {len(panels)} panels, {checked} metric references, all in the live /metrics "
          f"({len(live)} series names)", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("ping-socket")
    p.add_argument("sock")
    p.set_defaults(run=ping_socket)
    p = sub.add_parser("wait-http")
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("urls", nargs="+")
    p.set_defaults(run=wait_http)
    p = sub.add_parser("prometheus")
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("url")
    p.add_argument("config")
    p.set_defaults(run=prometheus)
    p = sub.add_parser("dashboard")
    p.add_argument("json")
    p.add_argument("metrics_urls", nargs="+")
    p.set_defaults(run=dashboard)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
