"""A paced latency probe: GET a URL at a fixed rate over one kept-alive
connection for a while, then print the latency percentiles.

Unlike wrk (a closed loop that sends as fast as the server answers), this
measures what an ordinary request sees while something else loads the
server, without itself becoming the load.

usage: python3 probe.py URL SECONDS RATE [HEADER: VALUE ...]
prints: "<count> <non-2xx> <p50 ms> <p99 ms> <max ms>"
"""

import http.client
import sys
import time
from urllib.parse import urlsplit


def main() -> None:
    url, seconds, rate = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    headers = dict(h.split(": ", 1) for h in sys.argv[4:])
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    latencies, bad = [], 0
    interval = 1.0 / rate
    start = time.monotonic()
    next_at = start
    while time.monotonic() - start < seconds:
        now = time.monotonic()
        if now < next_at:
            time.sleep(next_at - now)
        next_at += interval
        t0 = time.perf_counter()
        try:
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            resp.read()
            ok = 200 <= resp.status < 300
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
            ok = False
        latencies.append((time.perf_counter() - t0) * 1000)
        bad += 0 if ok else 1
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))]

    print(f"{len(latencies)} {bad} {pct(50):.2f} {pct(99):.2f} {latencies[-1]:.2f}")


if __name__ == "__main__":
    main()
