"""An outbox line as a Matrix edit (``m.replace``), without a homeserver."""

from kojibot.adapters.matrix import rooms
from kojibot.chat.message import state, text
from kojibot.chat.model import Reply, Target


def test_an_edit_carries_the_new_content_and_a_marked_fallback():
    reply = Reply(Target("matrix", "!r:x"), text("bash-1 ", state("COMPLETE")))
    content = rooms.edit_content(rooms.reply_content(reply), "$start")
    new = {"msgtype": "m.notice", "body": "bash-1 COMPLETE", "format": "org.matrix.custom.html",
           "formatted_body": 'bash-1 <font color="#009300" data-mx-color="#009300">COMPLETE'
                             '</font>', "m.mentions": {}}
    assert content == {**new, "body": "* bash-1 COMPLETE",
                       "formatted_body": f"* {new['formatted_body']}",
                       "m.new_content": new,
                       "m.relates_to": {"rel_type": "m.replace", "event_id": "$start"}}


def test_only_a_line_posted_in_the_same_room_is_edited():
    posted = rooms.posted_as("!dm:x", "$start")
    assert rooms.original_in(posted, "!dm:x") == "$start"
    assert rooms.original_in(posted, "!newdm:x") is None  # the DM room was replaced
    assert rooms.original_in(None, "!dm:x") is None
    assert rooms.original_in("garbage", "!dm:x") is None
