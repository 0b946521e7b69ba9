"""Runs scim2-server's own CLI (`scim2-server ...`, same arguments) without its per-request log.

The CLI serves through wsgiref, whose handler writes one line per request to stderr. The sidecar
is benchmarked with its access log off (log level warn) and nginx with access_log off, so the
reference server's request log is silenced too. Nothing else changes.

Used by perf/run.sh:  target/bench/venv/bin/python perf/scim2_server_quiet.py --port N ...
"""

import sys
from wsgiref.simple_server import WSGIRequestHandler

from scim2_server.testserver.cli import main

WSGIRequestHandler.log_message = lambda self, *args: None

if __name__ == "__main__":
    sys.argv[0] = "scim2-server"
    sys.exit(main())
