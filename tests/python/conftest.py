# SPDX-License-Identifier: MIT
"""A real iobufd for each test, as tests/integration/harness.c starts one.

Every daemon listens on the same socket path, $IOBUFD_SOCKET, one after the
other: libiobuf's own task (iobuf.allocate() without a task) reads that
variable once per process and reconnects to the same path when a daemon
goes. $IOBUFD_BINARY is the daemon to run, $IOBUFD_WRAPPER an optional
command to run it under (valgrind).
"""

import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

START_DEADLINE = 60.0  # seconds; valgrind takes a while
STOP_DEADLINE = 60.0

_session_dir = tempfile.mkdtemp(prefix="iobufd-python-test.")
SOCKET = os.path.join(_session_dir, "iobufd.sock")
os.environ["IOBUFD_SOCKET"] = SOCKET


def child_environment():
    """The environment for the processes the tests start.

    Under -Db_sanitize the suite's interpreter runs with the sanitizer
    runtimes preloaded and leak checks off (tests/python/meson.build). The
    daemon is instrumented itself and its leaks count, and other programs
    need no runtime.
    """
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    options = [o for o in env.get("ASAN_OPTIONS", "").split(":") if o and o != "detect_leaks=0"]
    if options:
        env["ASAN_OPTIONS"] = ":".join(options)
    else:
        env.pop("ASAN_OPTIONS", None)
    return env


class Daemon:
    """An iobufd on SOCKET with the options these suites use, and args.

    heaps is its --heaps list; None serves every heap the machine has.
    """

    def __init__(self, args, heaps="memfd"):
        binary = os.environ.get("IOBUFD_BINARY")
        assert binary, "IOBUFD_BINARY must name the iobufd to test"
        wrapper = shlex.split(os.environ.get("IOBUFD_WRAPPER", ""))
        self.socket = SOCKET
        self.log_path = os.path.join(_session_dir, "iobufd.log")
        # The socket and the memfd heap, whatever else the machine has; no
        # config file of the machine's; no purges for the machine's memory pressure.
        argv = wrapper + [binary, "--no-dbus", "--config=/dev/null", "--memory-pressure=off",
                          "--socket", SOCKET, *args]
        if heaps is not None:
            argv.append(f"--heaps={heaps}")
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                            env=child_environment())
        self._wait_listening()

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def _wait_listening(self):
        deadline = time.monotonic() + START_DEADLINE
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"iobufd exited during start-up ({self.process.returncode}):\n"
                            f"{self.log()}")
            with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as probe:
                try:
                    probe.connect(SOCKET)
                    return
                except OSError:
                    pass
            time.sleep(0.01)
        self.process.kill()
        self.process.wait()
        pytest.fail(f"iobufd did not accept connections on {SOCKET}:\n{self.log()}")

    def stop(self):
        """Stops it with SIGTERM and checks it exited cleanly (no leak, no valgrind error)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a test may have stopped it
            self.process.terminate()
            try:
                self.process.wait(STOP_DEADLINE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                pytest.fail(f"iobufd did not stop on SIGTERM:\n{self.log()}")
        assert self.process.returncode == 0, \
            f"iobufd exited with {self.process.returncode}:\n{self.log()}"
        assert not os.path.exists(SOCKET), "iobufd left its socket behind"


@pytest.fixture
def start_iobufd():
    """start_iobufd(*args, heaps="memfd") starts an iobufd with extra options; it is
    stopped after the test."""
    started = []

    def start(*args, heaps="memfd"):
        assert not started, "one daemon at a time: they share the socket path"
        started.append(Daemon(args, heaps))
        return started[-1]

    yield start
    for daemon in started:
        daemon.stop()


@pytest.fixture
def iobufd(start_iobufd):
    """An iobufd with the default limits."""
    return start_iobufd()


@pytest.fixture
def task(iobufd):
    """A connection of the test's own to iobufd."""
    import iobuf

    with iobuf.Task(iobufd.socket) as t:
        yield t


@pytest.fixture
def child():
    """A child process that idles until killed, to charge through its pidfd."""
    process = subprocess.Popen(["sleep", "600"], env=child_environment())
    yield process
    process.kill()
    process.wait()


def _wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


@pytest.fixture
def wait_until():
    """wait_until(condition, timeout=10) polls condition() until it is true; False if never."""
    return _wait_until


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "pidfd: makes pidfds, which valgrind 3.19 cannot (the suite python-pidfd)")


def pytest_unconfigure(config):
    shutil.rmtree(_session_dir, ignore_errors=True)
