"""Fuzzes `dosim serve` from DigitalOcean's spec with schemathesis: every operation dosim serves,
with the spec's examples, its boundary values and generated inputs, seeded so that a run repeats.
No request may get a 5xx, every documented response must match its schema, and the server must
still stop cleanly afterwards (a panic or a stall would fail that)."""
import pathlib
import re
import subprocess
import sys

from conftest import ROOT, start_serve, stop_serve

SPEC = ROOT / "tests" / "data" / "openapi" / "fuzz-openapi.json"
# schemathesis's command line, installed beside this interpreter by tests/python/requirements.txt.
ST = pathlib.Path(sys.executable).with_name("st")


def test_the_api_survives_the_spec_fuzzed():
    served = start_serve("--rate-limit-hourly", "1000000000", "--rate-limit-burst", "1000000000")
    try:
        result = subprocess.run(
            [str(ST), "run", str(SPEC), "--url", served.url,
             "-H", f"Authorization: Bearer {served.token}",
             "--checks", "not_a_server_error,response_schema_conformance",
             "--phases", "examples,coverage,fuzzing",
             # Deterministic generation keeps no example database: every run starts from the seed.
             "--max-examples", "10", "--seed", "2", "--generation-deterministic",
             "--workers", "1", "--request-timeout", "20"],
            capture_output=True, text=True, timeout=900,
        )
    finally:
        stop_serve(served)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-30000:]
    generated = re.search(r"(\d+) generated", output)
    assert generated and int(generated.group(1)) >= 1000, output[-5000:]
    assert "panicked" not in "".join(served.lines), "".join(served.lines)[-5000:]
