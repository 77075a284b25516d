"""Koji's XML-RPC dialect, without a hub."""

import xmlrpc.client

import pytest
from hypothesis import given
from hypothesis import strategies as st

import txkoji
from txkoji import rpc

values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"))),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(alphabet="abcdefgh_", min_size=1), inner, max_size=4),
    max_leaves=12,
)


@given(st.lists(values, max_size=4))
def test_arguments_round_trip(args):
    params, method = xmlrpc.client.loads(rpc.encode_call("listBuilds", tuple(args)))
    assert method == "listBuilds"
    assert list(params) == args


def test_keyword_arguments_use_starstar():
    params, _ = xmlrpc.client.loads(rpc.encode_call("listTagged", ("f41",), {"latest": True}))
    assert params == ("f41", {"latest": True, "__starstar": True})


def test_64_bit_integers_are_i8():
    body = rpc.encode_call("getTaskInfo", (2**40,)).decode()
    assert "<i8>1099511627776</i8>" in body
    assert "<int>7</int>" in rpc.encode_call("getTaskInfo", (7,)).decode()


def test_integer_beyond_64_bits_is_refused():
    with pytest.raises(OverflowError):
        rpc.encode_call("getTaskInfo", (2**64,))


def test_response_is_munch():
    body = xmlrpc.client.dumps(({"id": 5, "extra": {"a": None}},), methodresponse=True,
                               allow_none=True)
    result = rpc.decode_response(body.encode())
    assert result.id == 5 and result.extra.a is None


@pytest.mark.parametrize("code,cls", [(1000, txkoji.GenericError), (1014, txkoji.ServerOffline),
                                      (1019, txkoji.ParameterError),
                                      (1024, txkoji.NameValidationError)])
def test_fault_maps_to_named_class(code, cls):
    body = xmlrpc.client.dumps(xmlrpc.client.Fault(code, "nope"), methodresponse=True)
    with pytest.raises(cls) as info:
        rpc.decode_response(body.encode())
    assert info.value.code == code and str(info.value) == "nope"
    assert isinstance(info.value, txkoji.KojiException)


def test_unknown_fault_code_is_base_class():
    body = xmlrpc.client.dumps(xmlrpc.client.Fault(1, "boom"), methodresponse=True)
    with pytest.raises(txkoji.KojiException) as info:
        rpc.decode_response(body.encode())
    assert type(info.value) is txkoji.KojiException and info.value.code == 1


def test_every_koji_fault_code_has_a_class():
    assert sorted(txkoji.exceptions.FAULTS) == list(range(1000, 1025))


def test_garbage_response_is_one_clear_error():
    with pytest.raises(txkoji.KojiException, match="unreadable XML-RPC response"):
        rpc.decode_response(b"<html>502 Bad Gateway</html>")


def test_multicall_results_keep_faults_in_place():
    out = rpc.multicall_results([[1], {"faultCode": 1019, "faultString": "bad"}, "junk"])
    assert out[0] == 1
    assert isinstance(out[1], txkoji.ParameterError)
    assert isinstance(out[2], txkoji.KojiException)


def test_fault_1020_is_koji_import_error_and_the_builtin_stays_unshadowed():
    import builtins
    import warnings

    import txkoji
    from txkoji.exceptions import from_fault

    assert type(from_fault(1020, "bad import")) is txkoji.KojiImportError
    namespace: dict = {}
    exec("from txkoji import *", namespace)
    assert "ImportError" not in namespace
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert txkoji.ImportError is txkoji.KojiImportError
    assert [str(w.message) for w in caught] == [
        "txkoji.ImportError is deprecated: use txkoji.KojiImportError"]
    assert builtins.ImportError is not txkoji.KojiImportError
