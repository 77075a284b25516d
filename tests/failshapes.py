"""Failed builds in the shapes kojid, mock, rpmbuild and git leave them: the fault string
kojid records, the logs it uploads, and the reason line the bot must give for each."""

from dataclasses import dataclass, field

MOCK_FAULT = ("error building package (arch {arch}), mock exited with status {status}; "
              "see {log} for more information")


@dataclass
class Shape:
    name: str
    logs: dict[str, str]
    reason: str  # what the bot says after "why:" / "failed on ARCH:"
    fault: str = MOCK_FAULT.format(arch="aarch64", status=1, log="build.log")
    stage: str = "arch"  # or "srpm": the SCM checkout fails before any build exists
    log: str = "build.log"  # the log the reason is in
    known: bool = True
    extra: dict = field(default_factory=dict)


CHECK_LOG = """\
Executing(%check): /bin/sh -e /var/tmp/rpm-tmp.Qw3rTy
+ umask 022
+ cd /builddir/build/BUILD/python-frob-2.1
+ /usr/bin/python3 -m pytest -v
============================= test session starts ==============================
tests/test_frob.py::test_one PASSED                                      [ 50%]
tests/test_frob.py::test_two FAILED                                      [100%]
=========================== short test summary info ============================
FAILED tests/test_frob.py::test_two - AssertionError: assert 3 == 4
========================= 1 failed, 1 passed in 0.12s ==========================
error: Bad exit status from /var/tmp/rpm-tmp.Qw3rTy (%check)


RPM build errors:
    Bad exit status from /var/tmp/rpm-tmp.Qw3rTy (%check)
Child return code was: 1
EXCEPTION: [Error('Command failed: \\n # bash --login -c /usr/bin/rpmbuild -bb --target aarch64 --nodeps /builddir/build/SPECS/python-frob.spec\\n', 1)]
Traceback (most recent call last):
  File "/usr/lib/python3.12/site-packages/mockbuild/trace_decorator.py", line 93, in trace
    result = func(*args, **kw)
mockbuild.exception.Error: Command failed:
"""  # noqa: E501 - log lines are as long as the tools write them

ROOT_LOG = """\
DEBUG util.py:624:  child environment: None
DEBUG util.py:542:  Executing command: ['/usr/bin/dnf-3', 'builddep', '--installroot', '/var/lib/mock/f41-build-4242-99/root/', '/var/lib/mock/f41-build-4242-99/root//builddir/build/SRPMS/frob-2.1-1.fc41.src.rpm']
DEBUG util.py:446:  koji-build-tag                          11 MB/s | 4.2 MB     00:00
DEBUG util.py:446:  No matching package to install: 'python3-nonexistent-dep'
DEBUG util.py:446:  No matching package to install: 'libfrob-devel >= 3.0'
DEBUG util.py:446:  Not all dependencies satisfied
DEBUG util.py:446:  Error: Some packages could not be found.
DEBUG util.py:598:  Child return code was: 1
"""  # noqa: E501 - log lines are as long as the tools write them

MOCK_OUTPUT_BR = """\
INFO: mock.py version 5.6 starting (python version = 3.12.4, NVR = mock-5.6-1.fc40)...
Start: installing minimal buildroot with dnf
Finish: installing minimal buildroot with dnf
ERROR: Command failed:
 # /usr/bin/dnf-3 builddep --installroot /var/lib/mock/f41-build-4242-99/root/
"""

CHECKOUT_LOG = """\
$ git clone -n https://src.example.test/rpms/vanished.git /var/lib/mock/f41-build-4243-99/root/chroot_tmpdir/scmroot/vanished
Cloning into '/var/lib/mock/f41-build-4243-99/root/chroot_tmpdir/scmroot/vanished'...
remote: Not Found
fatal: repository 'https://src.example.test/rpms/vanished.git/' not found
"""  # noqa: E501 - log lines are as long as the tools write them

OOM_LOG = """\
Executing(%build): /bin/sh -e /var/tmp/rpm-tmp.ZxCvBn
+ /usr/bin/cmake --build redhat-linux-build -j4 --verbose
[ 41%] Building CXX object CMakeFiles/bigcpp.dir/src/templates.cpp.o
/usr/bin/g++ -O2 -flto=auto -c /builddir/build/BUILD/bigcpp-9.0/src/templates.cpp
g++: fatal error: Killed signal terminated program cc1plus
compilation terminated.
gmake[2]: *** [CMakeFiles/bigcpp.dir/build.make:76: CMakeFiles/bigcpp.dir/src/templates.cpp.o] Error 1
gmake[1]: *** [CMakeFiles/Makefile2:83: CMakeFiles/bigcpp.dir/all] Error 2
gmake: *** [Makefile:136: all] Error 2
error: Bad exit status from /var/tmp/rpm-tmp.ZxCvBn (%build)

RPM build errors:
    Bad exit status from /var/tmp/rpm-tmp.ZxCvBn (%build)
Child return code was: 1
"""  # noqa: E501 - log lines are as long as the tools write them

ODD_LOG = """\
Mock Version: 5.6
ENTER ['do_with_status'](['bash', '--login', '-c', '/usr/bin/rpmbuild -bs ...'])
the builder's disk went away in the middle of the night
"""

SHAPES = [
    Shape("check", {"build.log": CHECK_LOG, "root.log": "DEBUG util.py:446:  Complete!\n"},
          "%check failed: error: Bad exit status from /var/tmp/rpm-tmp.Qw3rTy (%check)"),
    Shape("buildrequires", {"root.log": ROOT_LOG, "mock_output.log": MOCK_OUTPUT_BR,
                            "build.log": "Mock Version: 5.6\n"},
          "missing BuildRequires: python3-nonexistent-dep, libfrob-devel >= 3.0",
          fault=MOCK_FAULT.format(arch="aarch64", status=30, log="root.log"), log="root.log"),
    Shape("scm", {"checkout.log": CHECKOUT_LOG},
          "SCM checkout failed: fatal: repository "
          "'https://src.example.test/rpms/vanished.git/' not found",
          fault='Error running GIT command "git clone -n https://src.example.test/rpms/'
                'vanished.git /var/lib/mock/f41-build-4243-99/root/chroot_tmpdir/scmroot/'
                'vanished", see checkout.log for details',
          stage="srpm", log="checkout.log"),
    Shape("oom", {"build.log": OOM_LOG},
          "%build failed: a process was killed (out of memory?): "
          "g++: fatal error: Killed signal terminated program cc1plus"),
    Shape("unknown", {"build.log": ODD_LOG},
          MOCK_FAULT.format(arch="aarch64", status=1, log="build.log"), known=False),
]
