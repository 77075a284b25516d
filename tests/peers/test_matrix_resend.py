"""A relayed line, the bot SIGKILLed after Synapse made its event and before the bot heard
the event id, then started again: the line is in the room once. The resend carries the same
transaction id (named after the outbox row) with the saved access token, so Synapse answers
with the first event instead of making a second. A proxy (tests/holdproxy.py) holds Synapse's
answers to sends; the bot is the installed ``kojibot`` (tests/installed.py)."""

import re
import sqlite3

import pytest_twisted

from kojibot.chat.message import text, to_json
from kojibot.state.store import OutboxEntry
from tests.busmessages import until
from tests.holdproxy import HoldingProxy
from tests.statedb import tables
from tests.synapse import from_bot

LINE = "resendpkg-1.0-1.fc41 completed"


def _waiting_rows(state) -> int:
    db = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
    try:
        return db.execute("SELECT count(*) FROM outbox").fetchone()[0]
    finally:
        db.close()


@pytest_twisted.ensureDeferred
async def test_killed_between_the_send_and_its_answer_the_line_appears_once(installed, synapse,
                                                                           tmp_path):
    account = synapse.register("kojibot-resend")
    alice = synapse.user(synapse.register("packager-resend"))
    room = await alice.create_room(invite=[account["user_id"]], name="resend")
    state = tmp_path / "state.sqlite3"
    proxy = await HoldingProxy(synapse.port, b"/send/m.room.message/").start()
    config = (f"[bot]\nstate = {state}\n"
              "[koji]\nserver = http://127.0.0.1:9/kojihub\n"
              f"[matrix]\nhomeserver = http://127.0.0.1:{proxy.port}\n"
              f"user_id = {account['user_id']}\npassword = {account['password']}\n"
              "encryption = refuse\n")
    home = tmp_path / "home"
    bot = installed.start(config, home, "--log-level", "info")  # joins on the invite
    try:
        await alice.wait_member(room, account["user_id"], timeout=60)
        assert await bot.stop() == 0
        seeding = tables(str(state))
        seeding.record_events([("resend-1", [OutboxEntry(
            "matrix", room, False, "builds completed\tresendpkg-1.0-1.fc41",
            to_json(text(LINE)))])])
        seeding.db.close()
        proxy.hold = True
        bot = installed.start(config, home, "--log-level", "info")
        await until(lambda: proxy.held or bot.process.poll() is not None, timeout=60)
        assert proxy.held, f"the bot sent nothing; its log ends:\n{bot.log()[-2000:]}"
        await alice.wait_event(room, lambda e: from_bot(account["user_id"])(e)
                               and e["content"]["body"] == LINE)  # Synapse has the event
        bot.kill()
        proxy.hold = False
        assert _waiting_rows(state) == 1  # never heard its event id: the row stays
        bot = installed.start(config, home, "--log-level", "info")
        await until(lambda: _waiting_rows(state) == 0, timeout=60)
        sends = [re.search(r"/send/m\.room\.message/(\S+) ", r).group(1)
                 for r in proxy.requests if "/send/m.room.message/" in r]
        assert len(sends) == 2 and sends[0] == sends[1], sends
        shown = [e for e in await alice.messages(room)
                 if from_bot(account["user_id"])(e) and e["content"]["body"] == LINE]
        assert len(shown) == 1, shown
    finally:
        await bot.stop()
        await proxy.stop()
