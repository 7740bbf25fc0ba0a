"""A sandbox's way out through its egress proxy, next to the same requests made from the
proxy's own vantage (the host side): latency of a small GET on a new connection, and the
throughput of a large body. Run against the network lab of tests/network, so nothing leaves
the machine."""

import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.bays import api, config, running
from bench.model import Row
from tests.bay_process import BayProcess
from tests.network import lab

ROUNDS = 200
LARGE = 200 * 1000**2

# Prints the median seconds of ROUNDS small GETs (each on a new connection), then the
# seconds a LARGE GET took; standard library only, so it runs in a sandbox and on the host.
PROBE = f"""
import http.client, statistics, sys, time
host = sys.argv[1]
def get(path):
    started = time.perf_counter()
    conn = http.client.HTTPConnection(host, 80, timeout=60)
    conn.request("GET", path)
    body = conn.getresponse()
    size = 0
    while chunk := body.read(1 << 20):
        size += len(chunk)
    conn.close()
    return time.perf_counter() - started, size
small = [get("/bytes/100")[0] for _ in range({ROUNDS})]
seconds, size = get("/bytes/{LARGE}")
assert size == {LARGE}, size
print(statistics.median(small), seconds)
"""


def scenario(drivers: list[str]) -> list[Row]:
    reason = lab.available()
    if reason is not None:
        return [Row("egress", f"skipped: the network lab cannot be built ({reason})", "")]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-egress-") as tmp, lab.lab(Path(tmp)) as built:
        host_small, host_large = _probe(["ip", "netns", "exec", built.host, sys.executable])
        rows += _rows("host (the proxy's side)", host_small, host_large)
        for driver in drivers:
            if driver.endswith("runsc"):
                continue  # gVisor here runs with --network=none
            settings = config(driver=_egress(built.host))
            settings["profiles"][0]["network"] = "internet"
            with running(driver, settings) as bay:
                small, large = asyncio.run(_in_sandbox(bay))
            rows += _rows(f"{driver} sandbox", small, large)
    return rows


def _egress(namespace: str) -> dict[str, object]:
    egress = {"egress": {"namespace": namespace}}
    return {"local": egress, "docker": egress}


def _probe(python: list[str]) -> tuple[float, float]:
    done = subprocess.run(
        [*python, "-c", PROBE, lab.PUBLIC], capture_output=True, text=True, check=True
    )
    small, large = done.stdout.split()
    return float(small), float(large)


async def _in_sandbox(bay: BayProcess) -> tuple[float, float]:
    async with api(bay) as client:
        sandbox_id = await client.create()
        await client.http.put(
            f"/v1/sandboxes/{sandbox_id}/filesystem/files",
            json={"path": "probe.py", "content": PROBE},
        )
        done = await client.shell(sandbox_id, f"python3 probe.py {lab.PUBLIC}")
        await client.delete(sandbox_id)
    if done["exit_code"] != 0:
        raise RuntimeError(f"the probe failed in the sandbox: {done}")
    small, large = str(done["output"]).split()
    return float(small), float(large)


def _rows(where: str, small: float, large: float) -> list[Row]:
    return [
        Row("egress", f"{where}: GET 100 B, new connection", "ms", value=round(small * 1000, 2)),
        Row(
            "egress",
            f"{where}: GET 200 MB",
            "MB/s",
            value=round(LARGE / large / 1e6, 1),
        ),
    ]
