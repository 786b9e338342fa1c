# SPDX-License-Identifier: MIT
"""Labels and heaps by name: what a buffer is called where admins look, and
the one heap that may serve it."""

import errno
import os

import pytest

import iobuf
from iobuf import Options


def memfd_name(buf):
    """What /proc/self/fd says the buffer's fd is."""
    return os.readlink(f"/proc/self/fd/{buf.fileno()}")


def test_a_label_names_the_buffer(task):
    with task.allocate(4096, label="camera0 préview") as buf:
        assert buf.label == "camera0 préview"
        assert memfd_name(buf) == f"/memfd:iobuf:{buf.id}:camera0 préview (deleted)"
    with iobuf.allocate(4096, task=task, label="frames") as buf:
        assert buf.label == "frames"


def test_the_task_label_is_the_default(task):
    with task.allocate(4096) as plain:
        assert plain.label == ""
    task.set_label("decoder")
    with task.allocate(4096) as labelled, task.allocate(4096, label="") as unlabelled:
        assert labelled.label == "decoder"
        assert unlabelled.label == ""
    task.set_label(None)
    with task.allocate(4096) as plain:
        assert plain.label == ""


@pytest.mark.parametrize("label, problem", [
    ("x" * 32, "the label is longer than 31 bytes"),
    ("tab\there", "the label holds a control character"),
    ("c1 \u0085", "the label holds a control character"),
])
def test_bad_labels_are_refused_before_sending(task, label, problem):
    before = task.usage().buffers
    with pytest.raises(OSError) as refused:
        task.allocate(4096, label=label)
    assert refused.value.errno == errno.EINVAL
    assert problem in str(refused.value)
    with pytest.raises(OSError) as refused:
        task.set_label(label)
    assert refused.value.errno == errno.EINVAL
    assert task.usage().buffers == before


def test_label_arguments_are_checked(task):
    with pytest.raises(TypeError):
        task.allocate(4096, label=b"bytes")
    with pytest.raises(ValueError, match="NUL"):
        task.allocate(4096, label="a\0b")
    with pytest.raises(ValueError, match="not both"):
        task.allocate(4096, label="a", heap="memfd")
    with pytest.raises(TypeError):
        task.allocate(4096, 0, 0, "positional label")


def test_a_heap_by_name(task):
    with task.allocate(8192, Options.PAGEABLE, heap="memfd") as buf:
        assert buf.heap == "memfd"
    assert task.query(4096, heap="memfd").heap == "memfd"
    for call in (lambda: task.allocate(4096, heap="dma-heap/nothing"),
                 lambda: task.query(4096, heap="dma-heap/nothing")):
        with pytest.raises(OSError) as refused:
            call()
        assert refused.value.errno == errno.ENODEV
        assert "iobufd serves no heap named dma-heap/nothing" in str(refused.value)
    with pytest.raises(OSError) as refused:
        task.allocate(4096, Options.PHYSICALLY_CONTIGUOUS, heap="memfd")
    assert refused.value.errno == errno.EOPNOTSUPP
    assert "heap memfd lacks PHYSICALLY_CONTIGUOUS" in str(refused.value)
