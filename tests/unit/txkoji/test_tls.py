"""txkoji.tls: the one PEM loader; every bad file is one PEMError naming the file's key."""

from __future__ import annotations

import pytest
from twisted.internet import ssl

from tests.unit.pem import certificate
from txkoji import tls


def test_certificate_with_its_key_in_one_file_or_two(tmp_path):
    cert, key = certificate(tmp_path, "bot")
    both = tmp_path / "both.pem"
    both.write_bytes(cert.read_bytes() + key.read_bytes())
    for loaded in (tls.client_certificate(str(cert), str(key)),
                   tls.client_certificate(str(both))):
        assert isinstance(loaded, ssl.PrivateCertificate)
        assert loaded.getSubject().commonName == b"bot"


def test_a_key_that_is_not_the_certificates_is_refused(tmp_path):
    cert, _ = certificate(tmp_path, "one")
    _, other = certificate(tmp_path, "two")
    with pytest.raises(tls.PEMError) as info:
        tls.client_certificate(str(cert), str(other), names=("tls_cert", "tls_key"))
    assert str(info.value) == f"tls_key {other}: not the private key of tls_cert {cert}"
    assert (info.value.what, info.value.path) == ("tls_key", str(other))


@pytest.mark.parametrize(("content", "problem"), [
    (None, "No such file or directory"),
    (b"junk\n", "no PEM certificate in it"),
])
def test_unreadable_or_empty_ca_file(tmp_path, content, problem):
    path = tmp_path / "ca.pem"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(tls.PEMError) as info:
        tls.trust_root(str(path), "serverca")
    assert info.value.problem == problem
    assert "\n" not in str(info.value)
    if content is None:
        assert str(info.value) == f"cannot read serverca {path}: {problem}"


def test_certificate_without_a_key(tmp_path):
    cert, _ = certificate(tmp_path, "alone")
    with pytest.raises(tls.PEMError) as info:
        tls.client_certificate(str(cert))
    assert str(info.value) == f"cert {cert}: no PEM private key in it"


def test_client_options_present_the_certificate_with_or_without_verification(tmp_path):
    cert, key = certificate(tmp_path, "bot")
    assert tls.client_options("irc.example.test", ca=str(cert), cert=str(cert), key=str(key))
    unchecked = tls.client_options("irc.example.test", cert=str(cert), key=str(key),
                                   verify=False)
    assert unchecked.certificate is not None and unchecked.privateKey is not None
