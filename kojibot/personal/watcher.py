"""Watches at work: bus events and a bounded, low-rate hub poll bring each to its end.

Bus events about a watched task tree or build merge in as they come (a relay listener).
Every watch is also checked against the hub now and then (``PollSchedule``: per watch at
most once an interval, in total a bounded batch per MultiCall request), which finishes
the job when no bus is configured or an event was missed. Whichever path sees the end
first queues the report; dropping the watch and queueing its report share one SQLite
transaction, so it is reported once.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger

from kojibot.chat.message import Message, text, to_json
from kojibot.lookups import Lookups, build_answer, task_answer
from kojibot.personal import buildroot
from kojibot.personal.watches import (
    PollSchedule,
    check_calls,
    is_done,
    is_final,
    merge,
    merge_all,
    observations,
    root_state,
)
from kojibot.relay.hubwait import HubWait
from kojibot.relay.route import Enriched
from kojibot.state.store import OutboxEntry, Store, WatchRecord
from txkoji import messages
from txkoji.exceptions import KojiException
from txkoji.reactors import default_reactor
from txkoji.states import BuildState, TaskState

log = Logger()

HUB_WAIT = 10.0  # seconds the final line may take from the hub before a short one goes


class Watcher:
    """The watches in memory (indexed by every task or build id they know), the relay
    listener for their events, and the poll."""

    def __init__(self, store: Store, koji: Any, *, on_queued: Callable[[], object],
                 interval: float = 300.0, batch: int = 100, max_age: float = 7 * 86400,
                 reactor=None, clock: Callable[[], float] = time.time,
                 lookups: Lookups | None = None):
        reactor = default_reactor(reactor)
        self.store = store
        self.koji = koji
        self.lookups = lookups or Lookups(koji)
        self.on_queued = on_queued
        self.max_age = max_age
        self.reactor = reactor
        self.clock = clock
        self.hub = HubWait(HUB_WAIT, reactor)
        self.schedule = PollSchedule(interval, batch)
        self.watches: dict[int, WatchRecord] = {}
        self.by_key: dict[tuple[str, int], set[int]] = defaultdict(set)
        self.by_tag: dict[str, set[int]] = defaultdict(set)  # buildroot watches
        self.found: dict[int, tuple[dict, float | None, float]] = {}  # repo, tagged, done
        self._finishing: set[int] = set()
        self.polling = False  # a round is under way
        self._running = False
        self._call = None
        now = clock()
        for watch in store.at_open.watches:
            self._index(watch)
            self.schedule.plan(watch.id, now, soon=True)  # events may have gone by meanwhile

    # Watches in memory, indexed by every task (or build) id they know

    def _index(self, watch: WatchRecord) -> None:
        self.watches[watch.id] = watch
        if watch.tag is not None:
            self.by_tag[watch.tag].add(watch.id)
        for ident in watch.states:
            self.by_key[(watch.kind, ident)].add(watch.id)

    def _forget(self, watch: WatchRecord) -> None:
        self.watches.pop(watch.id, None)
        self.schedule.drop(watch.id)
        self.found.pop(watch.id, None)
        if watch.tag is not None and watch.id in self.by_tag.get(watch.tag, ()):
            self.by_tag[watch.tag].discard(watch.id)
            if not self.by_tag[watch.tag]:
                del self.by_tag[watch.tag]
        for ident in watch.states:
            ids = self.by_key.get((watch.kind, ident))
            if ids is not None:
                ids.discard(watch.id)
                if not ids:
                    del self.by_key[(watch.kind, ident)]

    # What the watches service (kojibot.services.watches) uses, its write done

    async def look_buildroot(self, ref: str | int, tag: str | None) -> WatchRecord | str:
        """A watch for build *ref* to be in *tag*'s buildroot (without a tag: its target's
        build tag), unsaved; else the one line that says why not."""
        build = await self.koji.getBuild(ref)
        if not build:
            return f"No such build: {str(ref)[:60]}"
        if tag is None:
            tag = await buildroot.target_build_tag(self.koji, build)
            if tag is None:
                return f"{build['nvr']} has no build target I can see; name the tag."
        else:
            info = await self.koji.getTag(tag)
            if not info:
                return f"No such tag: {tag[:60]}"
            tag = info["name"]
        return buildroot.buildroot_watch(build, tag)

    async def check_now(self, watch: WatchRecord) -> tuple[dict, float | None] | None:
        """(repo, tagging time) if the tag's newest repo holds the build already."""
        return await buildroot.holding_repo(self.koji, watch, await self.koji.getRepo(watch.tag))

    def of(self, network: str, identity: str) -> list[WatchRecord]:
        """A person's watches, oldest first, each with what is known of it now."""
        return sorted((watch for watch in self.watches.values()
                       if watch.network == network and watch.identity == identity),
                      key=lambda watch: watch.id)

    def track(self, watch: WatchRecord) -> None:
        """Follow ``watch`` (saved, not done) until it ends; one followed already only
        takes its new asker and room."""
        known = self.watches.get(watch.id)
        if known is not None and known.tag != watch.tag:
            self._forget(known)
            known = None
        if known is not None:
            known.asker, known.room = watch.asker, watch.room
            return
        self._index(watch)
        self.schedule.plan(watch.id, self.clock())
        self._arm()

    def untrack(self, watch: WatchRecord) -> None:
        self._forget(self.watches.get(watch.id, watch))

    # Bus events (a relay listener: its writes are done before the delivery is acked)

    async def on_event(self, enriched: Enriched) -> None:
        event = enriched.event
        if isinstance(event, messages.TaskStateChange):
            kind, ident, parent = "task", event.task["id"], event.task.get("parent")
            new = int(TaskState[event.new])
        elif isinstance(event, messages.BuildStateChange):
            kind, ident, parent = "build", event.build.record_id, event.build.task_id
            new = int(BuildState[event.new])
            if event.new != "BUILDING" and parent is not None:
                self._prompt(self.by_key.get(("task", parent), ()))
        elif isinstance(event, messages.RepoChange) and event.action == "done":
            self._prompt(self.by_tag.get(event.tag, ()))  # the poll checks the repo
            return
        else:
            return
        ids = set(self.by_key.get((kind, ident), ()))
        if kind == "task" and parent is not None:
            ids |= self.by_key.get(("task", parent), set())
        now = self.clock()
        for watch_id in sorted(ids):
            watch = self.watches.get(watch_id)
            if watch is None or watch_id in self._finishing or \
                    not merge(watch, ident, parent, new):
                continue
            self._index(watch)
            self.schedule.plan(watch_id, now)  # the bus speaks of it: the poll can wait
            if is_done(watch):
                await self._finish(watch)
                continue
            await self.store.save_watch_states(watch)
            if is_final(watch, watch.ref):  # the root ended, some subtask not yet
                self._prompt((watch_id,))

    def _prompt(self, watch_ids) -> None:
        """Ask the hub about these watches now: the bus says they end, but not everything
        (Fedora's bus tells nothing of subtasks; a build ends before its task closes)."""
        now = self.clock()
        for watch_id in watch_ids:
            self.schedule.prompt(watch_id, now)
        self._arm()

    # The poll

    def start(self) -> None:
        self._running = True
        self._arm()

    def stop(self) -> None:
        self._running = False
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None

    def _arm(self) -> None:
        delay = self.schedule.next_round(self.clock())
        if delay is None or not self._running or self.polling:
            return  # a round under way arms the next one when it ends
        if self._call is not None and self._call.active():
            if self._call.getTime() <= self.reactor.seconds() + delay:
                return
            self._call.cancel()
        self._call = self.reactor.callLater(delay, self._round)

    def _round(self) -> None:
        self._call = None
        done = defer.Deferred.fromCoroutine(self.poll())
        done.addErrback(lambda failure: log.failure("watch poll failed", failure))
        done.addBoth(lambda _: self._arm())

    async def poll(self) -> None:
        """One round: check the due watches (at most a batch) in one hub request."""
        if self.polling:
            return
        self.polling = True
        try:
            await self._poll(self.clock())
        finally:
            self.polling = False

    async def _poll(self, now: float) -> None:
        self.schedule.last_round = now
        due = [self.watches[i] for i in self.schedule.due(now) if i in self.watches]
        checked: list[tuple[WatchRecord, int, int]] = []
        repos: list[WatchRecord] = []
        multicall = self.koji.MultiCall()
        for watch in due:
            self.schedule.plan(watch.id, now)
            self.schedule.checked(watch.id, now)
            if now - watch.created > self.max_age:
                days = f"{self.max_age / 86400:g} day" + ("" if self.max_age == 86400 else "s")
                still = buildroot.waiting_text(watch) if watch.kind == buildroot.KIND \
                    else root_state(watch)
                await self._finish(watch, f"stopped watching {watch.label} after {days}; "
                                          f"it is still {still}.")
                continue
            if watch.kind == buildroot.KIND:
                repos.append(watch)
                continue
            start = len(multicall)
            for method, args in check_calls(watch.kind, watch.ref):
                multicall.call(method, *args)
            checked.append((watch, start, len(multicall)))
        for watch in repos:
            multicall.call("getRepo", watch.tag)
        if not checked and not repos:
            return
        try:
            results = await multicall()
        except Exception as exc:  # noqa: BLE001 - the hub is away: try again next interval
            log.info("watch poll: no answer from the hub ({why}); next interval", why=exc)
            return
        await self._check_repos(repos, results, len(results) - len(repos))
        for watch, start, end in checked:
            if watch.id not in self.watches or watch.id in self._finishing:
                continue
            try:
                seen = observations(watch.kind, [results[i] for i in range(start, end)])
            except KojiException as exc:
                log.warn("watch poll: {label}: {why}", label=watch.label, why=exc)
                continue
            if seen is None:
                await self._finish(watch, f"{watch.label} is gone from the hub; "
                                          "stopped watching it.")
                continue
            changed = merge_all(watch, seen)
            if changed:
                self._index(watch)
            if is_done(watch):  # also one whose report could not be queued before
                await self._finish(watch)
            elif changed:
                await self.store.save_watch_states(watch)

    async def _check_repos(self, watches: list[WatchRecord], results: Any, first: int) -> None:
        """Each buildroot watch against its tag's newest ready repo (``results[first:]``)."""
        for index, watch in enumerate(watches, start=first):
            if watch.id not in self.watches or watch.id in self._finishing:
                continue
            try:
                repo = results[index]
                held = await buildroot.holding_repo(self.koji, watch, repo)
            except Exception as exc:  # noqa: BLE001 - a fault or the hub away: next check
                log.info("watch poll: {label} in {tag}: {why}", label=watch.label,
                         tag=watch.tag, why=exc)
                continue
            if held is not None:
                self.found[watch.id] = (*held, self.clock())
                await self._finish(watch)
            elif isinstance(repo, dict) and repo["id"] != buildroot.last_checked(watch):
                buildroot.note_checked(watch, repo["id"])
                await self.store.save_watch_states(watch)

    # The end

    async def _finish(self, watch: WatchRecord, note: str | None = None) -> None:
        """Queue the report and drop the watch, in one transaction, once."""
        if watch.id in self._finishing:
            return
        self._finishing.add(watch.id)
        try:
            message = await self._report(watch, note)
            entry = OutboxEntry(watch.network, watch.room or watch.asker, watch.room is None,
                                f"watches ended\t{watch.label}", to_json(message))
            if await self.store.finish_watch(watch.id, [entry]):
                self.on_queued()
        except Exception:  # noqa: BLE001 - kept: the next poll tries again
            log.failure("finishing the watch on {label} failed", label=watch.label)
            return
        finally:
            self._finishing.discard(watch.id)
        self._forget(watch)

    async def _report(self, watch: WatchRecord, note: str | None) -> Message:
        mention = f"{watch.asker}: " if watch.room else ""
        if note is not None:
            return text(mention + note)
        if watch.id in self.found:
            repo, tagged, done = self.found[watch.id]
            line = buildroot.in_buildroot_line(watch, repo, tagged, done, self.koji.weburl)
            return text(mention, *line.parts)
        answer = task_answer if watch.kind == "task" else build_answer
        state = root_state(watch)
        line = await self.hub(lambda: answer(self.koji, watch.ref),
                              text(f"{watch.label} {state}"), f"the end of {watch.label}")
        message = text(mention, "finished: ", *line.parts)
        if state == "FAILED":
            task_id = watch.ref if watch.kind == "task" else watch.states[watch.ref][0]
            message.add(*await self.hub(lambda: self.lookups.failure_details(task_id), [],
                                        f"failure details of task {task_id}"))
        return message
