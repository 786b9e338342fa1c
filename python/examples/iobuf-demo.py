#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""iobuf-demo.py: asks iobufd for buffers through the iobuf module and shows what it got.

Run it with iobufd listening at $IOBUFD_SOCKET, from a build tree:

    PYTHONPATH=build/python python3 python/examples/iobuf-demo.py

or, once installed (meson install), with plain python3.
"""

import errno
import sys

import iobuf
from iobuf import Options, PurgeableState


def show(label, buf):
    print(f"{label:<20} id {buf.id:<4} heap {buf.heap:<6} size {buf.capacity:<8} "
          f"options {buf.options.names}")


def show_usage(when, task):
    usage = task.usage()
    print(f"{when}: {usage.buffers} buffers, {usage.bytes} bytes charged to this task")


def fill_frame(frame):
    """Paints a 512x512 XRGB frame, through numpy when it is there."""
    try:
        import numpy
    except ImportError:
        view = memoryview(frame).cast("I")
        for i in range(len(view)):
            view[i] = 0x00336699
        view.release()
        return
    pixels = numpy.frombuffer(frame, dtype=numpy.uint32).reshape(512, 512)
    pixels[:] = 0x00336699  # the mapping itself: no copy to make
    pixels[:, 256:] = 0x00FFFFFF
    del pixels  # the frame cannot close while a view of it lives


def main():
    # A connection of our own, so that the usage below is this program's.
    with iobuf.Task() as task:
        show_usage("before", task)

        with task.allocate(512 * 512 * 4, Options.DIRECTION_OUT | Options.PAGEABLE) as frame:
            show("frame", frame)
            fill_frame(frame)
            frame.prepare()  # before a device reads it: hand fileno() to it now
            print(f"{'':<20} fd {frame.fileno()} ready for a device, first pixel "
                  f"{bytes(memoryview(frame)[:4]).hex()}")
            frame.complete()

            cache = task.allocate(256 << 10, Options.PAGEABLE | Options.PURGEABLE)
            show("purgeable cache", cache)
            old = cache.set_purgeable(PurgeableState.VOLATILE)
            print(f"{'':<20} made volatile (it was {old.name})")

            try:
                task.allocate(4096, Options.PHYSICALLY_CONTIGUOUS)
                print("contiguous: unexpectedly granted", file=sys.stderr)
                return 1
            except OSError as e:
                if e.errno != errno.EOPNOTSUPP:
                    raise
                # No silent downgrade: the daemon says what the heaps lack.
                print(f"{'contiguous':<20} refused: {e.strerror}")

            show_usage("holding", task)
            cache.close()
        show_usage("after release", task)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except OSError as e:
        print(f"iobuf-demo.py: {e}", file=sys.stderr)
        sys.exit(1)
