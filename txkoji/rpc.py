"""Koji's XML-RPC dialect without I/O: request bodies in, results or exceptions out.

Koji extends XML-RPC in three ways: keyword arguments travel as a final struct flagged
``__starstar``, ``None`` is ``<nil/>``, and integers beyond 32 bits are ``<i8>``.
"""

from __future__ import annotations

import xmlrpc.client
from typing import Any
from xml.parsers.expat import ExpatError

from munch import munchify

from txkoji.exceptions import KojiException, from_fault

_UNREADABLE = (ExpatError, xmlrpc.client.ResponseError, ValueError, TypeError)
_I4_MIN, _I4_MAX = -(2**31), 2**31 - 1
_I8_MIN, I8_MAX = -(2**63), 2**63 - 1  # I8_MAX: the largest id a hub can be sent


class _Marshaller(xmlrpc.client.Marshaller):
    """The stdlib marshaller, plus ``<i8>`` for integers beyond 32 bits."""

    dispatch = dict(xmlrpc.client.Marshaller.dispatch)

    def dump_int(self, value, write):
        if _I4_MIN <= value <= _I4_MAX:
            write(f"<value><int>{value}</int></value>\n")
        elif _I8_MIN <= value <= I8_MAX:
            write(f"<value><i8>{value}</i8></value>\n")
        else:
            raise OverflowError(f"integer {value} exceeds 64 bits")

    dispatch[int] = dump_int
    dispatch[bool] = xmlrpc.client.Marshaller.dump_bool


def encode_args(args: tuple, kwargs: dict) -> tuple:
    """Positional arguments with keyword arguments appended in koji's ``__starstar`` form."""
    if not kwargs:
        return tuple(args)
    return (*args, {**kwargs, "__starstar": True})


def encode_call(method: str, args: tuple = (), kwargs: dict | None = None) -> bytes:
    """The UTF-8 request body for one call."""
    params = encode_args(args, kwargs or {})
    body = _Marshaller("utf-8", allow_none=True).dumps(params)
    name = xmlrpc.client.escape(method)
    return (
        "<?xml version='1.0'?>\n<methodCall>\n"
        f"<methodName>{name}</methodName>\n{body}</methodCall>\n"
    ).encode()


def decode_response(body: bytes) -> Any:
    """The call's result as Munch/list/scalars, or the hub's fault raised as an exception."""
    try:
        (result,), _ = xmlrpc.client.loads(body, use_builtin_types=True)
    except xmlrpc.client.Fault as fault:
        raise from_fault(fault.faultCode, fault.faultString) from None
    except _UNREADABLE as exc:
        raise KojiException(f"unreadable XML-RPC response: {exc}") from None
    return munchify(result)


def decode_call(body: bytes) -> tuple[str, tuple, dict]:
    """The hub's side of encode_call: method, positional and keyword arguments."""
    params, method = decode_request(body)
    if method is None:
        raise KojiException("unreadable XML-RPC request: no method name")
    if params and isinstance(params[-1], dict) and params[-1].get("__starstar"):
        kwargs = {key: value for key, value in params[-1].items() if key != "__starstar"}
        return method, params[:-1], kwargs
    return method, params, {}


def encode_response(value: Any) -> bytes:
    """The hub's answer to a call, in koji's dialect (``<nil/>``, ``<i8>``)."""
    body = _Marshaller("utf-8", allow_none=True).dumps((value,))
    return f"<?xml version='1.0'?>\n<methodResponse>\n{body}</methodResponse>\n".encode()


def encode_fault(code: int, message: str) -> bytes:
    """The hub's fault answer (``faultCode``, ``faultString``)."""
    return xmlrpc.client.dumps(xmlrpc.client.Fault(code, message), methodresponse=True,
                               encoding="utf-8").encode()


def decode_request(request: str | bytes) -> tuple[tuple, str | None]:
    """Parameters and method of a raw ``<methodCall>`` document (koji stores task requests so)."""
    try:
        return xmlrpc.client.loads(request, use_builtin_types=True)
    except _UNREADABLE as exc:
        raise KojiException(f"unreadable XML-RPC request: {exc}") from None


def multicall_results(values: list) -> list:
    """Unpack ``system.multicall`` answers: each is a one-item list or a fault struct.

    Faults become exception instances in place, so one failed call does not hide the rest.
    """
    out: list = []
    for value in values:
        if isinstance(value, list) and len(value) == 1:
            out.append(value[0])
        elif isinstance(value, dict) and "faultCode" in value:
            out.append(from_fault(value["faultCode"], value.get("faultString", "")))
        else:
            out.append(KojiException(f"malformed multicall answer: {value!r:.200}"))
    return out


class MethodProxy:
    """``koji.getBuild`` or ``koji.host.getID``: calls ``sender.call(name, ...)``."""

    def __init__(self, sender: Any, name: str):
        self._sender = sender
        self._name = name

    def __getattr__(self, name: str) -> MethodProxy:
        if name.startswith("_"):
            raise AttributeError(name)
        return MethodProxy(self._sender, f"{self._name}.{name}")

    def __call__(self, *args, **kwargs) -> Any:
        return self._sender.call(self._name, *args, **kwargs)
