"""Serve koji's real hub (from the unpacked sdist) over HTTP and HTTPS on 127.0.0.1.

Run by KojiHub with Debian's /usr/bin/python3, because kojihub imports `rpm`, which only
Debian's python3-rpm provides; so this file imports nothing from the project and works
with Debian's Twisted 22.4. It stands in for Apache + mod_wsgi + mod_ssl: the HTTPS port
asks for an optional client certificate and passes what it finds in the mod_ssl environ
keys the hub's sslLogin reads. While `<workdir>/offline` exists the hub itself answers in
ServerOffline mode, so clients meet a real fault 1014.
"""

import argparse
import functools
import importlib
import json
import os
import sys

NEEDED = ("rpm", "psycopg2", "dateutil", "requests", "six", "OpenSSL", "twisted.web.wsgi")


def fail(message):
    """One line the parent process picks out of the log to say why the hub did not start."""
    print(f"kojihub-server: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdist", required=True, help="unpacked koji sdist")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--config", required=True, help="hub.conf")
    parser.add_argument("--config-dir", required=True, help="hub.conf.d")
    parser.add_argument("--kojidir", required=True, help="KojiDir, also served as topurl")
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--plugin-conf-dir", required=True,
                        help="<plugin>.conf files here replace a plugin's CONFIG_FILE")
    return parser.parse_args()


def import_hub(sdist):
    for name in NEEDED:
        try:
            importlib.import_module(name)
        except ImportError:
            fail(f"{sys.executable} cannot import {name}")
    sys.path[:0] = [sdist, os.path.join(sdist, "hub")]
    import kojixmlrpc

    return kojixmlrpc


def set_up(hub, environ, plugin_conf_dir):
    """Let the hub load its config, kojihub and plugins now, so errors show at start."""
    hub.application(dict(environ, REQUEST_METHOD="GET"), lambda *args: None)
    if hub.opts.get("ServerOffline"):
        fail(f"hub setup failed: {hub.opts.get('OfflineMessage')}")
    for name in hub.opts.get("Plugins", "").split():
        module = sys.modules.get(f"_koji_plugin__{name}")
        conf = os.path.join(plugin_conf_dir, f"{name}.conf")
        if module is not None and hasattr(module, "CONFIG_FILE") and os.path.exists(conf):
            module.CONFIG_FILE = conf


def serve_hub(hub, offline_flag, extra, environ, start_response):
    """The WSGI app: the hub, offline exactly while the flag file exists."""
    environ.update(extra)
    hub.opts["ServerOffline"] = os.path.exists(offline_flag)
    return hub.application(environ, start_response)


def _dn(name):
    parts = [(key.decode(), value.decode()) for key, value in name.get_components()]
    return ",".join(f"{key}={value}" for key, value in reversed(parts)), parts


def tls_environ(request):
    """mod_ssl's view of the client certificate (the handshake already verified it)."""
    env = {"HTTPS": "on"}
    peer = getattr(request.transport, "getPeerCertificate", None)
    cert = peer() if peer else None
    if cert is None:
        env["SSL_CLIENT_VERIFY"] = "NONE"
        return env
    env["SSL_CLIENT_VERIFY"] = "SUCCESS"
    env["SSL_CLIENT_M_SERIAL"] = format(cert.get_serial_number(), "X")
    for prefix, name in (("S", cert.get_subject()), ("I", cert.get_issuer())):
        text, parts = _dn(name)
        env[f"SSL_CLIENT_{prefix}_DN"] = text
        for key, value in parts:
            env.setdefault(f"SSL_CLIENT_{prefix}_DN_{key}", value)
    return env


def main():
    args = parse_args()
    hub = import_hub(args.sdist)

    from twisted.internet import reactor, ssl
    from twisted.logger import globalLogBeginner, textFileLogObserver
    from twisted.web import resource, server, static
    from twisted.web.wsgi import WSGIResource

    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)],
                                     redirectStandardIO=False)
    base = {
        "SCRIPT_FILENAME": os.path.join(args.sdist, "hub", "kojixmlrpc.py"),
        "koji.hub.ConfigFile": args.config,
        "koji.hub.ConfigDir": args.config_dir,
    }
    set_up(hub, base, args.plugin_conf_dir)
    app = functools.partial(serve_hub, hub, os.path.join(args.workdir, "offline"))

    class HubResource(resource.Resource):
        """/kojihub (and its /ssllogin) for one port; adds the per-request environ."""

        isLeaf = True  # noqa: N815 (Twisted's name)

        def __init__(self, tls):
            super().__init__()
            self.tls = tls

        def render(self, request):
            extra = dict(base, **(tls_environ(request) if self.tls else {}))
            wsgi = WSGIResource(reactor, reactor.getThreadPool(),
                                functools.partial(app, extra))
            return wsgi.render(request)

    def site(tls):
        root = resource.Resource()
        root.putChild(b"kojihub", HubResource(tls))
        root.putChild(b"ssllogin", HubResource(tls))
        root.putChild(b"kojifiles", static.File(args.kojidir))
        return server.Site(root)

    with open(args.cert) as cert, open(args.key) as key, open(args.ca) as ca:
        identity = ssl.PrivateCertificate.loadPEM(cert.read() + key.read())
        authority = ssl.Certificate.loadPEM(ca.read())
    options = ssl.CertificateOptions(
        privateKey=identity.privateKey.original, certificate=identity.original,
        verify=True, caCerts=[authority.original], requireCertificate=False)
    http = reactor.listenTCP(0, site(False), interface="127.0.0.1")
    https = reactor.listenSSL(0, site(True), options, interface="127.0.0.1")

    ready = os.path.join(args.workdir, "server.json")
    with open(ready + ".tmp", "w") as fo:
        json.dump({"pid": os.getpid(), "http": http.getHost().port,
                   "https": https.getHost().port}, fo)
    os.replace(ready + ".tmp", ready)
    reactor.run()


if __name__ == "__main__":
    main()
