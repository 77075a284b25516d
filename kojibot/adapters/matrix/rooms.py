"""Matrix without I/O: settings, invite policy, what a room event means to the bot, and the
content of what it sends. The adapter (``matrix``) feeds raw event dicts in and sends the
dicts that come out; these functions are tested without a homeserver.
"""

from __future__ import annotations

import html as html_module
import re
from collections.abc import Iterable, Mapping

from kojibot.chat import render
from kojibot.chat.model import Incoming, Reply
from kojibot.config.matrix import server_of

OPERATOR_LEVEL = 50  # Matrix's usual moderator level; enough to change a room's subscriptions
CREATOR_LEVEL = 2**53  # a room version 12 creator: above any power level
TIMELINE_LIMIT = 50  # events per room per sync; older ones in a busy room are not seen
ANYONE = {"anyone", "*"}

# Long-poll syncs carry only what the bot reads: no presence, typing or receipts.
SYNC_FILTER = {"presence": {"not_types": ["*"]},
               "room": {"timeline": {"limit": TIMELINE_LIMIT},
                        "ephemeral": {"not_types": ["*"]}}}
# The very first sync only learns the rooms' state: old messages are history, not commands.
FIRST_SYNC_FILTER = {"presence": {"not_types": ["*"]},
                     "room": {"timeline": {"limit": 1}, "ephemeral": {"not_types": ["*"]}}}


def may_invite(entries: Iterable[str], inviter: str, own_server: str) -> bool:
    """Whether the auto_join policy accepts an invite from *inviter*: ``anyone``, a listed
    user id, or a listed server; with no entries, people on the bot's own server."""
    entries = [entry.strip() for entry in entries if entry.strip()] or [own_server]
    for entry in entries:
        if entry.lower() in ANYONE:
            return True
        if entry.startswith("@"):
            if entry.lower() == inviter.lower():
                return True
        elif entry.lstrip(":").lower() == server_of(inviter).lower():
            return True
    return False


def command_text(content: Mapping) -> str | None:
    """The text of a message the bot should read: ``m.text`` only (notices are other bots,
    edits were answered already), a reply's quoted fallback removed, lines joined."""
    if content.get("msgtype") != "m.text" or not isinstance(content.get("body"), str):
        return None
    relates = content.get("m.relates_to")
    if isinstance(relates, Mapping) and relates.get("rel_type") == "m.replace":
        return None
    body: str = content["body"]
    if isinstance(relates, Mapping) and "m.in_reply_to" in relates:
        lines = body.split("\n")
        while lines and lines[0].startswith(">"):
            lines.pop(0)
        body = "\n".join(lines)
    text = " ".join(body.split("\n")).strip()
    return text or None


def is_own_join(event: Mapping, me: str) -> bool:
    """Our own membership becoming ``join`` (not a display-name change while joined)."""
    content = event.get("content") or {}
    previous = (event.get("unsigned") or {}).get("prev_content") or {}
    return (event.get("type") == "m.room.member" and event.get("state_key") == me
            and content.get("membership") == "join" and previous.get("membership") != "join")


def fresh_events(events: list[Mapping], me: str) -> list[Mapping]:
    """The timeline events after our own join in this batch: what came before it is
    history the room shows newcomers, not commands for us (all of them if we did not
    join in this batch)."""
    start = 0
    for index, event in enumerate(events):
        if is_own_join(event, me):
            start = index + 1
    return events[start:]


def own_membership(events: Iterable[Mapping], me: str) -> Mapping | None:
    """The last change of our own membership among *events*."""
    found = None
    for event in events:
        if event.get("type") == "m.room.member" and event.get("state_key") == me:
            found = event
    return found


def privileged_creators(create: Mapping) -> frozenset[str]:
    """Who outranks every power level in a room, from its ``m.room.create`` event: from
    room version 12 on, its creators (and they are not listed in ``m.room.power_levels``)."""
    content = create.get("content") or {}
    version = str(content.get("room_version", "1"))
    if not (version.isdigit() and int(version) >= 12) and version != "org.matrix.hydra.11":
        return frozenset()
    extra = content.get("additional_creators")
    extra = [user for user in extra if isinstance(user, str)] if isinstance(extra, list) else []
    return frozenset([create.get("sender"), *extra]) - {None}


def incoming(event: Mapping, *, network: str, room_id: str, me: str, bot_name: str,
             direct: bool, level: int) -> Incoming | None:
    """What the core hears from one timeline event (None for anything but a person's text)."""
    sender = event.get("sender")
    if event.get("type") != "m.room.message" or not isinstance(sender, str) or sender == me:
        return None
    text = command_text(event.get("content") or {})
    if text is None:
        return None
    return Incoming(network=network, sender=sender, text=text,
                    room=None if direct else room_id, account=sender,
                    operator=level >= OPERATOR_LEVEL, bot_name=bot_name,
                    reply_to=event.get("event_id"))


