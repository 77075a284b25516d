"""Matrix: one matrix-nio AsyncClient, a sync loop, one ordered send queue per room.

The adapter is a Twisted service on Twisted's asyncio reactor (the CLI installs it); every
nio coroutine runs through ``niocalls.nio_call``. It logs in (or reuses the saved token),
syncs from the saved ``next_batch`` (filling a gap from room history after a long absence),
hands each person's text to ``receive`` as an ``Incoming``, answers invites, notices kicks,
and sends what the core ``deliver``s as ``m.notice`` replies (or edits). Event meaning and message
content live in ``rooms``, encryption in ``crypto`` (with ``crosssigning``, ``identities``,
``keyrequests``), DMs in ``direct``, logging in in ``login``, saved state in ``saved``, send
queues in ``sendqueue``; this file moves data.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import nio
from twisted.application.internet import backoffPolicy
from twisted.application.service import Service
from twisted.internet import defer, task
from twisted.logger import Logger

from kojibot.adapters.matrix import crypto, rooms
from kojibot.adapters.matrix.direct import DirectRooms
from kojibot.adapters.matrix.login import log_in
from kojibot.adapters.matrix.niocalls import (
    LoginFailed,
    MatrixTrouble,
    error_text,
    history,
    http_status,
    nio_call,
    sources,
)
from kojibot.adapters.matrix.saved import SavedSession
from kojibot.adapters.matrix.sendqueue import CANCELLED, SendQueues
from kojibot.chat.message import text
from kojibot.chat.model import Incoming, Reply, Target
from kojibot.config import MatrixSettings
from kojibot.upkeep import Upkeep
from txkoji.reactors import default_reactor

__all__ = ["MatrixAdapter", "MatrixSettings"]

log = Logger(namespace="kojibot.matrix")

POLL_MS = 30_000  # how long one sync waits on the server for news
RETRY_STATUS = {"M_UNKNOWN_TOKEN", "M_LIMIT_EXCEEDED"}
THREADS_KEPT = 1000  # commands remembered as said in a thread, for their answers


@dataclass
class _Outgoing:
    reply: Reply
    txn_id: str  # the same on every try, so the server drops a repeat that got through
    gated: bool = True  # False: the last words of a process stepping down


class MatrixAdapter(Service):
    """The bot on one Matrix account: a service to add to the bot's MultiService."""

    def __init__(self, settings: MatrixSettings, receive: Callable[[Incoming], object], *,
                 state_dir: str, network: str = "matrix", reactor=None,
                 retry_policy: Callable[[int], float] | None = None,
                 may_send: Callable[[], bool] = lambda: True):
        reactor = default_reactor(reactor)
        self.settings, self.network, self.clock = settings, network, reactor
        self.name = f"matrix:{network}"
        self.receive, self.may_send = receive, may_send  # may_send: as IRCAdapter's
        self.me = settings.user_id
        self.saved = SavedSession(state_dir, settings.user_id, settings.homeserver)
        policy = crypto.effective_policy(settings.encryption)
        if policy != settings.encryption:
            log.warn(crypto.NEEDS_EXTRA)
        store = crypto.store_dir(state_dir, settings.user_id) if policy != "refuse" else None
        if store is not None:
            crypto.make_private(store)
        self.client = crypto.Client(
            settings.homeserver, settings.user_id, store_path=str(store or ""),
            config=nio.AsyncClientConfig(max_limit_exceeded=0, max_timeouts=0,
                                         encryption_enabled=store is not None,
                                         store_sync_tokens=False),
            ssl=None if settings.tls_verify else False)
        self.crypto = crypto.Crypto(self.client, policy, store, settings, self._tell)
        self.senders: dict[str, str] = {}  # decrypted event → the sender's Curve25519 key
        self.threads: dict[str, str] = {}  # command event → the thread it was said in
        self.retry_policy = retry_policy or backoffPolicy(initialDelay=1.0, maxDelay=60.0)
        self.direct = DirectRooms(self.client, encrypting=lambda: self.crypto.enabled)
        self.inviters: dict[str, str] = {}  # room → who invited us (told if it is encrypted)
        self.warned: set[str] = set()  # encrypted rooms already warned about
        self.creators: dict[str, frozenset[str]] = {}  # room → creators above power levels
        # One queue per target: a room id (!...) or, for a DM, the person's user id (@...).
        self.queues: SendQueues[_Outgoing] = SendQueues(
            self._send, finished=lambda item: item.reply.sent(), when_ready=self.when_ready,
            is_ready=lambda: self.ready, retry_policy=lambda n: self.retry_policy(n),
            clock=reactor)
        self._chores: set[defer.Deferred] = set()
        self._synced = False
        self._loop: defer.Deferred | None = None
        self.upkeep = Upkeep()
        if not settings.tls_verify:
            log.warn("TLS certificate verification is off for {url}", url=settings.homeserver)

    @property
    def ready(self) -> bool:
        return self.running and self._synced

    def when_ready(self) -> defer.Deferred[None]:
        """Fires once logged in, synced and in the configured rooms (at once if so now)."""
        return self.upkeep.wait(self.ready)

    def deliver(self, reply: Reply) -> None:
        """Queue *reply*; a room's messages go out one at a time, in order (answers before
        relayed lines), each sent once the homeserver has given its event id. The outbox's
        ``txn_id`` makes a resend after a crash the same event to the homeserver."""
        if reply.target.network != self.network:
            log.error("reply for network {other} handed to Matrix network {network}; dropped",
                      other=reply.target.network, network=self.network)
            return
        self.queues.put(reply.target.name, _Outgoing(reply, reply.txn_id or uuid.uuid4().hex),
                        urgent=not reply.relayed)

    def say_now(self, target: str, line: str) -> None:
        """One line to a room (or a person's DM) past the queue and the ``may_send`` gate:
        the last words of a process stepping down (what is queued is no longer its to send)."""
        reply = Reply(Target(self.network, target, direct=not target.startswith("!")), text(line))
        self._spawn(self._send(_Outgoing(reply, uuid.uuid4().hex, gated=False)), "last words")

    def startService(self) -> None:
        super().startService()
        log.info("connecting to {url} as {user}", url=self.settings.homeserver, user=self.me)
        self._loop = defer.Deferred.fromCoroutine(self._run())
        self._loop.addErrback(lambda f: f.trap(*CANCELLED))
        self.queues.start()

    def stopService(self) -> defer.Deferred:
        if not self.running:
            return defer.succeed(None)
        super().stopService()
        self._synced = False
        self.queues.stop()
        for running in [self._loop, *self._chores]:
            if running is not None:
                running.cancel()
        if len(self.queues):
            log.warn("stopping with {count} queued Matrix message(s) not sent",
                     count=len(self.queues))
        return nio_call(self.client.close())

    def _spawn(self, coroutine: Coroutine[Any, Any, Any], what: str) -> None:
        """Run a side job (an invite, a DM note); its failure is a log line."""
        job = defer.Deferred.fromCoroutine(coroutine)
        self._chores.add(job)
        job.addErrback(lambda f: None if f.check(*CANCELLED) else log.failure(
            "{what} failed", f, what=what))
        job.addBoth(lambda _: self._chores.discard(job))

    async def _run(self) -> None:
        while self.running:
            try:
                await self._log_in()
                while self.running:
                    await self._sync_once()
                    self.upkeep.working()
            except CANCELLED:
                raise
            except Exception as exc:  # noqa: BLE001 - the loop must outlive any failure
                why = str(exc) if isinstance(exc, MatrixTrouble) else f"{type(exc).__name__}: {exc}"
                if self.upkeep.new_error(why):
                    (log.error if isinstance(exc, LoginFailed) else log.warn)(
                        "Matrix sync with {url} failed: {why}; retrying",
                        url=self.settings.homeserver, why=why)
            self._synced = False
            self.upkeep.lost()
            await task.deferLater(self.clock, self.retry_policy(self.upkeep.attempts(0)))

    async def _log_in(self) -> None:
        if not self.client.logged_in:
            await log_in(self.client, self.settings, self.saved)

    async def _sync_once(self) -> None:
        """One sync; its events handled before its token is saved (the first sync after a
        start or an outage also brings every room's full state)."""
        since = self.saved.next_batch
        full = not self._synced
        response = await nio_call(self.client.sync(
            timeout=0 if full else POLL_MS, since=since, full_state=full and since is not None,
            sync_filter=rooms.SYNC_FILTER if since else rooms.FIRST_SYNC_FILTER))
        if isinstance(response, nio.SyncError):
            if response.status_code == "M_UNKNOWN_TOKEN":
                self.client.access_token = ""
                if self.settings.access_token:
                    raise LoginFailed("the configured access token was refused")
                self.saved.forget_credentials()
            raise MatrixTrouble(f"sync: {error_text(response)}")
        await nio_call(self.crypto.loaded())  # once the token has proved good
        await nio_call(self.crypto.chores(response.to_device_events))
        self._recover()
        await self._take(response, since)
        await nio_call(self.crypto.flush())  # the key requests for what did not decrypt
        self.saved.save_next_batch(response.next_batch)
        if full:
            await self._join_configured()
            self._synced = True
            log.info("synced with {url} as {user}", url=self.settings.homeserver, user=self.me)
            self.upkeep.up()

    async def _join_configured(self) -> None:
        for room in self.settings.rooms:
            if room not in self.client.rooms:
                response = await nio_call(self.client.join(room))
                if isinstance(response, nio.JoinError):
                    log.error("cannot join {room}: {why}", room=room, why=error_text(response))

    async def _take(self, response: nio.SyncResponse, since: str | None) -> None:
        """Act on one sync. Gaps are read back first: if that fails, the sync is tried
        again without anything of it handled twice."""
        timelines = {room_id: sources(info.timeline.events)
                     for room_id, info in response.rooms.join.items()}
        for room_id, info in response.rooms.join.items():
            self.senders.update((event.event_id, event.sender_key)
                                for event in info.timeline.events
                                if getattr(event, "decrypted", False))
            if since and info.timeline.limited and info.timeline.prev_batch:
                older, whole = await nio_call(history(self.client, room_id,
                                                      info.timeline.prev_batch, since))
                if not whole:
                    log.warn("more happened in {room} while away than the bot reads back; "
                             "older commands there are not answered", room=room_id)
                timelines[room_id] = older + timelines[room_id]
        for event in response.account_data_events:
            if isinstance(event, nio.UnknownAccountDataEvent) and event.type == "m.direct":
                self.direct.mapping = rooms.direct_map(event.content)
        for room_id, info in response.rooms.invite.items():
            self._invited(room_id, info.invite_state)
        for room_id, info in response.rooms.join.items():
            self._joined(room_id, sources(info.state), timelines[room_id], first=since is None)
        for room_id, info in response.rooms.leave.items():
            self._left(room_id, sources(info.timeline.events))

    def _joined(self, room_id: str, state: list[dict], events: list[dict], first: bool) -> None:
        room = self.client.rooms.get(room_id)
        if room is None:
            return
        for event in state + events:
            if event.get("type") == "m.room.create":
                self.creators[room_id] = rooms.privileged_creators(event)
        enabler = next((e.get("sender") for e in events
                        if e.get("type") == "m.room.encryption"), None)
        refused = room.encrypted and not self.crypto.enabled
        if refused and room_id not in self.warned:
            self._encrypted(room_id, None if first else self.inviters.get(room_id) or enabler)
        if first or refused:
            return
        for event in rooms.fresh_events(events, self.me):
            self._hear(room_id, event)

    def _hear(self, room_id: str, event: dict) -> None:
        """One timeline event of a room we are in: a command is handed to the core."""
        room = self.client.rooms.get(room_id)
        sender, event_id = event.get("sender", ""), event.get("event_id", "")
        if room is None:
            return
        if event.get("type") == "m.room.encrypted" and sender != self.me:
            self._undecryptable(room_id, event)
            return
        sender_key = self.senders.pop(event_id, None)
        heard = rooms.incoming(
            event, network=self.network, room_id=room_id, me=self.me,
            bot_name=self.settings.localpart, direct=sender == self.direct.user_of(room_id),
            level=rooms.CREATOR_LEVEL if sender in self.creators.get(room_id, ())
            else room.power_levels.get_user_level(sender))
        if heard is None:
            return
        if not self.crypto.may_answer(sender, sender_key):
            return
        if heard.direct:
            self.direct.used(sender, room_id)
        root = rooms.thread_root(event.get("content") or {})
        if root:
            self.threads[event_id] = root
            while len(self.threads) > THREADS_KEPT:
                del self.threads[next(iter(self.threads))]
        defer.maybeDeferred(self.receive, heard).addErrback(lambda f, who=sender: (
            log.failure("handling a message from {sender} failed", f, sender=who)))

    def _undecryptable(self, room_id: str, event: dict) -> None:
        """A message we have no key for: ask its sender's device for the key and, once per
        session, say so in one line; it is answered when the key comes."""
        if self.crypto.keys.missing(room_id, event):
            self.deliver(Reply(Target(self.network, room_id),
                               text(rooms.undecryptable_notice(self.client.device_id or "")),
                               reply_to=event.get("event_id")))

    def _recover(self) -> None:
        """Messages that could not be decrypted when they came and can be now: heard late."""
        for room_id, event in self.crypto.keys.recovered():
            log.info("decrypted {event} in {room} with a key that came late",
                     event=event.event_id, room=room_id)
            self.senders[event.event_id] = event.sender_key
            self._hear(room_id, event.source)

    def _tell(self, user: str, line: str) -> None:
        """Say *line* to *user* in the DM the bot has with them (none is opened for it)."""
        if self.direct.recent.get(user) or self.direct.mapping.get(user):
            self.deliver(Reply(Target(self.network, user, direct=True), text(line)))

    def _encrypted(self, room_id: str, person: str | None) -> None:
        self.warned.add(room_id)
        log.warn("{room} is end-to-end encrypted and [matrix] encryption refuses it: nothing "
                 "is posted there", room=room_id)
        if person and person != self.me:
            self.deliver(Reply(Target(self.network, person, direct=True),
                               text(rooms.encrypted_notice(room_id))))

    def _invited(self, room_id: str, invite_state: list) -> None:
        invite = next((e for e in invite_state if isinstance(e, nio.InviteMemberEvent)
                       and e.state_key == self.me and e.membership == "invite"), None)
        if invite is None or room_id in self.inviters:
            return
        self.inviters[room_id] = invite.sender
        self._spawn(self._answer_invite(room_id, invite.sender,
                                        bool(invite.content.get("is_direct"))),
                    f"answering the invite to {room_id}")

    async def _answer_invite(self, room_id: str, inviter: str, is_direct: bool) -> None:
        if not rooms.may_invite(self.settings.auto_join, inviter, self.settings.server):
            log.info("declined an invite to {room} from {inviter} (not allowed by auto_join)",
                     room=room_id, inviter=inviter)
            await nio_call(self.client.room_leave(room_id))
            return
        response = await nio_call(self.client.join(room_id))
        if isinstance(response, nio.JoinError):
            log.warn("cannot join {room} (invited by {inviter}): {why}", room=room_id,
                     inviter=inviter, why=error_text(response))
            return
        log.info("joined {room}, invited by {inviter}", room=room_id, inviter=inviter)
        if is_direct:  # used for DMs once a sync has shown it is not encrypted
            await self.direct.record(inviter, room_id)

    def _left(self, room_id: str, events: list[dict]) -> None:
        own = rooms.own_membership(events, self.me)
        self.inviters.pop(room_id, None)
        if own is not None and own.get("sender") != self.me:
            content = own.get("content") or {}
            log.warn("{how} from {room} by {who}{why}; forgetting the room",
                     how="banned" if content.get("membership") == "ban" else "kicked",
                     room=room_id, who=own.get("sender"),
                     why=f" ({content['reason']})" if content.get("reason") else "")
            self._spawn(self._forget(room_id), f"forgetting {room_id}")
        self.client.rooms.pop(room_id, None)
        self.warned.discard(room_id)
        self.creators.pop(room_id, None)
        self._spawn(self.direct.forget(room_id), "updating m.direct")
        dropped = self.queues.drop(room_id)
        if dropped:
            log.warn("dropped {count} message(s) for {room}: the bot is not in it any more",
                     count=len(dropped), room=room_id)
        for item in dropped:
            item.reply.sent()

    async def _forget(self, room_id: str) -> None:
        await nio_call(self.client.room_forget(room_id))

    async def _send(self, item: _Outgoing) -> float | None:
        """One try; seconds to wait if rate limited, else None (sent, or dropped and said so)."""
        if item.gated and not self.may_send():
            return 1.0
        target = item.reply.target
        room_id = await self.direct.room_for(target.name) if target.direct else target.name
        if room_id is None:
            log.error("no DM room with {user}; dropped: {line}", user=target.name,
                      line=item.reply.message.plain()[:200])
            return None
        room = self.client.rooms.get(room_id)
        if room is None and self.crypto.enabled:  # nio's encrypting send needs the room
            if room_id in self.direct.recent.values():
                return 0.5  # a DM opened just now: the next sync brings it
            log.error("cannot post in {room}: not in it; dropped: {line}", room=room_id,
                      line=item.reply.message.plain()[:200])
            return None
        if room is not None and room.encrypted and self.crypto.enabled:
            await nio_call(self.crypto.prepare(room))
        elif room is not None and room.encrypted:
            if room_id not in self.warned:
                self._encrypted(room_id, None)
            log.info("not posting in encrypted {room}: {line}", room=room_id,
                     line=item.reply.message.plain()[:200])
            return None
        content = rooms.reply_content(item.reply, self.threads.get(item.reply.reply_to or ""))
        line = item.reply.line
        original = rooms.original_in(await line.posted_as(), room_id) if line else None
        if original:
            content = rooms.edit_content(content, original)
        response = await nio_call(self.client.room_send(
            room_id, "m.room.message", content, tx_id=item.txn_id,
            ignore_unverified_devices=False))  # prepare() judged every device
        if not isinstance(response, nio.RoomSendError):
            if line and not original:
                line.posted(rooms.posted_as(room_id, response.event_id))
            return None
        if response.status_code == "M_LIMIT_EXCEEDED" or http_status(response) == 429:
            return (response.retry_after_ms or 1000) / 1000
        if response.status_code in RETRY_STATUS or (http_status(response) or 0) >= 500:
            raise MatrixTrouble(error_text(response))
        log.error("cannot post in {room}: {why}; dropped: {line}", room=room_id,
                  why=error_text(response), line=item.reply.message.plain()[:200])
        return None
