"""moto's server, handling one request at a time.

moto's in-memory backends are not thread-safe: a DynamoDB transaction deep-copies the
table to roll back from, and a write from another request thread during that copy fails
the transaction with an HTML 500. Real DynamoDB has no such failure, so the local stack
serialises requests instead. Python's GIL already runs moto one request at a time, so
this costs little throughput.

Usage: python scripts/moto_serial_server.py HOST PORT
"""

import signal
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

import moto_partition_query
import moto_transaction_rollback


class Serialised:
    """WSGI middleware: one request inside moto at a time, body fully produced under the lock."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            return list(self.app(environ, start_response))


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    moto_partition_query.install()
    moto_transaction_rollback.install()
    app = DomainDispatcherApplication(create_backend_app)
    # Requests still arrive on threads (the SDK keeps several connections open); only
    # moto's work is serialised.
    run_simple(host, port, Serialised(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
