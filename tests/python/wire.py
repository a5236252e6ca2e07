"""A raw HTTP helper: what any client in any language sees on the wire."""
import json
import urllib.error
import urllib.request


class Response:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.raw = raw
        self.body = json.loads(raw) if raw.strip() else None

    def __repr__(self):
        return f"<{self.status} {self.raw[:300]!r}>"


def call(base, token, method, path, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return Response(resp.status, dict(resp.headers), resp.read().decode())
    except urllib.error.HTTPError as err:
        return Response(err.code, dict(err.headers), err.read().decode())
