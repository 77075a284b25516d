"""The log-tail parser alone (no hub): each failure shape's decisive line."""

import pytest

from kojibot.wording import logreasons
from tests.failshapes import SHAPES


@pytest.mark.parametrize("shape", SHAPES, ids=lambda shape: shape.name)
def test_each_shape_gives_its_line_or_none(shape):
    found = logreasons.reason(shape.logs)
    if shape.known:
        assert found == (shape.reason, shape.log)
    else:
        assert found is None  # the caller shows the fault string, never a guess


def test_quoted_lines_are_cleaned_and_short():
    line = "error: " + "x" * 500 + "\x1b[31m\x00"
    found = logreasons.from_build_log(line)
    assert len(found) == logreasons.LONGEST and found.endswith("…")
    assert "\x1b" not in logreasons.clean("DEBUG util.py:1:  a\x1b[0m b")


def test_many_missing_buildrequires_are_counted():
    log = "".join(f"No match for argument: dep{n}\n" for n in range(8))
    assert logreasons.from_root_log(log) == \
        "missing BuildRequires: dep0, dep1, dep2, dep3, dep4 +3 more"


def test_a_plain_rpmbuild_error_without_a_section():
    log = "Processing files: frob-2.1\nerror: File not found: /builddir/build/BUILDROOT/x\n"
    assert logreasons.reason({"build.log": log}) == \
        ("error: File not found: /builddir/build/BUILDROOT/x", "build.log")


def test_mock_errors_when_nothing_more_precise():
    assert logreasons.reason({"mock_output.log": "INFO: x\nERROR: Could not find "
                              "required config file: /etc/mock/f99.cfg\n"}) == \
        ("mock: ERROR: Could not find required config file: /etc/mock/f99.cfg",
         "mock_output.log")
