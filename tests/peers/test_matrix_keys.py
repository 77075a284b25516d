"""Room keys on a real Synapse: a message the bot cannot decrypt, a person's device asking the
bot for a key it missed, and the ``verified`` policy with ``[matrix] trusted_identities``.
The people are encrypting matrix-nio clients (tests/e2euser.py), cross-signed by the tests."""

import itertools

import nio
import pytest_twisted

from kojibot.adapters.matrix import rooms
from tests.e2euser import E2EUser, decrypted_answer, public
from tests.peers.test_bot_matrix import bot_settings, start_bot
from tests.peers.test_matrix_e2e import adapter, ask, e2e_env
from tests.synapse import sleep

_names = itertools.count(1)


def bot_said(me, body_start):
    """A matcher: the bot's decrypted message whose body starts with *body_start*."""
    return lambda event: (getattr(event, "decrypted", False) and event.sender == me
                          and event.source["content"].get("body", "").startswith(body_start))


@pytest_twisted.ensureDeferred
async def test_an_undecryptable_command_gets_a_notice_a_key_request_and_later_its_answer(
        kojihub, synapse, tmp_path, logged):
    env = await e2e_env(kojihub, synapse, tmp_path)
    alice, me = env.alice, env.me
    try:
        room = await alice.create_room(invite=(me,))
        await alice.wait_member(room, me)
        bot_device = adapter(env).client.device_id
        await alice.wait_for(lambda: me in alice.client.device_store.users
                             and bot_device in alice.client.device_store[me], 20,
                             "the bot's device keys")
        alice.withhold_next_key(me, bot_device)
        task_id = kojihub.facts["builds"]["complete"]["task_id"]
        asked = await alice.send(room, f"!task {task_id}")
        session = alice.session_of(room)
        assert alice.held  # the room key for the bot's device was made, and kept back

        notice = await alice.wait_event(room, decrypted_answer(me, asked), timeout=30)
        assert notice.source["content"]["body"] == rooms.undecryptable_notice(bot_device)
        request = await alice.wait_for(lambda: next(
            (event for event in alice.to_device if isinstance(event, nio.RoomKeyRequest)
             and event.sender == me and event.session_id == session), None), 20,
            "the bot's key request")
        assert (request.requesting_device_id, request.room_id) == (bot_device, room)
        again = await alice.send(room, f"!task {task_id}")  # the same session: no key either
        assert alice.session_of(room) == session
        await alice.wait_for(lambda: [line for line in logged if again in line
                                      and "cannot decrypt" in line], 20, "the second miss")
        assert not [event for event in alice.events(room)
                    if bot_said(me, f"Task {task_id}")(event)]  # not answered yet

        await alice.release_withheld()  # the person's client shares the key now
        for command in (asked, again):
            await alice.wait_event(room, lambda event, command=command: (
                decrypted_answer(me, command)(event)
                and bot_said(me, f"Task {task_id} build ")(event)), 30)
        assert len([line for line in logged if "with a key that came late" in line]) == 2
        assert [event.source["content"]["m.relates_to"]["m.in_reply_to"]["event_id"]
                for event in alice.events(room)  # one notice for the session, not per message
                if bot_said(me, rooms.undecryptable_notice(bot_device))(event)] == [asked]
    finally:
        await alice.close()
        await env.bot.stopService()


@pytest_twisted.ensureDeferred
async def test_a_new_device_of_the_asker_gets_the_key_of_an_answer_it_missed(
        kojihub, synapse, tmp_path, logged):
    env = await e2e_env(kojihub, synapse, tmp_path)
    alice, me = env.alice, env.me
    phone = None
    try:
        room = await alice.create_room(invite=(me,))
        await alice.wait_member(room, me)
        task_id = kojihub.facts["builds"]["complete"]["task_id"]
        answer = await ask(alice, room, me, f"!task {task_id}")

        phone = await E2EUser.login(synapse.url, env.person, tmp_path / "phone", "phone")
        missed = await phone.wait_event(room, lambda event: isinstance(event, nio.MegolmEvent)
                                        and event.event_id == answer["event_id"])
        assert phone.decrypt(missed) is None  # the phone was not there: no key for it
        await phone.request_key(room, missed, adapter(env).client.device_id)

        got = await phone.wait_for(lambda: phone.decrypt(missed), 30, "the forwarded key")
        assert got.source["content"]["body"] == answer["content"]["body"]
        assert [line for line in logged if "forwarding the key of session" in line
                and phone.device_id in line]
    finally:
        if phone is not None:
            await phone.close()
        await alice.close()
        await env.bot.stopService()


def spaced(key: str) -> str:
    """A key in groups of four, as people copy them."""
    return " ".join(key[i:i + 4] for i in range(0, len(key), 4))


@pytest_twisted.ensureDeferred
async def test_verified_answers_only_the_devices_of_listed_identities(
        kojihub, synapse, tmp_path, logged):
    n = next(_names)
    account, person = synapse.register(f"vbot-{n}"), synapse.register(f"vpackager-{n}")
    other = synapse.register(f"vother-{n}")
    laptop = await E2EUser.login(synapse.url, person, tmp_path / "laptop", "laptop")
    phone = await E2EUser.login(synapse.url, person, tmp_path / "phone", "phone", signed=False)
    tablet = await E2EUser.login(synapse.url, other, tmp_path / "tablet", "tablet")
    me, alice, carol = account["user_id"], person["user_id"], other["user_id"]
    master = public(person["master"])
    bot = await start_bot(bot_settings(  # carol listed with alice's master key
        kojihub, synapse, tmp_path / "bot", account,
        f"encryption = verified\ntrusted_identities = {alice} {spaced(master)},\n"
        f"  {carol} {master}\n"))
    try:
        room = await laptop.create_room(invite=(me, carol))
        await laptop.wait_member(room, me)
        await tablet.join(room)
        task_id = kojihub.facts["builds"]["complete"]["task_id"]
        answer = await ask(laptop, room, me, f"!task {task_id}")
        assert answer["content"]["body"].startswith(f"Task {task_id} build ")
        assert [line for line in logged if f"trusting device {laptop.device_id}" in line
                and master in line]

        unanswered = [await user.send(room, f"!task {task_id}") for user in (phone, tablet)]
        await phone.wait_for(lambda: [line for line in logged if "not answering" in line
                                      and phone.device_id in line
                                      and "its owner did not sign it" in line], 20,
                             "the bot saying it does not answer the phone")
        assert [line for line in logged if "not answering" in line and tablet.device_id in line
                and f"master key of {carol} is not the one listed" in line]
        await sleep(2)  # what the bot would have said by now
        for user in (laptop, phone):
            await user.sync(0)
            assert not [event for event in user.events(room) for asked in unanswered
                        if decrypted_answer(me, asked)(event)]
        on_phone = await phone.wait_event(room, lambda event: event.event_id
                                          == answer["event_id"])
        assert isinstance(on_phone, nio.MegolmEvent)  # the phone gets no room key either
        await phone.request_key(room, on_phone, bot.adapters["matrix"].client.device_id)
        await phone.wait_for(lambda: [line for line in logged if "not sharing the key" in line
                                      and phone.device_id in line and "trust" in line], 20,
                             "the bot refusing the phone's key request")
        await phone.sync(0)
        assert phone.decrypt(on_phone) is None
    finally:
        for user in (laptop, phone, tablet):
            await user.close()
        await bot.stopService()
