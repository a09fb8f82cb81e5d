"""``python -m scraper.testing [PORT]``: serve the test site on 127.0.0.1 (any free port if no
PORT), after printing its root URL on one line.

``python -m scraper.testing hosts PAGES LATENCY_S LOG``: serve the many-host site
(:mod:`scraper.testing.hosts`) on every interface, any free port, appending its access log to
LOG, after printing the port on one line."""

import sys
from pathlib import Path

from scraper.testing.hosts import HostsSpec, serve_hosts
from scraper.testing.site import listen, serve

if __name__ == "__main__":
    if sys.argv[1:2] == ["hosts"]:
        pages, latency, log = sys.argv[2:5]
        sock = listen(0, "0.0.0.0")
        sys.stdout.write(f"{sock.getsockname()[1]}\n")
        sys.stdout.flush()
        serve_hosts(HostsSpec(int(pages), float(latency)), sock, Path(log))
    else:
        listening = listen(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
        sys.stdout.write(f"http://127.0.0.1:{listening.getsockname()[1]}/\n")
        sys.stdout.flush()
        serve(listening)
