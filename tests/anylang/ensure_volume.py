"""Two workers each "ensure" the volume `data` exists, with pydo, against $DIGITALOCEAN_API_URL.

The buggy way lists the volumes and creates `data` when the list does not show it: when both
workers list before either creates, the second create is refused (409, the name is taken) and
that worker fails. `--fixed` creates at once and takes "already exists" as success.

Run it under `dosim test -- python3 ensure_volume.py [--fixed]`.
"""

import os
import sys
import threading

import pydo
from azure.core.exceptions import HttpResponseError

FIXED = "--fixed" in sys.argv
PLAIN = {"enforce_https": False}
NAME, REGION = "data", "nyc3"
failures = []


def client():
    # retry_total=0: the program sees every response itself, as the fix must.
    return pydo.Client(
        os.environ["DIGITALOCEAN_TOKEN"],
        endpoint=os.environ["DIGITALOCEAN_API_URL"],
        retry_total=0,
    )


def create(do, headers):
    return do.volumes.create(
        {"name": NAME, "region": REGION, "size_gigabytes": 10},
        headers=headers,
        **PLAIN,
    )


def ensure_buggy(do, headers):
    listed = do.volumes.list(name=NAME, region=REGION, headers=headers, **PLAIN)
    if not listed["volumes"]:
        create(do, headers)


def ensure_fixed(do, headers):
    try:
        create(do, headers)
    except HttpResponseError as error:
        # 409: a volume of that name already exists in the region; someone else made it.
        if error.status_code not in (409, 422):
            raise


def worker(name):
    headers = {"x-dosim-actor": name}
    try:
        (ensure_fixed if FIXED else ensure_buggy)(client(), headers)
    except Exception as error:  # noqa: BLE001 - the program reports whatever failed
        failures.append(f"{name}: {error}")


threads = [threading.Thread(target=worker, args=(f"worker-{n}",)) for n in (1, 2)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
for failure in failures:
    print(failure, file=sys.stderr)
sys.exit(1 if failures else 0)
