"""A throwaway certificate authority, made with the openssl CLI, for the hub's HTTPS port.

sslLogin is only testable with real client certificates signed by a CA the server trusts;
EC keys keep the whole set well under a tenth of a second.
"""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

SUBJECT_O = "kojibot tests"
DAYS = "30"
EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def _openssl(*args: str, stdin: bytes | None = None) -> bytes:
    proc = subprocess.run(["openssl", *args], input=stdin, capture_output=True)
    if proc.returncode:
        raise RuntimeError(f"openssl {args[0]} failed: {proc.stderr.decode().strip()}")
    return proc.stdout


class TestCA:
    """A CA in *directory*, issuing one server certificate and client certificates."""

    __test__ = False  # not a pytest test class

    def __init__(self, directory: Path):
        self.dir = directory
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.cert = self.dir / "ca.crt"
        self.key = self.dir / "ca.key"
        _openssl("req", "-x509", *EC_KEY, "-keyout", str(self.key), "-out", str(self.cert),
                 "-days", DAYS, "-subj", f"/O={SUBJECT_O}/CN=kojibot test CA")

    def issue(self, name: str, common_name: str, extensions: str) -> tuple[Path, Path]:
        """Create name.key and name.crt (with *extensions*) and name.pem (both together)."""
        key, crt, ext = (self.dir / f"{name}.{suffix}" for suffix in ("key", "crt", "ext"))
        ext.write_text(extensions)
        csr = _openssl("req", "-new", *EC_KEY, "-keyout", str(key),
                       "-subj", f"/O={SUBJECT_O}/CN={common_name}")
        _openssl("x509", "-req", "-CA", str(self.cert), "-CAkey", str(self.key),
                 "-set_serial", str(secrets.randbits(63)), "-days", DAYS,
                 "-extfile", str(ext), "-out", str(crt), stdin=csr)
        ext.unlink()
        (self.dir / f"{name}.pem").write_bytes(crt.read_bytes() + key.read_bytes())
        return crt, key

    def server(self) -> tuple[Path, Path]:
        """The hub's certificate, valid for 127.0.0.1 and localhost."""
        return self.issue("server", "localhost",
                          "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                          "extendedKeyUsage=serverAuth\n")

    def client(self, user: str) -> tuple[Path, Path]:
        """A client certificate whose subject CN is *user* (what sslLogin maps to a user)."""
        return self.issue(f"client-{user}", user, "extendedKeyUsage=clientAuth\n")
