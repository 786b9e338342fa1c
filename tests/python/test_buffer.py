# SPDX-License-Identifier: MIT
"""iobuf.Buffer: its memory through memoryview, numpy and its fd, its length,
purgeable states, prepare/complete, and when it may close."""

import ctypes
import errno
import mmap
import os

import numpy
import pytest

import iobuf
from iobuf import Options, PurgeableState


def address_of(view):
    """Where a writable memoryview's first byte lives."""
    return ctypes.addressof(ctypes.c_char.from_buffer(view))


def test_a_buffer_says_what_it_is(task):
    with task.allocate(10000, Options.DIRECTION_OUT | Options.PAGEABLE) as buf:
        assert buf.capacity == 10000
        assert buf.length == 10000
        assert buf.heap == "memfd"
        assert buf.id > 0
        assert isinstance(buf.options, Options)
        assert buf.options & Options.DIRECTION_OUT
        assert buf.options & Options.PAGEABLE
        assert buf.options.cache_mode == Options.CACHE_COPYBACK  # the default, resolved
        assert buf.image is None
        assert not buf.closed
        assert os.fstat(buf.fileno()).st_size >= 10000
        assert repr(buf) == (f"<iobuf.Buffer id={buf.id} heap=memfd capacity=10000 "
                             "length=10000 options=DIRECTION_OUT|PAGEABLE|CACHE_COPYBACK>")
    assert repr(buf) == "<iobuf.Buffer closed>"


def test_buffers_are_made_only_by_allocation():
    with pytest.raises(TypeError):
        iobuf.Buffer()


def test_memoryview_reads_and_writes_the_mapping(task):
    with task.allocate(8192) as buf:
        view = memoryview(buf)
        assert len(view) == 8192
        assert not view.readonly
        assert view.format == "B"
        assert view.tobytes() == bytes(8192)  # zero-filled
        view[4000:4005] = b"hello"
        assert os.pread(buf.fileno(), 5, 4000) == b"hello"
        os.pwrite(buf.fileno(), b"world", 8187)
        assert view[8187:].tobytes() == b"world"
        # Another view is the same memory.
        assert address_of(memoryview(buf)) == address_of(view)
        view.release()


def test_numpy_views_the_mapping_without_a_copy(task):
    with task.allocate(65536) as buf:
        view = memoryview(buf)
        pixels = numpy.frombuffer(buf, dtype=numpy.uint8)
        assert pixels.size == 65536
        assert pixels.flags.writeable
        assert not pixels.any()
        assert pixels.ctypes.data == address_of(view)

        pixels[100:104] = [1, 2, 3, 4]
        assert view[100:104].tobytes() == b"\x01\x02\x03\x04"
        with mmap.mmap(buf.fileno(), 65536) as other_mapping:
            assert other_mapping[100:104] == b"\x01\x02\x03\x04"
            other_mapping[0:2] = b"\xaa\xbb"
        assert pixels[0] == 0xAA
        assert view[1] == 0xBB

        words = numpy.frombuffer(buf, dtype=numpy.uint32)
        words[:] = 0x01020304
        assert pixels[:4].tolist() == [4, 3, 2, 1]
        del pixels, words
        view.release()


def test_alignment_is_that_of_the_mapping(task):
    with task.allocate(4096, alignment=1 << 20) as buf:
        view = memoryview(buf)
        assert address_of(view) % (1 << 20) == 0
        view.release()


def test_length_append_and_set_length(task):
    with task.allocate(16) as buf:
        assert buf.length == 16
        assert buf.append(b"full") == 0  # the length starts at the capacity
        buf.set_length(0)
        assert buf.length == 0
        assert buf.append(b"hello") == 5
        assert buf.length == 5
        assert buf.append(bytearray(b" world, and more")) == 11  # only what fits
        assert buf.length == 16
        assert bytes(memoryview(buf)) == b"hello world, and"

        with pytest.raises(OSError) as refused:
            buf.set_length(17)
        assert refused.value.errno == errno.ERANGE
        assert "past the capacity 16" in str(refused.value)
        assert buf.length == 16

        buf.set_length(2)
        assert buf.append(numpy.frombuffer(b"XY", dtype=numpy.uint8)) == 2
        # A view of the buffer itself, overlapping where the bytes go.
        with memoryview(buf) as view:
            assert buf.append(view[0:4]) == 4
        assert bytes(memoryview(buf))[:8] == b"heXYheXY"
        assert buf.append(b"") == 0


def test_length_arguments_are_checked(task):
    with task.allocate(16) as buf:
        with pytest.raises(ValueError):
            buf.set_length(-1)
        with pytest.raises(TypeError):
            buf.set_length(1.5)
        with pytest.raises(TypeError):
            buf.append("text is not bytes")
        assert buf.length == 16


