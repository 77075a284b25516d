"""The three renderings of a message: IRC (mIRC codes), Matrix HTML and plain text. Koji text
is untrusted: it can neither end a line, nor format, nor link anything but http(s), nor
mention anyone."""

import pytest

from kojibot.adapters.irc.lines import reply_lines
from kojibot.adapters.matrix.rooms import reply_content
from kojibot.chat import render
from kojibot.chat.message import bold, code, link, state, text
from kojibot.chat.model import Reply, Target

B, C = render.BOLD, render.COLOUR


def test_irc_states_are_coloured_names_bold_links_and_code_bare():
    message = text("Build ", bold("bash-5.2-1"), " ", state("FAILED"), " ", state("COMPLETE"),
                   " ", state("ODD"), " ", code("f41"), " ", link("https://koji.test/b/1"))
    assert render.irc(message) == (f"Build {B}bash-5.2-1{B} {C}04FAILED{C} {C}03COMPLETE{C} "
                                   f"{B}ODD{B} f41 https://koji.test/b/1")
    assert render.irc(message, colours=False) == render.plain(message) == (
        "Build bash-5.2-1 FAILED COMPLETE ODD f41 https://koji.test/b/1")


@pytest.mark.parametrize("koji", ["a\r\nQUIT :bye", "a\x00b", "a\x02b\x0304c\x0f",
                                  "a\u2028b\u0085c", "a\u202eb\u200bc"])
def test_koji_text_can_neither_end_an_irc_line_nor_format_it(koji):
    for message in (text("x ", koji), text(bold(koji)), text(state(koji))):
        rendered = render.irc(message, colours=False)
        assert not any(ord(ch) < 32 or 0x7f <= ord(ch) <= 0x9f for ch in rendered), rendered
        assert "\u2028" not in rendered and "\u202e" not in rendered
        (line,) = reply_lines(Reply(Target("irc", "#koji"), message), False, "kojibot!k@h")
        assert line.startswith("PRIVMSG #koji :") and "\n" not in line and "\r" not in line


def test_a_joiner_inside_an_emoji_is_kept_and_spaces_collapse():
    family = "\U0001f468\u200d\U0001f469"
    assert render.plain(text("a  \t b ", family)) == f"a b {family}"


def test_html_escapes_koji_text_and_colours_states():
    message = text("Task 7 <b>x</b> & ", state("FAILED"), " ", bold("a<i>"), " ",
                   code("f41\r\nbuild"), " ", link("https://koji.test/t?a=1&b=\"2\""), " ",
                   link("javascript:alert(1)"), " ", state("ODD"))
    assert render.html(message) == (
        'Task 7 &lt;b&gt;x&lt;/b&gt; &amp; '
        '<font color="#ff0000" data-mx-color="#ff0000">FAILED</font> <b>a&lt;i&gt;</b> '
        '<code>f41 build</code> '
        '<a href="https://koji.test/t?a=1&amp;b=&quot;2&quot;">'
        'https://koji.test/t?a=1&amp;b="2"</a> javascript:alert(1) <b>ODD</b>')
    assert render.plain(message).startswith("Task 7 <b>x</b> & FAILED a<i> f41 build")


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,<b>x</b>",
                                 "//evil.test/x", " javascript:x", "ftp://koji.test/x"])
def test_only_http_and_https_become_links(url):
    rendered = render.html(text(link(url)))
    assert "<a" not in rendered and "<b>" not in rendered
    assert render.html(text(link("HTTPS://koji.test/x"))) == (
        '<a href="HTTPS://koji.test/x">HTTPS://koji.test/x</a>')


def test_mentions_in_koji_text_are_inert_on_matrix_and_irc():
    """Koji text naming ``@room`` or a Matrix id mentions no one; only the asker is
    mentioned, and on IRC only the asker's nick leads the line."""
    parts = ("owner ", bold("@room"), " and @bob:example.org built it")
    koji = text(*parts)
    relayed = reply_content(Reply(Target("matrix", "!r:x"), koji))
    assert relayed["m.mentions"] == {}
    assert "@room" not in relayed["body"] and "@room" not in relayed["formatted_body"]
    assert "@bob:" not in relayed["body"] and "@bob:" not in relayed["formatted_body"]
    answer = reply_content(Reply(Target("matrix", "!r:x"), koji, mention="@al:x"))
    assert answer["m.mentions"] == {"user_ids": ["@al:x"]}
    (line,) = reply_lines(Reply(Target("irc", "#koji"), text("bob: ", *parts), mention="al"),
                          True, "kojibot!k@h")
    assert line.startswith("PRIVMSG #koji :al: bob: ")
