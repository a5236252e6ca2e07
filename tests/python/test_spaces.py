"""Spaces through boto3, unchanged but for endpoint_url, with key pairs from POST /v2/spaces/keys."""
import json
import re
import time
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError


def spaces_url(serve):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in list(serve.lines):
            m = re.search(r"spaces on (http://\S+)", line)
            if m:
                return m.group(1)
        time.sleep(0.05)
    raise AssertionError("dosim serve did not print its Spaces URL:\n" + "".join(serve.lines))


def api(serve, token, method, path, body=None):
    req = urllib.request.Request(
        serve.url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req) as resp:
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def make_key(serve, token, grants, name="k"):
    status, body = api(serve, token, "POST", "/v2/spaces/keys", {"name": name, "grants": grants})
    assert status == 201, body
    return body["key"]


def client(serve, key, secret=None, **config):
    return boto3.client(
        "s3",
        region_name="nyc3",
        endpoint_url=spaces_url(serve),
        aws_access_key_id=key["access_key"],
        aws_secret_access_key=secret or key["secret_key"],
        config=Config(**config) if config else None,
    )


@pytest.fixture(scope="module")
def account(serve):
    token = serve.fresh_token("spaces")
    key = make_key(serve, token, [{"bucket": "", "permission": "fullaccess"}])
    return token, key


@pytest.fixture(scope="module")
def s3(serve, account):
    return client(serve, account[1])


def code(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_keys_api(serve, account):
    token, key = account
    assert re.fullmatch(r"DO00[A-Z0-9]{16}", key["access_key"])
    status, body = api(serve, token, "GET", f"/v2/spaces/keys/{key['access_key']}")
    assert status == 200 and "secret_key" not in body["key"]
    assert body["key"]["grants"] == [{"bucket": "", "permission": "fullaccess"}]
    status, body = api(serve, token, "POST", "/v2/spaces/keys",
                       {"name": "x", "grants": [{"bucket": "", "permission": "fullaccess"},
                                                {"bucket": "b", "permission": "read"}]})
    assert (status, body["id"], body["message"]) == (
        400, "bad_request", "cannot mix fullaccess permission with scoped permissions.")
    status, body = api(serve, token, "GET", "/v2/spaces/keys?permission=fullaccess")
    assert status == 200 and body["meta"]["total"] >= 1
    status, body = api(serve, token, "PATCH", f"/v2/spaces/keys/{key['access_key']}", {"name": "renamed"})
    assert status == 200 and body["key"]["name"] == "renamed"


def test_buckets(s3):
    s3.create_bucket(Bucket="buckets-one")
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert "buckets-one" in names
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="buckets-one")
    assert code(e) == ("BucketAlreadyOwnedByYou", 409)
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="Bad_Name")
    assert code(e)[1] == 400
    assert s3.get_bucket_location(Bucket="buckets-one")["LocationConstraint"] == "nyc3"
    s3.put_object(Bucket="buckets-one", Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="buckets-one")
    assert code(e) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket="buckets-one", Key="k")
    s3.delete_bucket(Bucket="buckets-one")
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket="buckets-one")
    assert code(e)[1] == 404


def test_put_get_head_metadata(s3):
    s3.create_bucket(Bucket="objects")
    put = s3.put_object(Bucket="objects", Key="dir/a b.txt", Body=b"hello", ContentType="text/plain",
                        Metadata={"owner": "alice"})
    assert put["ETag"] == '"5d41402abc4b2a76b9719d911017c592"'
    got = s3.get_object(Bucket="objects", Key="dir/a b.txt")
    assert got["Body"].read() == b"hello"
    assert got["ContentType"] == "text/plain" and got["Metadata"] == {"owner": "alice"}
    head = s3.head_object(Bucket="objects", Key="dir/a b.txt")
    assert head["ContentLength"] == 5 and head["ETag"] == put["ETag"]
    ranged = s3.get_object(Bucket="objects", Key="dir/a b.txt", Range="bytes=1-3")
    assert ranged["Body"].read() == b"ell" and ranged["ContentRange"] == "bytes 1-3/5"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="objects", Key="missing")
    assert code(e) == ("NoSuchKey", 404)