def reply_content(reply: Reply, thread: str | None = None) -> dict:
    """An ``m.notice``: plain body, HTML formatted_body, a reply to the command's event (in
    its *thread* if it was said in one), the asker as an intentional mention (``m.mentions``
    and a pill) and no one else: ``@room`` or a Matrix id in Koji text is made inert."""
    html = inert_html(render.html(reply.message))
    mentions: list[str] = []
    if reply.mention and reply.mention.startswith("@") and not reply.target.direct:
        mentions = [reply.mention]
        html = f"{pill(reply.mention)}: {html}"
    content: dict = {"msgtype": "m.notice", "body": inert(render.plain(reply.message)),
                     "format": "org.matrix.custom.html", "formatted_body": html,
                     "m.mentions": {"user_ids": mentions} if mentions else {}}
    if thread:
        content["m.relates_to"] = {"rel_type": "m.thread", "event_id": thread,
                                   "is_falling_back": False}
        if reply.reply_to:
            content["m.relates_to"]["m.in_reply_to"] = {"event_id": reply.reply_to}
    elif reply.reply_to:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply.reply_to}}
    return content


def edit_content(content: dict, original: str) -> dict:
    """*content* as an edit (``m.replace``) of the event *original*: the new content in
    ``m.new_content``, and a ``* ``-marked fallback for clients that do not apply edits.
    In an encrypted room ``m.relates_to`` stays in the clear (nio copies it out)."""
    new = {key: content[key] for key in ("msgtype", "body", "format", "formatted_body",
                                          "m.mentions") if key in content}
    return {**new, "body": f"* {new['body']}",
            "formatted_body": f"* {new['formatted_body']}", "m.mentions": {},
            "m.new_content": new,
            "m.relates_to": {"rel_type": "m.replace", "event_id": original}}


def posted_as(room_id: str, event_id: str) -> str:
    """What a chat line remembers of its first message: the room and the event."""
    return f"{room_id} {event_id}"


def original_in(posted: str | None, room_id: str) -> str | None:
    """The event to edit in *room_id*, from :func:`posted_as` (None if it was posted
    elsewhere, e.g. in a DM room since replaced: an edit must be in the same room)."""
    room, _, event_id = (posted or "").partition(" ")
    return event_id if room == room_id and event_id else None


WORD_JOINER = "\u2060"
_AT = re.compile(r"@(?=[\w.=-])")
_TAG = re.compile(r"(<[^>]*>)")


def inert(body: str) -> str:
    """Text in which no ``@room`` or ``@user:server`` reads as a mention (a word joiner
    after each ``@``)."""
    return _AT.sub("@" + WORD_JOINER, body)


def inert_html(html: str) -> str:
    """:func:`inert` for the text of *html*, its tags (links) left as they are."""
    return "".join(part if part.startswith("<") else inert(part) for part in _TAG.split(html))


def pill(user_id: str) -> str:
    """A link that Matrix clients show as a mention of *user_id*."""
    name = user_id[1:].split(":", 1)[0]
    return (f'<a href="https://matrix.to/#/{html_module.escape(user_id, quote=True)}">'
            f'{html_module.escape(name, quote=False)}</a>')


def thread_root(content: Mapping) -> str | None:
    """The thread an event was said in (``m.thread`` relation), if any."""
    relates = content.get("m.relates_to")
    if isinstance(relates, Mapping) and relates.get("rel_type") == "m.thread":
        root = relates.get("event_id")
        return root if isinstance(root, str) else None
    return None


def undecryptable_notice(device: str) -> str:
    return (f"I cannot decrypt that message yet (I have no key for it): I asked your device "
            f"for the key and will answer when it comes. If I stay silent, let your client "
            f"share its keys with my device {device}.")


def identity_changed_notice(master: str) -> str:
    return (f"Your cross-signing identity changed (new master key {master}). If you did not "
            "reset it yourself, check your account's sessions: I now trust the devices the "
            "new identity signed.")


def direct_map(content: object) -> dict[str, list[str]]:
    """``m.direct`` account data, with anything malformed left out."""
    if not isinstance(content, Mapping):
        return {}
    return {user: [room for room in rooms if isinstance(room, str)]
            for user, rooms in content.items()
            if isinstance(user, str) and isinstance(rooms, list)}


def with_direct(mapping: Mapping[str, list[str]], user: str, room_id: str) -> dict[str, list[str]]:
    """``m.direct`` with *room_id* recorded as a DM with *user* (last: the newest)."""
    updated = {key: list(rooms) for key, rooms in mapping.items()}
    rooms = [room for room in updated.get(user, []) if room != room_id]
    updated[user] = [*rooms, room_id]
    return updated


def without_room(mapping: Mapping[str, list[str]], room_id: str) -> dict[str, list[str]]:
    return {user: [room for room in rooms if room != room_id]
            for user, rooms in mapping.items() if [room for room in rooms if room != room_id]}


def direct_user(mapping: Mapping[str, list[str]], room_id: str) -> str | None:
    """Whose DM *room_id* is, per ``m.direct``."""
    for user, rooms in mapping.items():
        if room_id in rooms:
            return user
    return None


def encrypted_notice(room: str) -> str:
    return (f"I do not post in {room}: it is end-to-end encrypted, and this bot has no "
            "encryption support, so I stay silent there. Ask me here, or invite me to a "
            "room without encryption.")


def safe_name(value: str) -> str:
    """A file-name-safe form of a user id."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", value.lstrip("@"))
