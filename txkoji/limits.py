"""How long a text from the bus or the hub may be: every cap in one place.

Koji's own schema (docs/schema.sql of koji 1.30) bounds some names: ``users.name`` and
Kerberos principals are VARCHAR(255), host and channel names VARCHAR(128), an arch
VARCHAR(16), a task's label VARCHAR(255); the hub refuses tag, target and other internal
names longer than ``MaxNameLengthInternal`` (256 by default). Package names, versions,
releases and task methods are TEXT without a limit: their caps below are far above any real
one. Nothing legitimate is cut; a 10 MB owner name from a broken or hostile publisher is.

A capped text keeps its first characters and ends with an ellipsis: still recognisable,
visibly cut. ``capped`` walks a decoded JSON or XML-RPC value (no recursion, so any depth
the decoder accepted is fine) and caps each text by the key that holds it.
"""

from __future__ import annotations

import math
from typing import Any

ELLIPSIS = "…"

USER = 255  # users.name, user_krb_principals.krb_principal
HOST = 128  # host.name, channels.name
ARCH = 16  # task.arch, rpminfo.arch
LABEL = 255  # task.label
NAME = 256  # MaxNameLengthInternal: tags, targets; package names (TEXT) alike
VERSION = 255  # a version or a release (TEXT)
NVR = NAME + 2 * VERSION + 2
METHOD = 64  # a task method (TEXT; koji's longest is under 30)
ACTION = 32  # a package-list action word (add, block...)
SUMMARY = 400  # free text: a description, a comment, a fault string, a reason
ROUTING_KEY = 255  # an AMQP 0-9-1 short string
MESSAGE_ID = 255
INSTANCE = 100  # a hub instance's name (Fedora: primary, s390...)
DNS_NAME = 253
OTHER = 1024  # any other text: an SCM URL, a path, a value of ``extra``
REQUEST = math.inf  # a task request as raw XML-RPC (protonmsg) stays whole: once decoded,
#                    its texts are capped (an XML document cut short would not decode)

# The key a text is held under in a hub record or a bus body → its cap.
FIELDS: dict[str, float] = {
    "name": NAME, "package_name": NAME, "tag_name": NAME, "target_name": NAME,
    "build_tag_name": NAME, "dest_tag_name": NAME, "tag": NAME, "package": NAME,
    "version": VERSION, "release": VERSION, "nvr": NVR,
    "owner": USER, "owner_name": USER, "user": USER, "user_name": USER,
    "krb_principal": USER, "krb_principals": USER,
    "host_name": HOST, "channel_name": HOST,
    "arch": ARCH, "label": LABEL, "method": METHOD, "action": ACTION,
    "description": SUMMARY, "comment": SUMMARY, "reason": SUMMARY, "faultString": SUMMARY,
    "instance": INSTANCE, "request": REQUEST,
}
# A user record (getUser, listUsers): its ``name`` is a user name.
USER_FIELDS = {**FIELDS, "name": USER}


def cap(text: str, limit: int) -> str:
    """*text*, or its first ``limit - 1`` characters and an ellipsis."""
    return text if len(text) <= limit else text[:limit - 1] + ELLIPSIS


def capped(value: Any, fields: dict[str, float] = FIELDS) -> Any:
    """*value* with every text in it capped (dicts and lists changed in place): by the
    key holding it (*fields*), else at OTHER."""
    if type(value) is str:
        return cap(value, OTHER)
    stack = [(value, OTHER)]
    while stack:
        node, limit = stack.pop()
        if isinstance(node, dict):
            for key, item in node.items():
                if type(item) is str:
                    most = fields.get(key, OTHER)
                    if len(item) > most:
                        node[key] = cap(item, int(most))
                elif isinstance(item, (dict, list)):
                    stack.append((item, min(fields.get(key, OTHER), OTHER)))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                if type(item) is str:
                    if len(item) > limit:
                        node[index] = cap(item, limit)
                elif isinstance(item, (dict, list)):
                    stack.append((item, limit))
    return value
