"""psycopg against a PostgreSQL cluster `dosim serve` serves, at the cluster's connection.uri: READ COMMITTED's lost update and the atomic update that avoids it, the wait on a row lock, FOR UPDATE, 40001 under SERIALIZABLE, and advisory locks."""
import json
import threading
import urllib.request

import psycopg


def create_cluster(serve, token, name):
    body = json.dumps({
        "name": name, "engine": "pg", "region": "nyc3", "size": "db-s-1vcpu-1gb", "num_nodes": 1,
    }).encode()
    request = urllib.request.Request(
        serve.url + "/v2/databases", data=body, method="POST",
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        return json.load(response)["database"]


def connect(uri):
    # The URI is used verbatim, sslmode=require included.
    return psycopg.connect(uri, connect_timeout=10)


def balance(uri):
    with connect(uri) as conn:
        return conn.execute("SELECT balance FROM accounts WHERE id = 1").fetchone()[0]


def test_read_committed_loses_an_update_and_an_atomic_update_does_not(serve):
    cluster = create_cluster(serve, serve.fresh_token("pg"), "ledger")
    uri = cluster["connection"]["uri"]
    assert uri.startswith("postgres://doadmin:") and uri.endswith("/defaultdb?sslmode=require")
    with connect(uri) as conn:
        conn.execute("CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)")
        conn.execute("INSERT INTO accounts VALUES (1, 100)")

    # Two withdrawals of 10 that read, compute in the client, then write: the second overwrites the first.
    a, b = connect(uri), connect(uri)
    try:
        read_a = a.execute("SELECT balance FROM accounts WHERE id = 1").fetchone()[0]
        read_b = b.execute("SELECT balance FROM accounts WHERE id = 1").fetchone()[0]
        assert (read_a, read_b) == (100, 100)
        a.execute("UPDATE accounts SET balance = %s WHERE id = 1", (read_a - 10,))
        a.commit()
        b.execute("UPDATE accounts SET balance = %s WHERE id = 1", (read_b - 10,))
        b.commit()
    finally:
        a.close()
        b.close()
    assert balance(uri) == 90, "one of the two withdrawals is lost"

    # The atomic update: the second waits for the first's row lock, then re-reads the committed row.
    a, b = connect(uri), connect(uri)
    try:
        a.execute("UPDATE accounts SET balance = balance - 10 WHERE id = 1")
        done = threading.Event()

        def withdraw():
            b.execute("UPDATE accounts SET balance = balance - 10 WHERE id = 1")
            b.commit()
            done.set()

        waiter = threading.Thread(target=withdraw)
        waiter.start()
        assert not done.wait(0.5), "the second update waits for the first's row lock"
        a.commit()
        waiter.join(10)
        assert done.is_set(), "the second update goes on once the first commits"
    finally:
        a.close()
        b.close()
    assert balance(uri) == 70


def test_for_update_serializable_and_advisory_locks(serve):
    cluster = create_cluster(serve, serve.fresh_token("pg-locks"), "locks")
    uri = cluster["connection"]["uri"]
    with connect(uri) as conn:
        conn.execute("CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)")
        conn.execute("INSERT INTO accounts VALUES (1, 100), (2, 100)")

    # SELECT … FOR UPDATE: the second reader waits, then reads what the first committed.
    a, b = connect(uri), connect(uri)
    try:
        assert a.execute("SELECT balance FROM accounts WHERE id = 1 FOR UPDATE").fetchone()[0] == 100
        seen = []

        def read_for_update():
            seen.append(b.execute("SELECT balance FROM accounts WHERE id = 1 FOR UPDATE").fetchone()[0])
            b.execute("UPDATE accounts SET balance = %s WHERE id = 1", (seen[0] - 10,))
            b.commit()

        waiter = threading.Thread(target=read_for_update)
        waiter.start()
        waiter.join(0.5)
        assert waiter.is_alive() and not seen, "FOR UPDATE waits for the first transaction's lock"
        a.execute("UPDATE accounts SET balance = 90 WHERE id = 1")
        a.commit()
        waiter.join(10)
        assert seen == [90], "after the wait the second reader sees the committed 90"
    finally:
        a.close()
        b.close()
    assert balance(uri) == 80

    # SERIALIZABLE: write skew is refused with 40001.
    a, b = connect(uri), connect(uri)
    try:
        for conn in (a, b):
            conn.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
            assert conn.execute("SELECT sum(balance) FROM accounts").fetchone()[0] == 180
        a.execute("UPDATE accounts SET balance = balance - 150 WHERE id = 1")
        b.execute("UPDATE accounts SET balance = balance - 150 WHERE id = 2")
        a.commit()
        try:
            b.commit()
        except psycopg.errors.SerializationFailure as failure:
            assert failure.sqlstate == "40001"
        else:
            raise AssertionError("both write-skewed transactions committed under SERIALIZABLE")
    finally:
        a.close()
        b.close()

    # Advisory locks: a second session cannot take a held lock until it is released.
    a, b = connect(uri), connect(uri)
    try:
        a.autocommit = b.autocommit = True
        assert a.execute("SELECT pg_try_advisory_lock(42)").fetchone()[0] is True
        assert b.execute("SELECT pg_try_advisory_lock(42)").fetchone()[0] is False
        assert a.execute("SELECT pg_advisory_unlock(42)").fetchone()[0] is True
        assert b.execute("SELECT pg_try_advisory_lock(42)").fetchone()[0] is True
    finally:
        a.close()
        b.close()


def api(serve, token, method, path, body=None):
    request = urllib.request.Request(
        serve.url + path, data=None if body is None else json.dumps(body).encode(), method=method,
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read()
        return response.status, (json.loads(text) if text else None)


def test_a_transaction_mode_pool_hands_the_session_lock_to_the_next_client(serve):
    token = serve.fresh_token("pg-pool")
    cluster = create_cluster(serve, token, "pooled")
    status, body = api(serve, token, "POST", f"/v2/databases/{cluster['id']}/pools", {
        "name": "jobs", "mode": "transaction", "size": 1, "db": "defaultdb", "user": "doadmin",
    })
    assert status == 201
    pool = body["pool"]
    direct_port = cluster["connection"]["port"]
    # PgBouncer answers on a port of its own, with the pool's name as the database.
    assert pool["connection"]["port"] != direct_port
    assert pool["connection"]["database"] == "jobs"
    uri = pool["connection"]["uri"]
    assert uri.endswith("/jobs?sslmode=require")

    a = psycopg.connect(uri, connect_timeout=10, autocommit=True)
    b = psycopg.connect(uri, connect_timeout=10, autocommit=True)
    try:
        assert a.execute("SELECT current_database()").fetchone()[0] == "defaultdb"
        # One server connection behind the pool: both clients borrow it in turn.
        assert a.execute("SELECT pg_backend_pid()").fetchone()[0] == b.execute("SELECT pg_backend_pid()").fetchone()[0]
        # A session advisory lock stays on the server connection, not with the client that took it.
        assert a.execute("SELECT pg_try_advisory_lock(42)").fetchone()[0] is True
        assert b.execute("SELECT pg_try_advisory_lock(42)").fetchone()[0] is True, \
            "through a transaction-mode pool the second client gets the lock the first holds"
    finally:
        a.close()
        b.close()
    # Through the cluster's own port, the lock excludes as it should.
    direct_a, direct_b = connect(cluster["connection"]["uri"]), connect(cluster["connection"]["uri"])
    try:
        direct_a.autocommit = direct_b.autocommit = True
        assert direct_a.execute("SELECT pg_try_advisory_lock(7)").fetchone()[0] is True
        assert direct_b.execute("SELECT pg_try_advisory_lock(7)").fetchone()[0] is False
    finally:
        direct_a.close()
        direct_b.close()

    # A deleted pool is gone from the pooler too.
    status, _ = api(serve, token, "DELETE", f"/v2/databases/{cluster['id']}/pools/jobs")
    assert status == 204
    try:
        psycopg.connect(uri, connect_timeout=10).close()
        raise AssertionError("connected to a deleted pool")
    except psycopg.OperationalError as error:
        assert "no such database: jobs" in str(error)