def test_metadata_update_by_copy_in_place(s3):
    s3.create_bucket(Bucket="copies")
    s3.put_object(Bucket="copies", Key="o", Body=b"data", Metadata={"a": "1"})
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="copies", Key="o", CopySource={"Bucket": "copies", "Key": "o"})
    assert code(e) == ("InvalidRequest", 400)
    s3.copy_object(Bucket="copies", Key="o", CopySource={"Bucket": "copies", "Key": "o"},
                   MetadataDirective="REPLACE", Metadata={"a": "1", "b": "2"})
    head = s3.head_object(Bucket="copies", Key="o")
    assert head["Metadata"] == {"a": "1", "b": "2"}
    s3.copy_object(Bucket="copies", Key="p", CopySource={"Bucket": "copies", "Key": "o"})
    assert s3.head_object(Bucket="copies", Key="p")["Metadata"] == {"a": "1", "b": "2"}
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="copies", Key="q", CopySource={"Bucket": "copies", "Key": "o"},
                       CopySourceIfMatch='"0000"')
    assert code(e) == ("PreconditionFailed", 412)


def test_list_objects_v2_pagination(s3):
    s3.create_bucket(Bucket="many")
    for i in range(1005):
        s3.put_object(Bucket="many", Key=f"k{i:05d}", Body=b"")
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket="many"))
    keys = [o["Key"] for p in pages for o in p.get("Contents", [])]
    assert len(pages) == 2 and keys == sorted(f"k{i:05d}" for i in range(1005))
    listed = s3.list_objects_v2(Bucket="many", Prefix="k0000", Delimiter="/", MaxKeys=3, StartAfter="k00001")
    assert [o["Key"] for o in listed["Contents"]] == ["k00002", "k00003", "k00004"]
    assert listed["IsTruncated"]


def test_conditional_put(s3):
    s3.create_bucket(Bucket="conditional")
    s3.put_object(Bucket="conditional", Key="lock", Body=b"1", IfNoneMatch="*")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="conditional", Key="lock", Body=b"2", IfNoneMatch="*")
    assert code(e) == ("PreconditionFailed", 412)
    etag = s3.head_object(Bucket="conditional", Key="lock")["ETag"]
    # The default switch, unquoted_only: the RFC-quoted ETag fails even when equal (notes §4).
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="conditional", Key="lock", Body=b"3", IfMatch=etag)
    assert code(e) == ("PreconditionFailed", 412)
    s3.put_object(Bucket="conditional", Key="lock", Body=b"3", IfMatch=etag.strip('"'))
    assert s3.get_object(Bucket="conditional", Key="lock")["Body"].read() == b"3"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="conditional", Key="lock", IfNoneMatch=s3.head_object(Bucket="conditional", Key="lock")["ETag"])
    assert code(e)[1] == 304


def test_multipart(s3):
    s3.create_bucket(Bucket="multi")
    upload = s3.create_multipart_upload(Bucket="multi", Key="big", Metadata={"m": "v"})
    parts = []
    for n in range(1, 4):
        body = bytes([n]) * (5 * 1024 * 1024)
        r = s3.upload_part(Bucket="multi", Key="big", UploadId=upload["UploadId"], PartNumber=n, Body=body)
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    done = s3.complete_multipart_upload(Bucket="multi", Key="big", UploadId=upload["UploadId"],
                                        MultipartUpload={"Parts": parts})
    assert done["ETag"].endswith('-3"')
    head = s3.head_object(Bucket="multi", Key="big")
    assert head["ContentLength"] == 15 * 1024 * 1024 and head["Metadata"] == {"m": "v"}
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket="multi", Key="big", UploadId=upload["UploadId"],
                                     MultipartUpload={"Parts": parts})
    assert code(e) == ("NoSuchUpload", 404)
    small = s3.create_multipart_upload(Bucket="multi", Key="small")
    r1 = s3.upload_part(Bucket="multi", Key="small", UploadId=small["UploadId"], PartNumber=1, Body=b"a")
    r2 = s3.upload_part(Bucket="multi", Key="small", UploadId=small["UploadId"], PartNumber=2, Body=b"b")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket="multi", Key="small", UploadId=small["UploadId"], MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": r1["ETag"]}, {"PartNumber": 2, "ETag": r2["ETag"]}]})
    assert code(e) == ("EntityTooSmall", 400)
    s3.abort_multipart_upload(Bucket="multi", Key="small", UploadId=small["UploadId"])


def test_presigned_get_with_urllib(s3):
    s3.create_bucket(Bucket="shared")
    s3.put_object(Bucket="shared", Key="file.txt", Body=b"shared body")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "shared", "Key": "file.txt"}, ExpiresIn=600)
    with urllib.request.urlopen(url) as resp:
        assert resp.read() == b"shared body"
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url.replace("X-Amz-Signature=", "X-Amz-Signature=0"))
    assert e.value.code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in e.value.read()