def test_purgeable_states(task):
    with task.allocate(8192, Options.PAGEABLE | Options.PURGEABLE) as buf:
        view = memoryview(buf)
        view[:3] = b"abc"
        old = buf.set_purgeable(PurgeableState.VOLATILE)
        assert old is PurgeableState.NON_VOLATILE
        assert buf.set_purgeable(PurgeableState.KEEP_CURRENT) is PurgeableState.VOLATILE
        assert buf.set_purgeable(PurgeableState.NON_VOLATILE) is PurgeableState.VOLATILE
        assert view[:3].tobytes() == b"abc"  # kept: nothing purged it

        assert buf.set_purgeable(PurgeableState.EMPTY) is PurgeableState.NON_VOLATILE
        assert view[:3].tobytes() == bytes(3)  # discarded now
        view[:3] = b"new"
        # Made volatile, an EMPTY buffer stays EMPTY and loses what was written since.
        assert buf.set_purgeable(PurgeableState.VOLATILE) is PurgeableState.EMPTY
        assert buf.set_purgeable(PurgeableState.NON_VOLATILE) is PurgeableState.EMPTY
        assert view[:3].tobytes() == bytes(3)
        assert buf.set_purgeable(2) is PurgeableState.NON_VOLATILE  # a plain int works too
        view.release()


def test_purgeable_states_need_a_purgeable_buffer(task):
    with task.allocate(4096, Options.PAGEABLE) as buf:
        with pytest.raises(OSError) as refused:
            buf.set_purgeable(PurgeableState.VOLATILE)
        assert refused.value.errno == errno.EINVAL
        with pytest.raises(ValueError):
            buf.set_purgeable(-1)


def test_prepare_and_complete_nest(task):
    with task.allocate(4096, Options.DIRECTION_OUT) as buf:
        view = memoryview(buf)
        view[0] = 42
        buf.prepare()
        buf.prepare()
        buf.complete()
        buf.complete()
        buf.complete()  # without a prepare: nothing
        assert view[0] == 42
        view.release()


def test_the_context_manager_releases_and_the_charge_goes(task):
    with task.allocate(4096) as buf:
        usage = task.usage()
        assert (usage.buffers, usage.bytes, usage.total_buffers) == (1, 4096, 1)
    assert buf.closed
    usage = task.usage()
    assert (usage.buffers, usage.bytes, usage.total_buffers) == (0, 0, 0)
    buf.close()  # again: nothing
    with pytest.raises(ValueError, match="closed"):
        buf.length
    with pytest.raises(ValueError, match="closed"):
        memoryview(buf)
    with pytest.raises(ValueError, match="closed"):
        buf.fileno()
    with pytest.raises(ValueError, match="closed"):
        with buf:
            pass


def test_release_and_a_dropped_buffer_free_too(task):
    buf = task.allocate(4096)
    buf.release()
    assert buf.closed
    assert task.usage().buffers == 0

    buf = task.allocate(4096)
    assert task.usage().buffers == 1
    del buf
    assert task.usage().buffers == 0


def test_no_close_while_a_view_is_exported(task):
    buf = task.allocate(4096)
    first = memoryview(buf)
    second = memoryview(buf)[10:20]
    with pytest.raises(BufferError, match=r"2 view\(s\)"):
        buf.close()
    first.release()
    with pytest.raises(BufferError, match=r"1 view\(s\)"):
        buf.release()
    assert not buf.closed
    second[0] = 7  # still mapped
    second.release()

    array = numpy.frombuffer(buf, dtype=numpy.uint8)
    tail = array[4000:]  # a slice keeps the export too
    del array
    with pytest.raises(BufferError):
        buf.close()
    assert tail[0] == 0
    del tail
    buf.close()
    assert buf.closed
    assert task.usage().buffers == 0


def test_the_context_manager_refuses_to_close_under_a_view(task):
    with pytest.raises(BufferError):
        with task.allocate(4096) as buf:
            view = memoryview(buf)
    assert not buf.closed
    assert task.usage().buffers == 1
    view.release()
    buf.close()
    assert task.usage().buffers == 0


def test_own_task_allocates_without_a_task(task, wait_until):
    with iobuf.allocate(8192, Options.PAGEABLE) as buf:
        assert buf.capacity == 8192
        usage = task.usage()
        assert usage.buffers == 0  # charged to the process's own connection, not to task
        assert usage.total_buffers == 1
        assert usage.total_bytes == 8192
    # Its free is sent on the own task, without waiting for the answer.
    assert wait_until(lambda: task.usage().total_buffers == 0)
