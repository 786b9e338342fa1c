# SPDX-License-Identifier: MIT
"""iobuf.Task: connections, charging another process, query, usage, images,
and calls that wait for the daemon without holding the GIL."""

import errno
import os
import pathlib
import signal
import threading
import time

import pytest

import iobuf
from iobuf import ImageUsage, Options


def test_tasks_connect_to_a_path_or_the_default_socket(iobufd, wait_until):
    with iobuf.Task(iobufd.socket) as by_path, iobuf.Task(pathlib.Path(iobufd.socket)) as by_pathlike:
        with iobuf.Task() as by_default:  # $IOBUFD_SOCKET
            assert by_path.usage().clients == 3
            assert repr(by_default) == "<iobuf.Task at the default socket>"
        # The daemon sees the hang-up in its own time.
        assert wait_until(lambda: by_path.usage().clients == 2)
        assert repr(by_path) == f"<iobuf.Task at {iobufd.socket!r}>"
        assert repr(by_pathlike).startswith("<iobuf.Task at PosixPath(")


def test_each_task_is_charged_for_its_own(iobufd):
    with iobuf.Task(iobufd.socket) as first, iobuf.Task(iobufd.socket) as second:
        a = first.allocate(4096)
        b = second.allocate(8192, Options.PAGEABLE)
        c = iobuf.allocate(16384, task=second)
        usage = first.usage()
        assert (usage.buffers, usage.bytes) == (1, 4096)
        assert (usage.total_buffers, usage.total_bytes, usage.clients) == (3, 28672, 2)
        assert tuple(second.usage()) == (2, 24576, 3, 28672, 2)
        for buf in (a, b, c):
            buf.close()
        # close() does not wait for the daemon; flush() does.
        second.flush()
        assert tuple(first.usage()) == (0, 0, 0, 0, 2)


def test_a_closed_task_refuses_calls_and_its_buffers_live_on(iobufd, wait_until):
    with iobuf.Task(iobufd.socket) as observer:
        task = iobuf.Task(iobufd.socket)
        buf = task.allocate(4096, Options.PAGEABLE | Options.PURGEABLE)
        task.close()
        assert task.closed
        assert repr(task) == "<iobuf.Task closed>"
        task.close()  # again: nothing
        for call in (lambda: task.allocate(4096), task.usage, lambda: task.query(4096),
                     lambda: iobuf.allocate(4096, task=task), lambda: task.set_timeout(10)):
            with pytest.raises(ValueError, match="closed iobuf.Task"):
                call()
        with pytest.raises(ValueError):
            with task:
                pass
        # The buffer keeps the connection: the daemon still answers for it.
        assert buf.set_purgeable(iobuf.PurgeableState.VOLATILE) is iobuf.PurgeableState.NON_VOLATILE
        assert observer.usage().clients == 2
        # Its free and the hang-up go without waiting: the observer sees them soon.
        buf.close()
        assert wait_until(lambda: observer.usage().total_buffers == 0)


def test_query_says_what_an_allocation_would_get(task):
    match = task.query(5000, Options.PAGEABLE | Options.DIRECTION_IN)
    assert match.size == 8192  # whole pages
    assert match.heap == "memfd"
    assert isinstance(match.options, Options)
    assert match.options == Options.PAGEABLE | Options.DIRECTION_IN | Options.CACHE_COPYBACK
    assert tuple(match) == (8192, match.options, "memfd")
    assert task.usage().total_buffers == 0  # nothing was allocated

    with pytest.raises(OSError) as refused:
        task.query(4096, Options.PHYSICALLY_CONTIGUOUS)
    assert refused.value.errno == errno.EOPNOTSUPP
    assert "memfd lacks PHYSICALLY_CONTIGUOUS" in str(refused.value)
    with pytest.raises(OSError) as refused:
        task.query(0)
    assert refused.value.errno == errno.EINVAL


@pytest.mark.pidfd
def test_for_pidfd_charges_the_child(iobufd, child, wait_until):
    pidfd = os.pidfd_open(child.pid)
    try:
        with iobuf.Task(iobufd.socket) as own, iobuf.Task.for_pidfd(pidfd, via=own) as theirs:
            assert repr(theirs) == f"<iobuf.Task charging pidfd {pidfd}>"
            buf = theirs.allocate(8192)
            memoryview(buf)[8191] = 7
            usage = theirs.usage()
            assert (usage.buffers, usage.bytes) == (1, 8192)
            assert own.usage().buffers == 0

            # The child exits: nothing more is granted, but the buffer
            # stays charged to it while this process maps it.
            child.kill()
            child.wait()
            with pytest.raises(ProcessLookupError, match="has exited"):
                theirs.allocate(4096)
            assert theirs.usage().buffers == 1
            assert own.usage().total_bytes == 8192
            assert memoryview(buf)[8191] == 7
            buf.close()
            assert wait_until(lambda: own.usage().total_buffers == 0)
    finally:
        os.close(pidfd)


