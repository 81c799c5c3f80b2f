"""A machine's command in tests: an HTTP server on a port, optionally slow to start."""

import http.server
import os
import sys
import time

port, delay = int(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
time.sleep(delay)
with open(os.path.join(os.getcwd(), "started.txt"), "w") as marker:
    marker.write(str(os.getpid()))
http.server.ThreadingHTTPServer(
    ("127.0.0.1", port), http.server.SimpleHTTPRequestHandler
).serve_forever()
