"""Exceptions raised by txkoji: one class per koji fault code, and transport failures."""

from __future__ import annotations


class KojiException(Exception):
    """A failed Koji call. ``code`` is the hub's fault code (None for local errors)."""

    code: int | None = None

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class KojiTransportError(KojiException):
    """The hub could not be reached or did not answer in time (not a hub fault)."""

    def __init__(self, message: str, url: str):
        super().__init__(f"{message} ({url})")
        self.url = url


class KojiTimeout(KojiTransportError):
    """A call took longer than the connection's timeout."""


class ProfileError(KojiException):
    """A koji client configuration file cannot be read or holds a bad value."""


class ProfileNotFound(ProfileError):
    """No koji client configuration file defines the requested profile."""


class LoginNotSupported(KojiException):
    """The profile's authtype cannot be used (unknown, or its optional extra is missing)."""


# One class per koji fault code, named as koji names them.


class GenericError(KojiException):
    code = 1000


class LockError(KojiException):
    code = 1001


class AuthError(KojiException):
    code = 1002


class TagError(KojiException):
    code = 1003


class ActionNotAllowed(KojiException):
    code = 1004


class BuildError(KojiException):
    code = 1005


class AuthLockError(KojiException):
    code = 1006


class AuthExpired(KojiException):
    code = 1007


class SequenceError(KojiException):
    code = 1008


class RetryError(KojiException):
    code = 1009


class PreBuildError(KojiException):
    code = 1010


class PostBuildError(KojiException):
    code = 1011


class BuildrootError(KojiException):
    code = 1012


class FunctionDeprecated(KojiException):
    code = 1013


class ServerOffline(KojiException):
    code = 1014


class LiveCDError(KojiException):
    code = 1015


class PluginError(KojiException):
    code = 1016


class CallbackError(KojiException):
    code = 1017


class ApplianceError(KojiException):
    code = 1018


class ParameterError(KojiException):
    code = 1019


class KojiImportError(KojiException):
    """Fault 1020, which koji names ImportError; renamed here so as not to hide the builtin."""

    code = 1020


class ConfigurationError(KojiException):
    code = 1021


class LiveMediaError(KojiException):
    code = 1022


class GSSAPIAuthError(KojiException):
    code = 1023


class NameValidationError(KojiException):
    code = 1024


FAULTS: dict[int, type[KojiException]] = {
    cls.code: cls for cls in KojiException.__subclasses__() if cls.code is not None
}


def from_fault(code: int, message: str) -> KojiException:
    """The exception for a hub fault; an unknown code gives the base class."""
    return FAULTS.get(code, KojiException)(message, code)


def __getattr__(name: str):
    """``txkoji.exceptions.ImportError``: the old name of KojiImportError, deprecated."""
    if name == "ImportError":
        import warnings

        warnings.warn("txkoji.ImportError is deprecated: use txkoji.KojiImportError",
                      DeprecationWarning, stacklevel=2)
        return KojiImportError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
