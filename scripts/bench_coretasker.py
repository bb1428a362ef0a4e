#!/usr/bin/env python
"""What coreTasker's bookkeeping costs on top of the cloud it drives.

For each action, times N calls of the simulated driver alone (the baseline) and N
synchronous ``submit`` calls (workflow_task + plan + guarded transitions + the same
driver steps), in the same run on a throwaway test database, and prints medians
and the ratio. Usage (N small on a shared machine):

    .venv/bin/python scripts/bench_coretasker.py --n 50
    DATABASE_URL=mysql://root@127.0.0.1:3306/h_me .venv/bin/python scripts/bench_coretasker.py --n 50
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsplatform.test_settings")
os.environ["SIMCLOUD_ACTION_SECONDS"] = "0"  # measure the bookkeeping, not the simulated latency


def timed(fn, n):
    samples = []
    for i in range(n):
        started = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50, help="calls per measurement")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from coretasker.drivers.base import get_driver
        from coretasker.interface import CoreRequest, submit

        driver = get_driver()
        vm = {"site_id": "cn-east-1", "cpu_type": "amd_epyc_7763", "cpu": 1, "memory_gb": 1}

        def request(action, obj, i, **params):
            return CoreRequest(
                action=action,
                target_type="",
                target_obj=obj,
                site_id="cn-east-1",
                customer_id="bench",
                idempotency_key=f"bench-{action}-{obj}:{i}",
                params=params,
            )

        cases = [
            (
                "create_pipe (1 step)",
                lambda i: driver.execute(
                    "create_pipe", {"pipe_id": f"p-base-{i}", "site_id": "cn-east-1", "bandwidth_mbps": 1}
                ),
                lambda i: submit(request("create_pipe", f"p-core-{i}", i, bandwidth_mbps=1)),
            ),
            (
                "create_vm (3 steps)",
                lambda i: driver.execute("create_vm", {**vm, "vm_id": f"vm-base-{i}"}),
                lambda i: submit(request("create_vm", f"vm-core-{i}", i, **vm)),
            ),
        ]
        print(f"database: {connection.vendor}, N={args.n}, driver: {driver.name}")
        for name, baseline, core in cases:
            base_ms, core_ms = timed(baseline, args.n), timed(core, args.n)
            print(
                f"{name:22} driver alone median {base_ms:7.2f} ms | submit (sync) median {core_ms:7.2f} ms"
                f" | ratio {core_ms / base_ms:5.2f}x"
            )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
