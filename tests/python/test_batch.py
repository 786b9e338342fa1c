# SPDX-License-Identifier: MIT
"""Task.allocate_n() (many buffers in one request) and Task.set_pool() (buffers
kept ready in the task)."""

import errno
import os
import signal

import pytest

from iobuf import Buffer, Options


def test_allocate_n_gives_n_mapped_buffers_from_one_heap(task):
    bufs = task.allocate_n(8, 5000, Options.PAGEABLE | Options.DIRECTION_OUT)
    assert len(bufs) == 8 and all(isinstance(b, Buffer) for b in bufs)
    assert len({b.id for b in bufs}) == 8
    assert len({b.fileno() for b in bufs}) == 8
    for i, buf in enumerate(bufs):
        assert (buf.capacity, buf.heap) == (5000, "memfd")
        assert buf.options & Options.PAGEABLE
        view = memoryview(buf)
        assert view[:5000] == bytes(5000)  # zero-filled
        view[0] = i + 1
        assert os.pread(buf.fileno(), 1, 0) == bytes([i + 1])  # the memory behind the fd
        view.release()
    assert tuple(task.usage())[:2] == (8, 8 * 8192)
    for buf in bufs:
        buf.close()
    task.flush()
    assert task.usage().buffers == 0


def test_allocate_n_is_all_or_none(start_iobufd):
    import iobuf

    daemon = start_iobufd("--max-client-buffers=5")
    with iobuf.Task(daemon.socket) as task:
        with pytest.raises(OSError) as refused:
            task.allocate_n(6, 4096)
        assert refused.value.errno == errno.EDQUOT
        assert str(refused.value).endswith(
            "per-client buffer limit 5 reached: 5 buffers in use; the batch failed at "
            "buffer 6, and none of the 6 buffers was made")
        assert task.usage().buffers == 0
        bufs = task.allocate_n(5, 4096)
        assert task.usage().buffers == 5
        for buf in bufs:
            buf.close()


def test_allocate_n_checks_its_arguments_before_sending(task):
    for n in (0, 65, -1):
        with pytest.raises(ValueError, match="n must be"):
            task.allocate_n(n, 4096)
    with pytest.raises(TypeError):
        task.allocate_n("8", 4096)
    with pytest.raises(ValueError, match="capacity"):
        task.allocate_n(2, -4096)
    with pytest.raises(OSError) as refused:
        task.allocate_n(2, 0)
    assert refused.value.errno == errno.EINVAL
    assert task.usage().buffers == 0


def test_a_pool_serves_its_kind_while_the_daemon_cannot_answer(iobufd, task):
    task.set_pool(4, 4096, Options.PAGEABLE)
    task.flush()
    assert task.usage().buffers == 4  # filled, charged to the task

    task.set_timeout(300)
    iobufd.process.send_signal(signal.SIGSTOP)
    try:
        buf = task.allocate(4096, Options.PAGEABLE)  # from the pool: no answer needed
        memoryview(buf)[:3] = b"abc"
        with pytest.raises(TimeoutError):
            task.allocate(8192, Options.PAGEABLE)  # another kind asks the daemon
    finally:
        iobufd.process.send_signal(signal.SIGCONT)
    task.set_timeout(5000)
    task.flush()

    # set_pool(0) gives back what the pool holds; the buffer taken stays.
    task.set_pool(0)
    task.flush()
    assert task.usage().buffers == 1
    assert bytes(memoryview(buf)[:3]) == b"abc"
    buf.close()
    task.flush()
    assert task.usage().buffers == 0


def test_set_pool_checks_its_arguments(task):
    with pytest.raises(ValueError, match="count must be from 0 to 64"):
        task.set_pool(65, 4096)
    with pytest.raises(TypeError, match="needs a capacity"):
        task.set_pool(2)
    task.set_pool(0)  # nothing kept: no capacity needed
    task.flush()
    assert task.usage().buffers == 0
