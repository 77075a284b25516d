"""Bots on ngircd for end-to-end tests: start one on the real hub (and bus), ask it, hear it."""

import re
from types import SimpleNamespace

from twisted.internet import reactor, threads

from kojibot import config
from kojibot.adapters.irc.network import adapter_from_config
from kojibot.bot import Bot
from kojibot.chat.render import strip_irc_formatting


def blocking(function, *args):
    return threads.deferToThread(function, *args)


async def start_bot(peers, nick, state, bus=True, poll=60.0, amqp=""):
    """A bot on ``peers``' hub, ngircd channel and (with ``bus``) RabbitMQ, ``amqp`` lines
    added to its [amqp] section."""
    hub = peers.hub
    text = (f"[bot]\nnick = {nick}\nstate = {state}\nrate = 1000\n"
            f"watch_poll_interval = {poll}\n"
            f"[koji]\nserver = {hub.url}\nweburl = {hub.weburl}\ntopurl = {hub.topurl}\n"
            f"[irc]\nhost = 127.0.0.1\nport = {peers.ngircd.port}\ntls = no\n"
            f"channels = {peers.channel}\nline_rate = 10\nburst = 20\n")
    if bus:
        text += f"[amqp]\nurl = {peers.rabbitmq.url}\nqueue = kojibot-{nick}\n{amqp}"
    bot = Bot(config.parse(text))
    adapter = adapter_from_config(bot.config.irc, bot.receive)
    bot.add_adapter(adapter)
    bot.startService()
    await adapter.when_ready().addTimeout(20, reactor)
    if bus:
        await bot.getServiceNamed("amqp").when_consuming().addTimeout(30, reactor)
    return SimpleNamespace(bot=bot, name=nick, nick=adapter.nick, state=state)


def from_bot(user, nick, direct):
    """Lines the bot said in a DM to ``user`` (or in the channel), formatting stripped."""
    return [strip_irc_formatting(h.text) for h in user.messages()
            if h.nick == nick and (h.target == user.nick) == direct]


async def heard(user, nick, pattern, direct=True, timeout=20):
    found = await user.wait_for(lambda h: h.nick == nick and (h.target == user.nick) == direct
                                and re.search(pattern, strip_irc_formatting(h.text)),
                                timeout=timeout)
    return strip_irc_formatting(found.text)


async def ask(user, bot, line, pattern, room=None):
    user.say(room or bot.nick, line)
    return await heard(user, bot.nick, pattern, direct=room is None)
