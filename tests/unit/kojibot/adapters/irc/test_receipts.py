"""The IRC receipt bookkeeping and the two-lane reply queue, without a server: plain objects
fed the lines a server would send back (the real servers are in test_irc_delivery.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kojibot.adapters.irc.receipts import Receipts
from kojibot.adapters.irc.replyqueue import ReplyQueue


@dataclass
class Item:
    name: str
    lines: int = 1
    log: list[str] = field(default_factory=list)

    def sent(self) -> None:
        self.log.append(self.name)


def render(item: Item) -> list[str]:
    return [f"PRIVMSG #{item.name[0]} :{item.name} {n}" for n in range(item.lines)]


def write_all(queue: ReplyQueue, receipts: Receipts) -> list[str]:
    written = []
    while (line := queue.peek(render)) is not None:
        queue.pop(receipts.wrote(line))
        written.append(line)
    return written


def test_ping_path_confirms_only_what_was_written_before_the_ping():
    log: list[str] = []
    queue: ReplyQueue[Item] = ReplyQueue()
    receipts = Receipts(echo=False)
    for name in ("a1", "a2"):
        queue.put(Item(name, log=log))
    write_all(queue, receipts)
    assert receipts.ping_due(more=False)
    ping = receipts.ping()
    receipts.pinged()
    queue.put(Item("a3", log=log))
    write_all(queue, receipts)
    queue.confirm(receipts.done)
    assert log == [] and queue.unconfirmed == 3  # written is not handled
    assert receipts.ponged(ping.split(":", 1)[1])
    queue.confirm(receipts.done)
    assert log == ["a1", "a2"] and queue.unconfirmed == 1
    assert not receipts.ponged("1700000000")  # the keepalive's own PONG proves nothing


def test_a_ping_goes_every_few_lines_of_a_backlog_and_when_nothing_more_waits():
    receipts = Receipts(echo=False, every=3)
    assert not receipts.ping_due(more=False)  # nothing written: no PING
    receipts.wrote("PRIVMSG #a :1")
    assert not receipts.ping_due(more=True) and receipts.ping_due(more=False)
    receipts.wrote("PRIVMSG #a :2")
    receipts.wrote("PRIVMSG #a :3")
    assert receipts.ping_due(more=True)
    receipts.pinged()
    assert not receipts.ping_due(more=False)


def test_echo_path_matches_in_order_per_target_and_counts_refusals():
    log: list[str] = []
    queue: ReplyQueue[Item] = ReplyQueue()
    receipts = Receipts(echo=True, fold=str.lower)
    queue.put(Item("a1", lines=2, log=log))
    queue.put(Item("b1", log=log))
    queue.put(Item("a2", log=log))
    write_all(queue, receipts)
    assert not receipts.ping_due(more=False)  # echo-message needs no PING
    assert receipts.echoed("#B")
    queue.confirm(receipts.done)
    assert log == ["b1"]
    assert receipts.echoed("#a")  # a1's first line: a1 is not whole yet
    queue.confirm(receipts.done)
    assert log == ["b1"]
    assert receipts.echoed("#a") and receipts.echoed("#a")  # a1's second line, then a2 (refused)
    queue.confirm(receipts.done)
    assert log == ["b1", "a1", "a2"]
    assert not receipts.echoed("#a")  # no line waits: an unrelated echo changes nothing


def test_answers_go_first_and_a_replys_lines_stay_together():
    queue: ReplyQueue[Item] = ReplyQueue()
    queue.put(Item("r1", lines=2))
    queue.put(Item("r2"))
    first = queue.peek(render)
    queue.pop(1)
    queue.put(Item("answer", lines=2), urgent=True)
    rest = write_all(queue, Receipts(echo=False))
    assert [first, *rest] == ["PRIVMSG #r :r1 0", "PRIVMSG #r :r1 1", "PRIVMSG #a :answer 0",
                              "PRIVMSG #a :answer 1", "PRIVMSG #r :r2 0"]


def test_a_lost_connection_puts_unconfirmed_items_back_in_front_in_order():
    log: list[str] = []
    queue: ReplyQueue[Item] = ReplyQueue()
    receipts = Receipts(echo=False)
    for name in ("r1", "r2", "r3"):
        queue.put(Item(name, log=log))
    queue.put(Item("ask", lines=2, log=log), urgent=True)
    queue.peek(render)
    queue.pop(receipts.wrote("PRIVMSG #a :ask 0"))  # half of "ask" is written
    receipts.pinged()
    queue.put(Item("r4", log=log))
    queue.requeue()
    assert len(queue) == 5
    again = Receipts(echo=False)
    assert write_all(queue, again) == [
        "PRIVMSG #a :ask 0", "PRIVMSG #a :ask 1", "PRIVMSG #r :r1 0", "PRIVMSG #r :r2 0",
        "PRIVMSG #r :r3 0", "PRIVMSG #r :r4 0"]
    assert again.ponged(again.ping().split(":", 1)[1])
    queue.confirm(again.done)
    assert log == ["ask", "r1", "r2", "r3", "r4"] and len(queue) == 0


def test_an_item_that_renders_to_nothing_is_done_with_at_once():
    log: list[str] = []
    queue: ReplyQueue[Item] = ReplyQueue()
    queue.put(Item("empty", lines=0, log=log))
    assert queue.peek(render) is None and log == ["empty"] and len(queue) == 0


def test_no_more_than_a_window_of_lines_waits_for_its_receipt():
    for receipts in (Receipts(echo=False, every=3, window=3), Receipts(echo=True, window=3)):
        for n in range(3):
            assert receipts.room
            receipts.wrote(f"PRIVMSG #a :{n}")
        assert not receipts.room
        if receipts.echo:
            assert receipts.echoed("#a")
        else:
            assert receipts.ping_due(more=False)
            receipts.pinged()
            assert receipts.ponged(receipts.ping().split(":", 1)[1])
        assert receipts.room
