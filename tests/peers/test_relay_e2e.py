"""The relay with every peer real: koji's own protonmsg plugin in the fixture hub publishes
into a private RabbitMQ node; the bot consumes, and a scripted user on ngircd watches the
channel. Fedora-shaped messages are published with pika to the same broker."""

import itertools
import re

import pika
import pytest_twisted
from twisted.internet import reactor, threads

from kojibot import config
from kojibot.adapters.irc.network import adapter_from_config
from kojibot.bot import Bot
from kojibot.chat.render import strip_irc_formatting
from tests.builddriver import BuildDriver
from tests.busmessages import (
    FEDORA_BUILD,
    count_events,
    fedora_build,
    lines_from,
    publish,
    until,
)
from tests.ircuser import IRCUser

_names = itertools.count(1)
DLX = "kojibot-dead-letters"


def dead_letters(url, queue):
    """Declare the dead-letter exchange and a queue on it; returns a reader of its bodies."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.exchange_declare(DLX, "fanout", durable=True)
    channel.queue_declare(queue, durable=True)
    channel.queue_bind(queue, DLX)

    def read():
        bodies = []
        while True:
            method, _, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return bodies
            bodies.append(body)
    return read


@pytest_twisted.async_yield_fixture(scope="module")
async def relay_bot(proton_kojihub, rabbitmq, ngircd, tmp_path_factory):
    n = next(_names)
    channel, queue = f"#relay-{n}", f"kojibot-e2e-{n}"
    state = tmp_path_factory.mktemp("relay") / "state.sqlite3"
    read_dead = await threads.deferToThread(dead_letters, rabbitmq.url, f"dead-{n}")
    settings = config.parse(
        f"[bot]\nnick = relaybot{n}\nstate = {state}\nrate = 1000\ndigest_after = 50\n"
        f"[koji]\nserver = {proton_kojihub.url}\nweburl = {proton_kojihub.weburl}\n"
        f"[irc]\nhost = 127.0.0.1\nport = {ngircd.port}\ntls = no\nchannels = {channel}\n"
        "line_rate = 10\nburst = 20\n"
        f"[amqp]\nurl = {rabbitmq.url}\nqueue = {queue}\ndead_letter_exchange = {DLX}\n")
    op = await IRCUser.connect(ngircd.port, f"releng{n}")
    await op.join(channel)  # first in the channel: an operator
    bot = Bot(settings)
    adapter = adapter_from_config(settings.irc, bot.receive)
    bot.add_adapter(adapter)
    bot.startService()
    await adapter.when_ready().addTimeout(20, reactor)
    await next(s for s in bot if s is not adapter).when_consuming().addTimeout(30, reactor)
    yield adapter, op, channel, read_dead
    await op.quit()
    await bot.stopService()


async def line_about(user, nick, pattern, timeout=20):
    heard = await user.wait_for(lambda h: h.nick == nick and re.search(
        pattern, strip_irc_formatting(h.text)), timeout=timeout)
    return strip_irc_formatting(heard.text)


async def subscribe(op, adapter, channel, words):
    op.say(channel, f"!subscribe {words}")
    return await line_about(op, adapter.nick, r"Subscribed")


@pytest_twisted.ensureDeferred
async def test_protonmsg_events_reach_the_subscribed_channel(relay_bot, proton_kojihub):
    adapter, op, channel, _ = relay_bot
    await subscribe(op, adapter, channel, "package relaytest all")
    driver = BuildDriver(proton_kojihub)
    web = proton_kojihub.weburl

    first = await threads.deferToThread(driver.start, "relaytest", "1.0", "1")
    line = await line_about(op, adapter.nick, rf"{first} BUILDING")
    assert re.search(rf"by kojiadmin — {web}/buildinfo\?buildID=\d+$", line)
    await threads.deferToThread(driver.complete, first)
    line = await line_about(op, adapter.nick, rf"{first} COMPLETE")
    assert "(was BUILDING)" in line
    await threads.deferToThread(driver.tag, first, "f41-updates")
    await line_about(op, adapter.nick, rf"{first} tagged into f41-updates")

    second = await threads.deferToThread(driver.start, "relaytest", "1.0", "2")
    await threads.deferToThread(driver.fail, second)
    await line_about(op, adapter.nick, rf"{second} FAILED")

    other = await threads.deferToThread(driver.start, "unwatched", "1.0", "1")
    await threads.deferToThread(driver.complete, other)
    third = await threads.deferToThread(driver.start, "relaytest", "1.0", "3")
    await threads.deferToThread(driver.cancel, third)
    await line_about(op, adapter.nick, rf"{third} CANCELED")
    assert not [line for line in lines_from(op, adapter.nick) if "unwatched" in line]


@pytest_twisted.ensureDeferred
async def test_fedora_messages_are_relayed_and_malformed_ones_dead_lettered(relay_bot,
                                                                              rabbitmq):
    adapter, op, channel, read_dead = relay_bot
    await subscribe(op, adapter, channel, "owner fedorauser")
    garbage = b"\x00Sw\xa1\x05{bad"
    await threads.deferToThread(publish, rabbitmq.url, [
        (FEDORA_BUILD, b"{not json"),
        ("koji.build.complete", garbage),
        (FEDORA_BUILD, fedora_build(900001, "fedpkg", 1, owner="fedorauser")),
        (FEDORA_BUILD, fedora_build(900002, "fedpkg", 3, owner="someoneelse")),
    ])
    line = await line_about(op, adapter.nick, r"fedpkg-1\.0-900001\.fc41 COMPLETE")
    assert line.endswith("by fedorauser, took 25m 10s — "
                         "https://koji.example.test/koji/buildinfo?buildID=900001")
    dead = await threads.deferToThread(read_dead)
    assert sorted(dead) == sorted([b"{not json", garbage])
    assert not [x for x in lines_from(op, adapter.nick) if "900002" in x]


@pytest_twisted.ensureDeferred
async def test_broker_restart_mid_stream_loses_nothing(relay_bot, rabbitmq):
    adapter, op, channel, _ = relay_bot
    await subscribe(op, adapter, channel, "package restartpkg complete")
    first = [(FEDORA_BUILD, fedora_build(910000 + n, "restartpkg", 1)) for n in range(100)]
    second = [(FEDORA_BUILD, fedora_build(910100 + n, "restartpkg", 1)) for n in range(100)]
    await threads.deferToThread(publish, rabbitmq.url, first)
    await threads.deferToThread(rabbitmq.stop)
    await threads.deferToThread(rabbitmq.start)
    await threads.deferToThread(publish, rabbitmq.url, second)

    await until(lambda: count_events(lines_from(op, adapter.nick), "restartpkg")[0] >= 200,
                timeout=90)
    total, names = count_events(lines_from(op, adapter.nick), "restartpkg")
    assert total == 200 and len(names) == len(set(names))


@pytest_twisted.ensureDeferred
async def test_another_hubs_events_on_the_same_bus_are_not_relayed(relay_bot, rabbitmq):
    adapter, op, channel, _ = relay_bot
    await subscribe(op, adapter, channel, "package twohubs complete")
    ours = "http://127.0.0.1"  # the host of the bot's hub, as the plugin sends it
    await threads.deferToThread(publish, rabbitmq.url, [
        (FEDORA_BUILD, fedora_build(920001, "twohubs", 1, instance="stg",
                                    base_url="https://koji.stg.example.test")),
        (FEDORA_BUILD, fedora_build(920002, "twohubs", 1, base_url=ours)),
        (FEDORA_BUILD, fedora_build(920003, "twohubs", 1, instance="stg")),
        (FEDORA_BUILD, fedora_build(920004, "twohubs", 1)),
    ])
    await line_about(op, adapter.nick, r"twohubs-1\.0-920004\.fc41 COMPLETE")
    relayed = sorted(line.split()[0] for line in lines_from(op, adapter.nick)
                     if line.startswith("twohubs-"))
    assert relayed == ["twohubs-1.0-920002.fc41", "twohubs-1.0-920004.fc41"]


@pytest_twisted.ensureDeferred
async def test_broken_and_fixed_follow_a_packages_real_builds(relay_bot, proton_kojihub):
    adapter, op, channel, _ = relay_bot
    await subscribe(op, adapter, channel, "package turnpkg broken fixed")
    await subscribe(op, adapter, channel, "package turnsentinel complete")
    driver = BuildDriver(proton_kojihub)
    for release, outcome in (("1", driver.complete), ("2", driver.fail), ("3", driver.fail),
                             ("4", driver.complete), ("5", driver.complete)):
        nvr = await threads.deferToThread(driver.start, "turnpkg", "1.0", release)
        await threads.deferToThread(outcome, nvr)
    last = await threads.deferToThread(driver.start, "turnsentinel", "1.0", "1")
    await threads.deferToThread(driver.complete, last)
    await line_about(op, adapter.nick, rf"{last} COMPLETE")
    turns = [line.split(" by ")[0] for line in lines_from(op, adapter.nick)
             if line.startswith("turnpkg-")]
    assert turns == ["turnpkg-1.0-2 FAILED (was BUILDING)", "turnpkg-1.0-4 COMPLETE (was BUILDING)"]
    assert not [line for line in lines_from(op, adapter.nick) if "took 0s" in line]


@pytest_twisted.ensureDeferred
async def test_package_list_changes_on_the_hub_reach_packages_subscriptions(relay_bot,
                                                                            proton_kojihub):
    adapter, op, channel, _ = relay_bot
    await subscribe(op, adapter, channel, "packages listpkg-*")
    admin = await threads.deferToThread(proton_kojihub.session, "kojiadmin")
    await threads.deferToThread(admin.packageListAdd, "f41-updates", "listpkg-one", "alice")
    await threads.deferToThread(admin.packageListBlock, "f41-updates", "listpkg-one")
    await threads.deferToThread(admin.packageListAdd, "f41-updates", "otherpkg", "alice")
    await threads.deferToThread(admin.packageListUnblock, "f41-updates", "listpkg-one")
    await line_about(op, adapter.nick, r"listpkg-one unblocked in f41-updates")
    web = proton_kojihub.weburl
    assert [line for line in lines_from(op, adapter.nick) if line.startswith("listpkg-")] == [
        f"listpkg-one added to f41-updates by kojiadmin (owner alice) — "
        f"{web}/packageinfo?packageID=listpkg-one",
        f"listpkg-one blocked in f41-updates by kojiadmin — "
        f"{web}/packageinfo?packageID=listpkg-one",
        f"listpkg-one unblocked in f41-updates by kojiadmin — "
        f"{web}/packageinfo?packageID=listpkg-one"]
