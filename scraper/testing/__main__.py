"""``python -m scraper.testing [PORT]``: serve the test site on 127.0.0.1 (any free port if no
PORT), after printing its root URL on one line."""

import sys

from scraper.testing.site import listen, serve

if __name__ == "__main__":
    listening = listen(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    sys.stdout.write(f"http://127.0.0.1:{listening.getsockname()[1]}/\n")
    sys.stdout.flush()
    serve(listening)
