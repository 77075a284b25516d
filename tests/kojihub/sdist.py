"""Fetch and unpack the koji 1.30.0 sdist, the last PyPI release that ships the hub.

`pip install koji` never installs the hub, so the test suite runs it from the unpacked
source tree kept in a per-user cache (once downloaded, no network is needed).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "1.30.0"
ARCHIVE = f"koji-{VERSION}.tar.gz"
SHA256 = "0250d11d10dae9f58ec67318a230f2d5154ced05c0078980ec7ba438dc98bb77"
# Files the fixture needs from the tree; their presence marks a complete unpack.
REQUIRED = ("hub/kojixmlrpc.py", "hub/kojihub.py", "koji/__init__.py", "docs/schema.sql")


class FetchError(Exception):
    """The sdist is not in the cache and could not be downloaded or verified."""


def cache_dir() -> Path:
    """Where downloads live: $KOJIBOT_TEST_CACHE, else ~/.cache/kojibot-tests."""
    env = os.environ.get("KOJIBOT_TEST_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "kojibot-tests"


def tree() -> Path:
    """The unpacked source tree (may not exist yet)."""
    return cache_dir() / f"koji-{VERSION}"


def find() -> Path | None:
    """The unpacked tree if it is complete, else None; never touches the network."""
    root = tree()
    if all((root / name).is_file() for name in REQUIRED):
        return root
    return None


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fo:
        for chunk in iter(lambda: fo.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(dest: Path) -> Path:
    """Download the archive with pip into *dest* and verify its checksum."""
    archive = dest / ARCHIVE
    if not archive.is_file() or sha256(archive) != SHA256:
        with tempfile.TemporaryDirectory(dir=dest) as tmp:
            cmd = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
                   "--no-deps", "--no-binary", ":all:", "-d", tmp, f"koji=={VERSION}"]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            got = Path(tmp) / ARCHIVE
            if proc.returncode or not got.is_file():
                last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                raise FetchError(f"pip download koji=={VERSION} failed: {last}")
            os.replace(got, archive)
    actual = sha256(archive)
    if actual != SHA256:
        archive.unlink()
        raise FetchError(f"{ARCHIVE} has sha256 {actual}, expected {SHA256}")
    return archive


def unpack(archive: Path, dest: Path) -> Path:
    """Unpack into a temporary directory, then move into place atomically."""
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        target = tree()
        if target.exists():
            shutil.rmtree(target)
        os.replace(Path(tmp) / f"koji-{VERSION}", target)
    return target


def fetch() -> Path:
    """Make sure the unpacked tree exists; download only when it does not. Idempotent."""
    found = find()
    if found:
        return found
    dest = cache_dir()
    dest.mkdir(parents=True, exist_ok=True)
    root = unpack(download(dest), dest)
    if find() is None:
        raise FetchError(f"{root} lacks one of {', '.join(REQUIRED)} after unpacking")
    return root
