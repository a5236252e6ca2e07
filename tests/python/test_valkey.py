"""redis-py and redis-cli against a Valkey cluster `dosim serve` serves, at the cluster's connection.uri verbatim (TLS with the bundled certificate): the lock recipe, expiry, transactions with WATCH, the compare-and-delete script, and the eviction policy through the API."""
import json
import pathlib
import shutil
import subprocess
import urllib.request

import pytest
import redis

CERT = pathlib.Path(__file__).resolve().parents[2] / "crates" / "dosim-base" / "src" / "tls" / "localhost.crt"


def api(serve, token, method, path, body=None):
    request = urllib.request.Request(
        serve.url + path, data=None if body is None else json.dumps(body).encode(), method=method,
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read()
        return response.status, (json.loads(text) if text else None)


def create_cluster(serve, token, name):
    status, body = api(serve, token, "POST", "/v2/databases", {
        "name": name, "engine": "valkey", "region": "nyc3", "size": "db-s-1vcpu-1gb", "num_nodes": 1,
    })
    assert status == 201
    return body["database"]


def test_redis_py_takes_and_releases_a_lock_at_the_connection_uri(serve):
    cluster = create_cluster(serve, serve.fresh_token("valkey-py"), "cache")
    uri = cluster["connection"]["uri"]
    assert uri.startswith("rediss://default:AVNS_")
    r = redis.from_url(uri, ssl_cert_reqs=None, socket_timeout=10)
    assert r.ping()
    assert r.set("lock:x", "token-1", nx=True, px=60_000)
    assert r.set("lock:x", "token-2", nx=True, px=60_000) is None
    assert 0 < r.pttl("lock:x") <= 60_000
    # redis-py's Lock releases with its compare-and-delete script (EVALSHA, loaded on NOSCRIPT).
    lock = r.lock("lock:y", timeout=30)
    assert lock.acquire(blocking=False)
    assert not r.lock("lock:y", timeout=30).acquire(blocking=False)
    lock.release()
    assert r.get("lock:y") is None
    # WATCH/MULTI: another client's write aborts the transaction.
    r.set("counter", 1)
    with r.pipeline() as pipe:
        pipe.watch("counter")
        redis.from_url(uri, ssl_cert_reqs=None).set("counter", 5)
        pipe.multi()
        pipe.incr("counter")
        with pytest.raises(redis.WatchError):
            pipe.execute()
    assert r.get("counter") == b"5"
    with pytest.raises(redis.ResponseError, match="unknown command 'CONFIG'"):
        r.execute_command("CONFIG", "GET", "maxmemory")
    with pytest.raises(redis.AuthenticationError):
        redis.from_url(uri.replace("AVNS_", "AVNS_wrong"), ssl_cert_reqs=None).ping()


def test_redis_py_scan_iter_walks_the_keyspace_in_steps_and_hscan_zscan_answer(serve):
    cluster = create_cluster(serve, serve.fresh_token("valkey-scan"), "cache-scan")
    r = redis.from_url(cluster["connection"]["uri"], ssl_cert_reqs=None, socket_timeout=10)
    r.mset({f"session:{n}": n for n in range(250)})
    r.rpush("jobs", "a")
    # One step visits COUNT keys: 251 keys take many steps, each cursor resuming the last.
    cursor, first = r.scan(0, match="session:*", count=10)
    assert cursor != 0 and 0 < len(first) <= 10
    seen = list(r.scan_iter(match="session:*", count=25))
    assert sorted(seen) == sorted(f"session:{n}".encode() for n in range(250))
    assert len(seen) == len(set(seen))
    assert list(r.scan_iter(_type="list")) == [b"jobs"]
    # Deleting what the scan finds, as a cleanup job does: every key is found and deleted once.
    deleted = 0
    for key in r.scan_iter(match="session:*", count=50):
        deleted += r.delete(key)
    assert deleted == 250
    assert r.dbsize() == 1
    # HSCAN and ZSCAN answer a small hash or sorted set whole, as Valkey does.
    r.hset("user:1", mapping={"name": "ada", "role": "admin", "region": "nyc3"})
    assert dict(r.hscan_iter("user:1", match="r*")) == {b"role": b"admin", b"region": b"nyc3"}
    assert r.hscan("user:1", 0)[0] == 0
    r.zadd("board", {"ada": 3, "bob": 1.5})
    assert list(r.zscan_iter("board")) == [(b"bob", 1.5), (b"ada", 3.0)]


def test_the_eviction_policy_reaches_the_server(serve):
    token = serve.fresh_token("valkey-policy")
    cluster = create_cluster(serve, token, "cache-policy")
    r = redis.from_url(cluster["connection"]["uri"], ssl_cert_reqs=None, socket_timeout=10)
    assert r.info("memory")["maxmemory_policy"] == "noeviction"
    status, _ = api(serve, token, "PUT", f"/v2/databases/{cluster['id']}/eviction_policy",
                    {"eviction_policy": "allkeys_lru"})
    assert status == 204
    assert r.info("memory")["maxmemory_policy"] == "allkeys-lru"


def test_redis_cli_uses_the_uri_verbatim(serve):
    if shutil.which("redis-cli") is None:
        pytest.skip("redis-cli (Debian's redis-tools) is not installed; scripts/test.sh installs it")
    cluster = create_cluster(serve, serve.fresh_token("valkey-cli"), "cache-cli")
    uri = cluster["connection"]["uri"]

    def cli(*args):
        out = subprocess.run(["redis-cli", "--tls", "--cacert", str(CERT), "-u", uri, "--no-auth-warning", *args],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out
        return out.stdout.strip()

    assert cli("PING") == "PONG"
    assert cli("SET", "k", "v", "NX", "PX", "5000") == "OK"
    assert cli("SET", "k", "w", "NX") == ""
    assert cli("GET", "k") == "v"
    assert cli("INCR", "k") == "ERR value is not an integer or out of range"


def allow(r, key, now_ms, window_ms=1_000, limit=3):
    """The sliding-window limiter people write with a sorted set: drop what left the window, add this request, count, all in one MULTI."""
    with r.pipeline(transaction=True) as pipe:
        pipe.zremrangebyscore(key, "-inf", now_ms - window_ms)
        pipe.zadd(key, {f"req-{now_ms}": now_ms})
        pipe.zcard(key)
        pipe.pexpire(key, window_ms)
        _, _, count, _ = pipe.execute()
    return count <= limit


@pytest.fixture(scope="module")
def reference():
    """A private redis-server, the same one the differential suite compares with."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is missing: scripts/test.sh installs Debian's redis-server")
    import socket
    import time
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis(port=port).ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                server.kill()
                raise
            time.sleep(0.05)
    yield port
    server.kill()
    server.wait()


def exercise(r):
    """Sorted-set and set commands whose replies carry RESP3's doubles, pairs and sets; what redis-py makes of each."""
    r.flushdb()
    seen = [r.zadd("z", {"a": 1, "b": 2.5, "c": 4})]
    seen.append(r.zscore("z", "b"))
    seen.append(r.zrange("z", 0, -1, withscores=True))
    seen.append(r.zrange("z", "(1", "+inf", byscore=True, withscores=True, offset=0, num=1))
    seen.append(r.zrevrangebyscore("z", 10, 2, withscores=True))
    seen.append(r.zincrby("z", 0.5, "a"))
    seen.append(r.zmscore("z", ["a", "nope"]))
    seen.append(r.zpopmin("z"))
    seen.append(r.zpopmax("z", 2))
    seen.append(r.sadd("s", 3, 1, 2))
    seen.append(r.smembers("s"))
    seen.append(r.sinter("s", "s"))
    seen.append(r.smismember("s", [1, 9]))
    seen.append(r.sunionstore("u", ["s", "nope"]))
    seen.append(r.srandmember("u", 10))
    return seen


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_sliding_window_limiter_and_resp3_types_match_redis_server(serve, reference, protocol):
    cluster = create_cluster(serve, serve.fresh_token(f"valkey-window-{protocol}"), f"window-{protocol}")
    ours = redis.from_url(cluster["connection"]["uri"], ssl_cert_reqs=None, socket_timeout=10, protocol=protocol)
    theirs = redis.Redis(port=reference, socket_timeout=10, protocol=protocol)
    for r in (ours, theirs):
        r.flushdb()
        decisions = [allow(r, "rate:ip", t) for t in (0, 100, 200, 300, 900, 1_150, 1_250)]
        # Three in the first second. Refused requests are counted too, so at 1,150 (0 and 100 gone) and 1,250 (200 gone) the window still holds four.
        assert decisions == [True, True, True, False, False, False, False], decisions
    assert [allow(ours, "rate:b", t) for t in (0, 100, 200, 300, 900, 1_150, 1_250)] == \
        [allow(theirs, "rate:b", t) for t in (0, 100, 200, 300, 900, 1_150, 1_250)]
    assert ours.zcard("rate:b") == theirs.zcard("rate:b")
    assert 0 < ours.pttl("rate:b") <= 1_000
    assert exercise(ours) == exercise(theirs)
