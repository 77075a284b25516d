"""Two kojibots on one PostgreSQL database: the lead relays, the standby waits. The lead is
SIGKILLed (or SIGSTOPped) while 1,000 events stream in; the standby takes over within 15 s
and every matching event reaches the channel; a line ngircd (no echo-message) had handled
while the old lead had not read its receipt goes out again, so at most a receipt window of
lines shows twice. A stopped lead that is woken after the takeover sends nothing and exits
with status 3. Real RabbitMQ, real ngircd, real
PostgreSQL, and the bots as processes: the ``kojibot`` installed from the wheel."""

import os
import signal
import threading
import time

import pytest_twisted
from twisted.internet import threads

from kojibot.adapters.irc.receipts import WINDOW
from kojibot.bot import RESTARTING
from kojibot.state.store import Subscription
from tests.busmessages import FEDORA_BUILD, count_events, fedora_build, until
from tests.ircuser import IRCUser
from tests.peers.test_relay_crash import paced_publish
from tests.statedb import tables

TAKEOVER_LIMIT = 15.0


def config(postgresql, rabbitmq, ngircd, nick, channel, queue):
    return (
        f"[bot]\nnick = {nick}\nstate = {postgresql.url}\ndigest_after = 10\n"
        "digest_window = 2\nlease_seconds = 6\n"
        "[koji]\nserver = http://127.0.0.1:9/kojihub\nweburl = https://koji.example.test/koji\n"
        f"[irc]\nhost = 127.0.0.1\nport = {ngircd.port}\ntls = no\nchannels = {channel}\n"
        "line_rate = 2\nburst = 2\n"
        f"[amqp]\nurl = {rabbitmq.url}\nqueue = {queue}\nprefetch = 100\n")


def bot_lines(watcher, nick):
    """(index, nick, text) of what any of the bots (nick, nick_, ...) said, in order."""
    from kojibot.chat.render import strip_irc_formatting

    return [(n, h.nick, strip_irc_formatting(h.text)) for n, h in enumerate(watcher.messages())
            if h.nick.startswith(nick)]


async def fail_over(how, installed, rabbitmq, ngircd, postgresql, tmp_path):
    """Run the scenario; the seconds from the signal to the new lead joined and speaking."""
    postgresql.empty()
    channel, nick, queue = f"#failover-{how}", f"fo{how}", f"kojibot-failover-{how}"
    seeding = tables(postgresql.url)
    seeding.subscribe(Subscription("irc", channel, "package", "fopkg", frozenset({"complete"})))
    seeding.db.close()
    text = config(postgresql, rabbitmq, ngircd, nick, channel, queue)
    watcher = await IRCUser.connect(ngircd.port, f"fowatch{how}")
    await watcher.join(channel)
    first = installed.start(text, tmp_path / "first", "--log-level", "info")
    await first.wait_log(r"leading as term \d+", timeout=30)
    second = installed.start(text, tmp_path / "second", "--log-level", "info")
    await second.wait_log(r"waiting for the lead", timeout=30)
    try:
        await watcher.wait_line(lambda h: h.command == "JOIN" and h.nick == nick, timeout=30)
        events = [(FEDORA_BUILD, fedora_build(960000 + n, "fopkg" if n % 2 == 0 else "otherpkg",
                                              1)) for n in range(1000)]
        publishing = threading.Thread(target=paced_publish, args=(rabbitmq.url, events, 4.0))
        publishing.start()
        await until(lambda: relayed(postgresql) > 50, timeout=30)
        os.kill(first.pid, signal.SIGKILL if how == "kill" else signal.SIGSTOP)
        signalled, stopped_at = time.monotonic(), relayed(postgresql)
        seen_before = len(watcher.messages())
        await second.wait_log(r"leading as term \d+", timeout=TAKEOVER_LIMIT + 5)
        led = time.monotonic() - signalled
        joined = await watcher.wait_line(
            lambda h: h.command == "JOIN" and h.nick.startswith(nick), timeout=TAKEOVER_LIMIT)
        at_join = len(watcher.messages())
        await until(lambda: [h for h in watcher.messages()[at_join:] if h.nick == joined.nick],
                    timeout=TAKEOVER_LIMIT)
        took = time.monotonic() - signalled
        await threads.deferToThread(publishing.join)
        assert stopped_at < 500, "the signal came after the stream ended: nothing was tested"
        print(f"\n{how}: lead taken {led:.1f} s, joined and speaking {took:.1f} s after the "
              f"signal ({stopped_at} events committed before it)")
        assert joined.nick != nick or how == "kill"  # a stopped lead keeps its nick
        assert took < TAKEOVER_LIMIT

        if how == "stop":
            woken = len(watcher.heard)
            os.kill(first.pid, signal.SIGCONT)
            await first.wait_log(r"lost the lead \(term \d+\)", timeout=15)
            await until(lambda: first.process.poll() is not None, timeout=15)
            assert first.process.returncode == 3
            gone = await watcher.wait_line(lambda h: h.command == "QUIT" and h.nick == nick,
                                           timeout=15)  # then the new lead may take its nick
            said = [h.text for h in watcher.heard[woken:watcher.heard.index(gone)]
                    if h.command == "PRIVMSG" and h.nick == nick and RESTARTING not in h.text]
            assert said == [], "the old lead relayed after it was woken"
        await until(lambda: count_events([t for _, _, t in bot_lines(watcher, nick)],
                                         "fopkg")[0] >= 500, timeout=180)
        lines = bot_lines(watcher, nick)
        total, names = count_events([t for _, _, t in lines], "fopkg")
        repeated = len(names) - len(set(names))
        print(f"{how}: {total - 500} line(s) shown twice")
        assert 500 <= total <= 500 + WINDOW, f"{total} fopkg events shown, signal after " \
            f"{stopped_at}"
        assert repeated <= total - 500
        assert not [t for _, _, t in lines if "otherpkg" in t]
        assert {who for n, who, _ in lines if n >= seen_before} <= {joined.nick, nick}
        return took
    finally:
        if first.process.poll() is None:
            os.kill(first.pid, signal.SIGCONT)
        await first.stop()
        await second.stop()
        await watcher.quit()


def relayed(postgresql):
    """Events the bots have committed so far."""
    try:
        return postgresql.query("SELECT count(*) FROM relayed_event")[0][0]
    except Exception:  # noqa: BLE001 - the table is made by the first bot's migration
        return 0


@pytest_twisted.ensureDeferred
async def test_sigkill_of_the_lead_the_standby_takes_over_and_each_event_shows_once(
        installed, rabbitmq, ngircd, postgresql, tmp_path):
    await fail_over("kill", installed, rabbitmq, ngircd, postgresql, tmp_path)


@pytest_twisted.ensureDeferred
async def test_sigstop_of_the_lead_the_standby_takes_over_and_the_woken_one_says_nothing(
        installed, rabbitmq, ngircd, postgresql, tmp_path):
    await fail_over("stop", installed, rabbitmq, ngircd, postgresql, tmp_path)