@pytest.mark.pidfd
def test_for_pidfd_through_the_default_socket(iobufd, child):
    pidfd = os.pidfd_open(child.pid)
    try:
        with iobuf.Task.for_pidfd(pidfd) as theirs, iobuf.Task() as own:
            with theirs.allocate(4096):
                assert theirs.usage().buffers == 1
                assert own.usage().buffers == 0
    finally:
        os.close(pidfd)


def test_for_pidfd_refuses_what_is_no_pidfd(iobufd):
    not_pidfd = os.memfd_create("not-a-pidfd")
    try:
        with pytest.raises(OSError) as refused:
            iobuf.Task.for_pidfd(not_pidfd)
        assert refused.value.errno == errno.EBADF
        assert "takes a pidfd" in str(refused.value)
    finally:
        os.close(not_pidfd)
    with pytest.raises(ValueError):
        iobuf.Task.for_pidfd(-1)
    with pytest.raises(TypeError):
        iobuf.Task.for_pidfd("3")
    with pytest.raises(TypeError, match="iobuf.Task"):
        iobuf.Task.for_pidfd(0, via="socket")


def test_images_need_a_heap_that_makes_them(task):
    with pytest.raises(OSError) as refused:
        task.image(64, 64, iobuf.fourcc("XR24"), ImageUsage.RENDERING | ImageUsage.LINEAR,
                   modifiers=[0])
    assert refused.value.errno == errno.EOPNOTSUPP
    assert "no heap creates images" in str(refused.value)


def test_image_arguments_are_checked_before_sending(task):
    xr24 = iobuf.fourcc("XR24")
    with pytest.raises(ValueError, match="at most 16"):
        task.image(64, 64, xr24, ImageUsage.LINEAR, modifiers=range(17))
    with pytest.raises(TypeError):
        task.image(64, 64, xr24, ImageUsage.LINEAR, modifiers=["linear"])
    with pytest.raises(TypeError):
        task.image(64, 64, xr24, ImageUsage.LINEAR, modifiers=5)
    with pytest.raises(ValueError):
        task.image(-1, 64, xr24, ImageUsage.LINEAR)
    with pytest.raises(TypeError):
        task.image(64, 64, "XR24", ImageUsage.LINEAR)


def test_calls_release_the_gil_while_they_wait(iobufd, task):
    """A call waiting on a stopped daemon lets other threads run, and times out."""
    ran_at = []
    done = threading.Event()

    def spin():
        while not done.is_set():
            ran_at.append(time.monotonic())  # needs the GIL, never sleeps

    task.set_timeout(500)
    os.kill(iobufd.process.pid, signal.SIGSTOP)
    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            task.usage()
        ended = time.monotonic()
    finally:
        done.set()
        spinner.join()
        os.kill(iobufd.process.pid, signal.SIGCONT)
    assert ended - started >= 0.4
    middle = [t for t in ran_at if started + 0.1 < t < ended - 0.1]
    assert middle, "no other thread ran while the call waited"


def test_close_during_a_call_closes_when_it_ends(iobufd, task):
    outcome = []
    calling = threading.Event()

    def waiting_call():
        calling.set()
        try:
            task.usage()
        except OSError as e:
            outcome.append(e)

    task.set_timeout(2000)
    os.kill(iobufd.process.pid, signal.SIGSTOP)
    caller = threading.Thread(target=waiting_call)
    try:
        caller.start()
        assert calling.wait(10)
        time.sleep(0.3)  # the call is waiting for the stopped daemon now
        task.close()  # the call in the other thread still uses it
        assert task.closed
        caller.join()
    finally:
        os.kill(iobufd.process.pid, signal.SIGCONT)
    assert len(outcome) == 1 and isinstance(outcome[0], TimeoutError)
    with pytest.raises(ValueError, match="closed"):
        task.usage()


def test_threads_share_a_task(task):
    buffers = []
    errors = []

    def allocate_some():
        try:
            for _ in range(20):
                buffers.append(task.allocate(4096, Options.PAGEABLE))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=allocate_some) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert task.usage().buffers == 80
    assert len({buf.id for buf in buffers}) == 80
    for buf in buffers:
        buf.close()
    assert task.usage().buffers == 0
