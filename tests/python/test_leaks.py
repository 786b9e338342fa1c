# SPDX-License-Identifier: MIT
"""Nothing the binding does, on any path, keeps an fd or memory."""

import ctypes
import gc
import os

import iobuf
from iobuf import Options, PurgeableState


class Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def heap_in_use():
    """Bytes malloc() has handed out and not had back (Python's own objects included:
    the suite runs with PYTHONMALLOC=malloc)."""
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = Mallinfo2
    info = libc.mallinfo2()
    return info.uordblks + info.hblkhd


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def every_path(task, socket):
    with task.allocate(4096, Options.PAGEABLE | Options.PURGEABLE) as buf:
        with memoryview(buf) as view:
            view[0] = 1
        buf.set_length(0)
        buf.append(b"abc")
        buf.set_purgeable(PurgeableState.VOLATILE)
        buf.prepare()
        buf.complete()
        repr(buf)
        buf.options.names
        buf.image
    failures = (
        lambda: task.allocate(4096, Options.PURGEABLE),     # refused by the daemon
        lambda: task.allocate(4096, Options.PHYSICALLY_CONTIGUOUS),
        lambda: task.query(0),
        lambda: task.allocate(-1),                          # refused before sending
        lambda: task.image(8, 8, iobuf.fourcc("XR24"), 0, modifiers=[1, 2]),
        lambda: buf.length,                                 # closed
        lambda: buf.set_purgeable(PurgeableState.EMPTY),
    )
    for fail in failures:
        try:
            fail()
        except (OSError, ValueError):
            pass
    task.query(4096)
    task.usage()
    with iobuf.Task(socket) as other:
        other.allocate(8192)  # dropped without close()


def test_nothing_leaks_over_many_calls(iobufd, task):
    # Python's caches and malloc's free lists grow for a while, towards a
    # ceiling (tens of KiB over the first 2000 rounds, then a few KiB);
    # what leaks grows without one.
    for _ in range(2000):
        every_path(task, iobufd.socket)
    gc.collect()
    fds, heap = open_fds(), heap_in_use()
    for _ in range(2000):
        every_path(task, iobufd.socket)
    gc.collect()
    assert open_fds() == fds
    # A lost int (32 bytes) or descriptor (a few hundred) per round would be 64 KiB or more.
    assert heap_in_use() - heap < 32 * 1024
    assert tuple(task.usage())[:3] == (0, 0, 0)
