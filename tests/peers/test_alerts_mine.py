"""!alerts mine and !alerts koji with every peer real: the koji 1.30 hub's package lists
(seeded owners: alice owns bash, bob owns gcc) and its build notifications, set as admin
through the hub's API; the hub's protonmsg plugin publishes package list changes into
RabbitMQ, Fedora-shaped build messages go there with pika; people talk on ngircd."""

import itertools
import os
from types import SimpleNamespace

import pytest_twisted

from tests.busmessages import FEDORA_BUILD, fedora_build, publish
from tests.chatbots import ask, blocking, from_bot, heard, start_bot
from tests.ircuser import IRCUser
from tests.peers.test_alerts_watch_e2e import delete_queue

_names = itertools.count(1)
_builds = itertools.count(980000)
COMPLETE, FAILED = 1, 3


@pytest_twisted.async_yield_fixture(scope="module")
async def peers(proton_kojihub, rabbitmq, ngircd, tmp_path_factory):
    n = next(_names)
    peers = SimpleNamespace(hub=proton_kojihub, rabbitmq=rabbitmq, ngircd=ngircd, n=n,
                            channel=f"#mine-{n}", tmp=tmp_path_factory.mktemp("mine"))
    peers.admin = proton_kojihub.session("kojiadmin")
    peers.alice = await IRCUser.connect(ngircd.port, f"mialice{n}")
    peers.bob = await IRCUser.connect(ngircd.port, f"mibob{n}")
    peers.bot = await start_bot(peers, f"minebot{n}", peers.tmp / "mine.sqlite3")
    for user, koji_user in ((peers.alice, "alice"), (peers.bob, "bob")):
        await ask(user, peers.bot, f"iam {koji_user}", rf"^Linked {user.nick} to Koji user")
    yield peers
    await peers.bot.bot.stopService()
    await peers.alice.quit()
    await peers.bob.quit()
    await blocking(delete_queue, rabbitmq.url, f"kojibot-{peers.bot.name}")


async def build(peers, package, new=COMPLETE, owner="releng", task_id=None):
    """Publish a Fedora-shaped build change of *package*; its NVR's start."""
    build_id = next(_builds)
    await blocking(publish, peers.rabbitmq.url, [
        (FEDORA_BUILD, fedora_build(build_id, package, new, owner=owner, task_id=task_id))])
    return f"{package}-1.0-{build_id}.fc41"


@pytest_twisted.ensureDeferred
async def test_mine_fires_for_an_owned_package_not_for_anothers(peers):
    alice, nick = peers.alice, peers.bot.nick
    await ask(alice, peers.bot, "alerts mine",
              r"^Alert on: a DM for builds of packages alice owns \(complete failed\)")
    others = await build(peers, "gcc")
    owned = await build(peers, "bash")
    await heard(alice, nick, rf"^{owned} COMPLETE .* by releng")
    assert not [line for line in from_bot(alice, nick, True) if others in line]

    new = f"minepkg{os.getpid()}x{peers.n}"
    await blocking(lambda: peers.admin.packageListAdd("f41-updates", new, owner="alice"))
    fresh = await build(peers, new)  # the list change is on the bus before it
    await heard(alice, nick, rf"^{fresh} COMPLETE")
    await ask(alice, peers.bot, "alerts mine off", r"^Alert off: mine\.")


@pytest_twisted.ensureDeferred
async def test_a_koji_build_notification_fires_alerts_koji(peers):
    bob, nick, admin = peers.bob, peers.bot.nick, peers.admin
    user_id = (await blocking(admin.getUser, "bob"))["id"]
    await blocking(admin.createNotification, user_id, "python-requests", None, True)
    await ask(bob, peers.bot, "alerts koji",
              r"^Alert on: a DM for builds bob has Koji notifications for")
    failed = await build(peers, "python-requests", FAILED)
    done = await build(peers, "python-requests")
    await heard(bob, nick, rf"^{done} COMPLETE")
    assert not [line for line in from_bot(bob, nick, True) if failed in line]  # success only
    assert not [line for line in from_bot(bob, nick, True) if "bash-" in line]


@pytest_twisted.ensureDeferred
async def test_koji_notifications_and_opt_outs_for_a_tag_match_the_builds_destination(peers):
    """As Koji matches them: the tag is the destination tag of the build task's target
    (the seeded build tasks use target f41: f41-build to f41-candidate)."""
    alice, nick, admin = peers.alice, peers.bot.nick, peers.admin
    user_id = (await blocking(admin.getUser, "alice"))["id"]
    await blocking(admin.createNotification, user_id, "glibc", "f41-candidate", False)
    await blocking(admin.createNotification, user_id, "systemd", "f41-updates", False)
    await blocking(admin.createNotification, user_id, "gcc", None, False)
    await blocking(admin.createNotificationBlock, user_id, "gcc", "f41-candidate")
    await ask(alice, peers.bot, "alerts koji",
              r"^Alert on: a DM for builds alice has Koji notifications for")
    task = peers.hub.facts["tasks"]["complete"]
    elsewhere = await build(peers, "systemd", task_id=task)
    untargeted = await build(peers, "glibc")
    opted_out = await build(peers, "gcc", task_id=task)  # Koji's opt-out mutes it there
    headed = await build(peers, "glibc", FAILED, task_id=task)
    anywhere_else = await build(peers, "gcc")
    await heard(alice, nick, rf"^{headed} FAILED")
    await heard(alice, nick, rf"^{anywhere_else} COMPLETE")
    said = " ".join(from_bot(alice, nick, True))
    assert elsewhere not in said and untargeted not in said and opted_out not in said
    await ask(alice, peers.bot, "alerts koji off", r"^Alert off: koji\.")
