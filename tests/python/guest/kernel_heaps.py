# SPDX-License-Identifier: MIT
"""The iobuf package on the kernel's heaps, in the qemu guest of tests/vm
(dma-heap/system, udmabuf, bochs-drm and vgem with dumb and GBM heaps):
dma-bufs seen through memoryview, numpy and their fd, prepare/complete doing
DMA_BUF_IOCTL_SYNC, and GPU images with their layout. The suite python-vm
runs this file there; the host has none of these devices."""

import mmap

import numpy
import pytest

import iobuf
from iobuf import ImageUsage, Options


@pytest.fixture
def task(start_iobufd):
    daemon = start_iobufd(heaps=None)  # every heap the guest has
    with iobuf.Task(daemon.socket) as t:
        yield t


@pytest.mark.parametrize("options, heap", [
    (Options.DIRECTION_OUT, "dma-heap/system"),
    (Options.DIRECTION_IN | Options.PAGEABLE, "udmabuf"),
    (Options.DIRECTION_OUT | Options.CACHE_WRITECOMBINE, "dumb/"),
])
def test_dma_bufs_are_one_memory_through_every_view(task, options, heap):
    with task.allocate(1 << 20, options) as buf:
        assert buf.heap.startswith(heap)
        assert buf.options.cache_mode == (options.cache_mode or Options.CACHE_COPYBACK)
        words = numpy.frombuffer(buf, dtype=numpy.uint32)
        words[:] = 0x11223344
        buf.prepare()  # DMA_BUF_IOCTL_SYNC: the kernel hands the buffer to the device
        buf.prepare()
        buf.complete()
        buf.complete()  # and back to the CPU
        with mmap.mmap(buf.fileno(), 1 << 20) as other_mapping:
            assert other_mapping[:4] == b"\x44\x33\x22\x11"
            other_mapping[-4:] = b"tail"
        with memoryview(buf) as view:
            assert view[-4:].tobytes() == b"tail"
        del words
        assert task.usage().buffers == 1
    assert task.usage().buffers == 0


def test_a_linear_gpu_image_has_its_layout_and_maps(task):
    xr24 = iobuf.fourcc("XR24")
    with task.image(64, 32, xr24, ImageUsage.RENDERING | ImageUsage.LINEAR, modifiers=[0]) as img:
        assert img.heap.startswith("gbm/")
        layout = img.image
        assert (layout.width, layout.height, layout.fourcc, layout.modifier) == (64, 32, xr24, 0)
        assert len(layout.planes) == 1
        assert layout.planes[0].offset == 0
        assert layout.planes[0].stride >= 64 * 4
        assert img.capacity >= layout.planes[0].stride * 32
        rows = numpy.frombuffer(img, dtype=numpy.uint8)[:layout.planes[0].stride * 32]
        rows = rows.reshape(32, layout.planes[0].stride)
        rows[:, :256] = 0x7F
        img.prepare()
        img.complete()
        assert bytes(memoryview(img)[:4]) == b"\x7f\x7f\x7f\x7f"
        del rows
    assert task.usage().buffers == 0
