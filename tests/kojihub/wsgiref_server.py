"""Serve koji's hub with Python's wsgiref, as a quick hub deployment would.

wsgiref answers HTTP/1.0 and closes the connection after each answer without saying
`Connection: close`: the shape that trips persistent HTTP clients. Run by
tests/hubservers.py with Debian's python3 (the hub imports `rpm`); imports nothing from
the project. Writes {"pid", "port"} to --ready once it listens.
"""

import argparse
import json
import os
import socketserver
import sys
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer


class CappedInput:
    """wsgi.input that ends at CONTENT_LENGTH: the hub reads its body to EOF (as mod_wsgi
    allows), and wsgiref's raw socket stream would block there instead."""

    def __init__(self, stream, length):
        self.stream = stream
        self.left = length

    def read(self, size=-1):
        if self.left <= 0:
            return b""
        size = self.left if size is None or size < 0 else min(size, self.left)
        data = self.stream.read(size)
        self.left -= len(data)
        return data


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """wsgiref's server, a thread per connection so concurrent clients are not queued."""

    daemon_threads = True
    request_queue_size = 64


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdist", required=True, help="koji source tree (koji/ and hub/)")
    parser.add_argument("--config", required=True, help="hub.conf")
    parser.add_argument("--config-dir", required=True, help="hub.conf.d")
    parser.add_argument("--ready", required=True, help="file to write pid and port to")
    args = parser.parse_args()

    sys.path[:0] = [os.path.join(args.sdist, "hub"), args.sdist]
    import kojixmlrpc

    extra = {
        "SCRIPT_FILENAME": os.path.join(args.sdist, "hub", "kojixmlrpc.py"),
        "koji.hub.ConfigFile": args.config,
        "koji.hub.ConfigDir": args.config_dir,
    }

    def application(environ, start_response):
        environ.update(extra)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        environ["wsgi.input"] = CappedInput(environ["wsgi.input"], length)
        return kojixmlrpc.application(environ, start_response)

    server = ThreadingWSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    server.set_app(application)
    with open(args.ready + ".tmp", "w") as fo:
        json.dump({"pid": os.getpid(), "port": server.server_address[1]}, fo)
    os.replace(args.ready + ".tmp", args.ready)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
