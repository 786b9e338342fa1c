# SPDX-License-Identifier: MIT
"""Failures: OSError with the errno and the daemon's reason, and TypeError or
ValueError for bad arguments before anything is sent. The enums' values."""

import errno
import inspect
import types

import pytest

import iobuf
from iobuf import ImageUsage, Options, PurgeableState

MIB = 1 << 20


def test_over_the_maximum_buffer_size_is_efbig(start_iobufd):
    daemon = start_iobufd("--max-buffer-size=1M")
    with iobuf.Task(daemon.socket) as task:
        with pytest.raises(OSError) as refused:
            task.allocate(2 * MIB)
        assert type(refused.value) is OSError
        assert refused.value.errno == errno.EFBIG
        assert refused.value.strerror == (
            "File too large: capacity 2097152 is over the maximum buffer size 1048576")
        with task.allocate(MIB):
            pass


def test_over_the_client_bytes_is_edquot(start_iobufd):
    daemon = start_iobufd("--max-client-bytes=1M")
    with iobuf.Task(daemon.socket) as task:
        first = task.allocate(MIB // 2)
        second = task.allocate(MIB // 2)
        with pytest.raises(OSError) as refused:
            task.allocate(4096)
        assert refused.value.errno == errno.EDQUOT
        assert refused.value.strerror.startswith("Disk quota exceeded: ")
        assert refused.value.strerror.endswith(
            "per-client byte limit 1048576 exceeded: 1048576 bytes in use, 4096 requested")
        first.close()
        with task.allocate(4096):  # room again
            pass
        second.close()


def test_purgeable_without_pageable_is_einval(task):
    with pytest.raises(OSError) as refused:
        task.allocate(4096, Options.PURGEABLE)
    assert refused.value.errno == errno.EINVAL
    assert str(refused.value) == "[Errno 22] Invalid argument: PURGEABLE requires PAGEABLE"
    assert task.usage().total_buffers == 0


@pytest.mark.parametrize("capacity, options, alignment", [
    (0, 0, 0),             # capacity 0
    (4096, 0, 3),          # not a power of two
    (4096, 0x800, 0),      # an unknown option bit
])
def test_iokit_rules_are_einval(task, capacity, options, alignment):
    with pytest.raises(OSError) as refused:
        task.allocate(capacity, options, alignment)
    assert refused.value.errno == errno.EINVAL


def test_no_heap_for_the_options_is_eopnotsupp(task):
    with pytest.raises(OSError) as refused:
        task.allocate(4096, Options.CACHE_WRITECOMBINE)
    assert refused.value.errno == errno.EOPNOTSUPP
    assert "memfd" in str(refused.value)


def test_no_daemon_is_file_not_found(tmp_path):
    missing = tmp_path / "none.sock"
    with pytest.raises(FileNotFoundError) as refused:
        iobuf.Task(missing)
    assert refused.value.errno == errno.ENOENT
    assert str(missing) in str(refused.value)


def test_bad_arguments_fail_before_anything_is_sent():
    """No daemon runs here: a call that got as far as connecting would fail with ENOENT."""
    with pytest.raises(FileNotFoundError):
        iobuf.allocate(4096)
    for args, kwargs, error in [
        (("4096",), {}, TypeError),
        ((4096.0,), {}, TypeError),
        ((None,), {}, TypeError),
        ((-1,), {}, ValueError),
        ((1 << 64,), {}, ValueError),
        ((4096, "PAGEABLE"), {}, TypeError),
        ((4096, -8), {}, ValueError),
        ((4096, 1 << 32), {}, ValueError),
        ((4096, 0, -4096), {}, ValueError),
        ((4096,), {"task": "/run/iobufd/iobufd.sock"}, TypeError),
        ((4096,), {"colour": 1}, TypeError),
        ((), {}, TypeError),
    ]:
        with pytest.raises(error):
            iobuf.allocate(*args, **kwargs)
    with pytest.raises(TypeError):
        iobuf.Task(42)
    with pytest.raises(ValueError):
        iobuf.Task("/tmp/with\0nul")


def test_option_values_are_the_abi():
    assert Options.DIRECTION_IN == 1
    assert Options.DIRECTION_OUT == 2
    assert Options.DIRECTION_INOUT == Options.DIRECTION_MASK == 3
    assert Options.PHYSICALLY_CONTIGUOUS == 4
    assert Options.PAGEABLE == 8
    assert Options.PURGEABLE == 16
    assert Options.KERNEL_USER_SHARED == 32
    assert Options.CACHE_DEFAULT == 0
    assert Options.CACHE_INHIBIT == 0x100
    assert Options.CACHE_WRITETHRU == 0x200
    assert Options.CACHE_COPYBACK == 0x300
    assert Options.CACHE_WRITECOMBINE == 0x400
    assert Options.CACHE_MASK == 0x700
    assert Options.KNOWN == 0x73F
    assert ImageUsage.SCANOUT == 1 and ImageUsage.RENDERING == 2 and ImageUsage.LINEAR == 4
    assert [int(s) for s in PurgeableState] == [1, 2, 3, 4]
    assert PurgeableState(3) is PurgeableState.VOLATILE


def test_options_name_the_cache_mode_as_one_field():
    both = Options.DIRECTION_OUT | Options.PAGEABLE | Options.CACHE_COPYBACK
    assert both.names == "DIRECTION_OUT|PAGEABLE|CACHE_COPYBACK"
    assert repr(both) == "<Options.DIRECTION_OUT|PAGEABLE|CACHE_COPYBACK: 0x30a>"
    assert both.cache_mode is Options.CACHE_COPYBACK
    assert Options(0).names == "0"
    assert Options(0x808).names == "PAGEABLE|0x800"
    assert Options(0x500).names == "0x500"  # no cache mode has the value 5


def test_fourcc():
    assert iobuf.fourcc("XR24") == 0x34325258  # DRM_FORMAT_XRGB8888
    assert iobuf.fourcc("R8") == 0x20203852    # DRM_FORMAT_R8, "R8  "
    with pytest.raises(ValueError):
        iobuf.fourcc("TOOLONG")
    with pytest.raises(TypeError):
        iobuf.fourcc(0x34325258)


def test_everything_public_has_a_docstring():
    assert iobuf.__doc__ and iobuf.__version__
    described = (property, types.GetSetDescriptorType, types.MemberDescriptorType)
    for name in iobuf.__all__:
        thing = getattr(iobuf, name)
        assert thing.__doc__, name
        if not inspect.isclass(thing):
            continue
        for member_name, member in vars(thing).items():
            if not member_name.startswith("_") and (callable(member) or
                                                    isinstance(member, described)):
                assert member.__doc__, f"{name}.{member_name}"
