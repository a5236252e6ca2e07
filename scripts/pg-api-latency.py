#!/usr/bin/env python3
"""The API's latency (GET /v2/account) while two heavy statements run on one served PostgreSQL cluster.

Usage: scripts/pg-api-latency.py path/to/dosim ROWS   (ROWS=1000 joins 10^6 rows per statement; needs psql)
Prints p50/p99/max with the cluster idle and while both statements run. See docs/serve.md (Isolation)."""
import json, subprocess, sys, threading, time, urllib.request, re, statistics

binary, rows = sys.argv[1], int(sys.argv[2])
srv = subprocess.Popen([binary, "serve", "--addr", "127.0.0.1:0", "--seed", "7", "--rate-limit-burst", "10000000", "--rate-limit-hourly", "100000000"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
try:
    port = None
    for line in srv.stdout:
        m = re.search(r"listening on .*:(\d+)", line)
        if m:
            port = int(m.group(1)); break
    base = f"http://127.0.0.1:{port}"
    H = {"Authorization": "Bearer dop_v1_" + "ab"*32, "Content-Type": "application/json"}
    def req(method, path, body=None):
        r = urllib.request.Request(base + path, method=method, headers=H, data=json.dumps(body).encode() if body else None)
        with urllib.request.urlopen(r) as resp:
            return json.loads(resp.read() or b"null")
    db = req("POST", "/v2/databases", {"name": "ledger", "engine": "pg", "region": "nyc3", "size": "db-s-1vcpu-1gb", "num_nodes": 1})
    uri = db["database"]["connection"]["uri"]
    vals = ",".join(f"({i})" for i in range(rows))
    subprocess.run(["psql", uri, "-qc", f"CREATE TABLE a (x int); INSERT INTO a VALUES {vals}"], check=True)
    heavy = "SELECT count(*) FROM a a1, a a2 WHERE a1.x + a2.x > (SELECT min(x) FROM a)"
    def sample(n, out):
        for _ in range(n):
            t = time.perf_counter(); req("GET", "/v2/account"); out.append((time.perf_counter() - t) * 1000)
    idle = []; sample(200, idle)
    t0 = time.perf_counter()
    heavies = [subprocess.Popen(["psql", uri, "-tAc", heavy], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    busy = []
    while any(h.poll() is None for h in heavies):
        sample(1, busy)
    dur = time.perf_counter() - t0
    outs = [h.stdout.read().strip() for h in heavies]
    def q(v, p): v = sorted(v); return v[min(len(v) - 1, int(len(v) * p))]
    print(f"heavy statements: {outs} in {dur:.1f}s")
    print(f"idle: n={len(idle)} p50={q(idle,.5):.2f}ms p99={q(idle,.99):.2f}ms max={max(idle):.2f}ms")
    print(f"busy: n={len(busy)} p50={q(busy,.5):.2f}ms p99={q(busy,.99):.2f}ms max={max(busy):.2f}ms")
finally:
    srv.kill(); srv.wait()