def test_signature_version_2_header_and_share_link(serve, account, s3):
    """boto3 signing with Signature Version 2 (`signature_version="s3"`), in the header and in a
    presigned URL of the control panel's share-link shape (AWSAccessKeyId, Expires, Signature)."""
    v2 = client(serve, account[1], signature_version="s3")
    v2.create_bucket(Bucket="legacy-v2")
    v2.put_object(Bucket="legacy-v2", Key="dir/a b.txt", Body=b"v2 body", ContentType="text/plain",
                  Metadata={"owner": "ops"})
    head = v2.head_object(Bucket="legacy-v2", Key="dir/a b.txt")
    assert head["Metadata"] == {"owner": "ops"} and head["ContentType"] == "text/plain"
    assert [o["Key"] for o in v2.list_objects_v2(Bucket="legacy-v2")["Contents"]] == ["dir/a b.txt"]
    url = v2.generate_presigned_url("get_object", Params={"Bucket": "legacy-v2", "Key": "dir/a b.txt"},
                                    ExpiresIn=3600)
    assert "AWSAccessKeyId=" in url and "Expires=" in url and "X-Amz-" not in url
    with urllib.request.urlopen(url) as resp:
        assert resp.read() == b"v2 body"
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url.replace("Signature=", "Signature=A"))
    assert e.value.code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in e.value.read()
    wrong = client(serve, account[1], secret="x" * 40, signature_version="s3")
    with pytest.raises(ClientError) as e:
        wrong.get_object(Bucket="legacy-v2", Key="dir/a b.txt")
    assert code(e) == ("SignatureDoesNotMatch", 403)


def test_versioning(s3):
    s3.create_bucket(Bucket="versioned")
    s3.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket="versioned")["Status"] == "Enabled"
    v1 = s3.put_object(Bucket="versioned", Key="f", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket="versioned", Key="f", Body=b"two")["VersionId"]
    assert v1 != v2
    deleted = s3.delete_object(Bucket="versioned", Key="f")
    assert deleted["DeleteMarker"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="versioned", Key="f")
    assert code(e) == ("NoSuchKey", 404)
    assert s3.get_object(Bucket="versioned", Key="f", VersionId=v1)["Body"].read() == b"one"
    versions = s3.list_object_versions(Bucket="versioned")
    assert [v["VersionId"] for v in versions["Versions"]] == [v2, v1]
    assert len(versions["DeleteMarkers"]) == 1


def test_wrong_secret_and_read_only_key(serve, account, s3):
    token, key = account
    s3.create_bucket(Bucket="guarded")
    bad = client(serve, key, secret="x" * 43)
    with pytest.raises(ClientError) as e:
        bad.list_buckets()
    assert code(e) == ("SignatureDoesNotMatch", 403)
    reader = client(serve, make_key(serve, token, [{"bucket": "guarded", "permission": "read"}], "reader"))
    reader.list_objects_v2(Bucket="guarded")
    with pytest.raises(ClientError) as e:
        reader.put_object(Bucket="guarded", Key="x", Body=b"x")
    assert code(e) == ("AccessDenied", 403)


def test_delete_objects_and_state(serve, s3):
    s3.create_bucket(Bucket="bulk")
    for k in ("a", "b"):
        s3.put_object(Bucket="bulk", Key=k, Body=b"v")
    result = s3.delete_objects(Bucket="bulk", Delete={"Objects": [{"Key": "a"}, {"Key": "b"}]})
    assert sorted(d["Key"] for d in result["Deleted"]) == ["a", "b"]
    with urllib.request.urlopen(serve.url + "/_dosim/state") as resp:
        state = json.loads(resp.read())
    assert "bulk" in state["spaces"]["buckets"]


def test_checksum_when_required(serve, account):
    s3 = client(serve, account[1], request_checksum_calculation="when_required",
                response_checksum_validation="when_required")
    s3.create_bucket(Bucket="legacy-checksums")
    s3.put_object(Bucket="legacy-checksums", Key="k", Body=b"abc")
    assert s3.get_object(Bucket="legacy-checksums", Key="k")["Body"].read() == b"abc"


