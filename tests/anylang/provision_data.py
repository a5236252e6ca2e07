"""Provisions what an application keeps its data in, with the clients people use, against the
environment `dosim test` gives: a PostgreSQL cluster with a db and a user (pydo, then psycopg at
the connection URI) and a Spaces bucket with an object (boto3, which reads AWS_ENDPOINT_URL and the
key pair from the environment).

Run it under `dosim test -- python3 provision_data.py`.
"""

import os

import boto3
import psycopg
import pydo

# The API is served over plain http on loopback, which azure-core refuses to send a token over unless told.
PLAIN = {"enforce_https": False}
api = pydo.Client(os.environ["DIGITALOCEAN_TOKEN"], endpoint=os.environ["DIGITALOCEAN_API_URL"], retry_total=0)
cluster = api.databases.create_cluster({
    "name": "ledger", "engine": "pg", "version": "16", "region": "nyc3", "size": "db-s-1vcpu-1gb", "num_nodes": 1,
}, **PLAIN)["database"]
api.databases.add(cluster["id"], {"name": "books"}, **PLAIN)
api.databases.add_user(cluster["id"], {"name": "app"}, **PLAIN)
uri = cluster["connection"]["uri"].replace("/defaultdb?", "/books?")
with psycopg.connect(uri, connect_timeout=10) as conn:
    conn.execute("CREATE TABLE entries (id int PRIMARY KEY, note text)")
    conn.execute("INSERT INTO entries VALUES (1, 'opened')")
    assert conn.execute("SELECT note FROM entries").fetchone()[0] == "opened"

s3 = boto3.client("s3")
s3.create_bucket(Bucket="reports")
s3.put_object(Bucket="reports", Key="2026/12/04.txt", Body=b"balance ok", Metadata={"kind": "daily"})
head = s3.head_object(Bucket="reports", Key="2026/12/04.txt")
assert head["Metadata"] == {"kind": "daily"}, head
print("provisioned")