def test_awscli_cp_and_ls(serve, account, s3, tmp_path):
    """Debian's awscli (scripts/test.sh installs it) as a second real S3 client."""
    import os
    import subprocess
    aws = "/usr/bin/aws"
    if not os.path.exists(aws):
        pytest.fail("Debian's awscli is missing: scripts/test.sh installs it")
    s3.create_bucket(Bucket="cli-bucket")
    env = dict(os.environ, AWS_ACCESS_KEY_ID=account[1]["access_key"],
               AWS_SECRET_ACCESS_KEY=account[1]["secret_key"], AWS_DEFAULT_REGION="nyc3",
               AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    endpoint = ["--endpoint-url", spaces_url(serve)]
    source = tmp_path / "upload.txt"
    source.write_bytes(b"from awscli\n")
    run = lambda *args: subprocess.run([aws, *endpoint, *args], env=env, capture_output=True, text=True, timeout=60)
    cp = run("s3", "cp", str(source), "s3://cli-bucket/dir/upload.txt")
    assert cp.returncode == 0, cp.stderr
    assert s3.get_object(Bucket="cli-bucket", Key="dir/upload.txt")["Body"].read() == b"from awscli\n"
    ls = run("s3", "ls", "s3://cli-bucket/dir/")
    assert ls.returncode == 0 and "upload.txt" in ls.stdout, ls.stderr
    back = tmp_path / "back.txt"
    cp = run("s3", "cp", "s3://cli-bucket/dir/upload.txt", str(back))
    assert cp.returncode == 0 and back.read_bytes() == b"from awscli\n", cp.stderr
    buckets = run("s3", "ls")
    assert "cli-bucket" in buckets.stdout, buckets.stderr



def set_faults(serve, plan):
    req = urllib.request.Request(serve.url + "/_dosim/faults", method="PUT",
                                 data=json.dumps(plan).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as resp:
        assert resp.status == 200


@pytest.fixture
def faults(serve):
    """Sets the server's fault plan for one test, and clears it after."""
    yield lambda *rules: set_faults(serve, {"rules": list(rules)})
    set_faults(serve, {"rules": []})


def test_injected_slow_down_reaches_boto3_as_s3_xml(serve, account, s3, faults):
    s3.create_bucket(Bucket="faulty")
    faults({"service": "spaces", "method": "PUT", "path": "/faulty/**", "reject": {"status": 503}},
           {"service": "spaces", "method": "PUT", "path": "/faulty-500/**",
            "reject": {"status": 500}})
    # boto3 retries SlowDown itself; with two attempts both are refused.
    retrying = client(serve, account[1], retries={"mode": "standard", "total_max_attempts": 2})
    with pytest.raises(ClientError) as e:
        retrying.put_object(Bucket="faulty", Key="k", Body=b"x")
    assert code(e) == ("SlowDown", 503)
    assert e.value.response["Error"]["Message"] == "Please reduce your request rate."
    assert e.value.response["ResponseMetadata"]["RetryAttempts"] == 1
    # Reads are not covered by the rule, and the refused write committed nothing.
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="faulty", Key="k")
    assert code(e) == ("404", 404)


def test_boto3_retrying_a_lost_put_writes_every_attempt(serve, account, s3, faults):
    """Commit, then lose the response: each of boto3's retries commits again (a new version each)."""
    s3.create_bucket(Bucket="lost-puts")
    s3.put_bucket_versioning(Bucket="lost-puts", VersioningConfiguration={"Status": "Enabled"})
    faults({"service": "spaces", "method": "PUT", "path": "/lost-puts/report.csv",
            "drop_response": {}})
    retrying = client(serve, account[1], retries={"mode": "standard", "total_max_attempts": 3})
    with pytest.raises(Exception) as e:
        retrying.put_object(Bucket="lost-puts", Key="report.csv", Body=b"rows")
    assert "ClientError" not in type(e.value).__name__, e.value
    versions = s3.list_object_versions(Bucket="lost-puts", Prefix="report.csv")["Versions"]
    assert len(versions) == 3, versions
    assert s3.get_object(Bucket="lost-puts", Key="report.csv")["Body"].read() == b"rows"


def test_conditional_put_switch_per_account():
    """--spaces-conditional-put-for: one account's Spaces ignores If-None-Match, the others enforce it."""
    from conftest import start_serve, stop_serve
    lenient = "dop_v1_" + "1" * 64
    served = start_serve("--spaces-conditional-put-for", f"{lenient}=ignored")
    try:
        strict_key = make_key(served, served.fresh_token("strict"), [{"bucket": "", "permission": "fullaccess"}])
        lenient_key = make_key(served, lenient, [{"bucket": "", "permission": "fullaccess"}])
        for name, key in (("strict-bucket", strict_key), ("lenient-bucket", lenient_key)):
            s3 = client(served, key)
            s3.create_bucket(Bucket=name)
            s3.put_object(Bucket=name, Key="k", Body=b"first", IfNoneMatch="*")
            if name == "strict-bucket":
                with pytest.raises(ClientError) as e:
                    s3.put_object(Bucket=name, Key="k", Body=b"second", IfNoneMatch="*")
                assert code(e) == ("PreconditionFailed", 412)
                assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"first"
            else:
                s3.put_object(Bucket=name, Key="k", Body=b"second", IfNoneMatch="*")
                assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"second"
    finally:
        stop_serve(served)
