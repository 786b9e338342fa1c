# SPDX-License-Identifier: MIT
"""Device-shareable buffers from iobufd, charged to the task that asked.

The Python binding of libiobuf (include/iobuf/iobuf.h)::

    import iobuf, numpy

    with iobuf.allocate(1 << 20, iobuf.Options.DIRECTION_OUT | iobuf.Options.PAGEABLE) as buf:
        pixels = numpy.frombuffer(buf, dtype=numpy.uint8)  # the mapping itself, no copy
        pixels[:] = 0x80
        fd = buf.fileno()  # hand it to a device API or another process
        buf.prepare()      # before the device reads it
        ...
        del pixels         # a buffer cannot close while views of it are exported

allocate() charges this process's own connection (at $IOBUFD_SOCKET or
/run/iobufd/iobufd.sock); a Task is a connection of its own, or one that
charges another process (Task.for_pidfd). Failures raise OSError, its
subclass picked by the errno and its message ending in the daemon's reason;
bad arguments raise TypeError or ValueError before anything is sent. Calls
that wait for the daemon release the GIL.
"""

import enum

from . import _iobuf
from ._iobuf import Buffer, Image, ImagePlane, QueryResult, Task, Usage, allocate, __version__

__all__ = [
    "Buffer",
    "Image",
    "ImagePlane",
    "ImageUsage",
    "Options",
    "PurgeableState",
    "QueryResult",
    "Task",
    "Usage",
    "allocate",
    "fourcc",
]

_FLAG_NAMES = (
    "DIRECTION_IN",
    "DIRECTION_OUT",
    "PHYSICALLY_CONTIGUOUS",
    "PAGEABLE",
    "PURGEABLE",
    "KERNEL_USER_SHARED",
)


class Options(enum.IntFlag):
    """Option bits of an allocation, as iobuf.h defines them (the values are ABI).

    DIRECTION_IN: the device writes the buffer; DIRECTION_OUT: it reads it.
    PHYSICALLY_CONTIGUOUS: served only by a contiguous heap. PAGEABLE: not
    wired, pages allocated on first touch. PURGEABLE: has volatile states
    (needs PAGEABLE). KERNEL_USER_SHARED: mapped by the daemon as well.
    The cache mode is a 3-bit field (CACHE_MASK) holding one of
    CACHE_DEFAULT (granted as COPYBACK), CACHE_INHIBIT, CACHE_WRITETHRU,
    CACHE_COPYBACK or CACHE_WRITECOMBINE: test it with
    ``options.cache_mode == Options.CACHE_WRITECOMBINE``, not with ``&``.
    """

    DIRECTION_IN = _iobuf.DIRECTION_IN
    DIRECTION_OUT = _iobuf.DIRECTION_OUT
    DIRECTION_INOUT = _iobuf.DIRECTION_INOUT
    DIRECTION_MASK = _iobuf.DIRECTION_MASK
    PHYSICALLY_CONTIGUOUS = _iobuf.PHYSICALLY_CONTIGUOUS
    PAGEABLE = _iobuf.PAGEABLE
    PURGEABLE = _iobuf.PURGEABLE
    KERNEL_USER_SHARED = _iobuf.KERNEL_USER_SHARED
    CACHE_MASK = _iobuf.CACHE_MASK
    CACHE_DEFAULT = _iobuf.CACHE_DEFAULT
    CACHE_INHIBIT = _iobuf.CACHE_INHIBIT
    CACHE_WRITETHRU = _iobuf.CACHE_WRITETHRU
    CACHE_COPYBACK = _iobuf.CACHE_COPYBACK
    CACHE_WRITECOMBINE = _iobuf.CACHE_WRITECOMBINE
    KNOWN = _iobuf.OPTIONS_KNOWN

    @property
    def cache_mode(self):
        """The cache mode field alone, e.g. Options.CACHE_COPYBACK."""
        return Options(self & Options.CACHE_MASK)

    @property
    def names(self):
        """The options set, as 'DIRECTION_OUT|PAGEABLE|CACHE_COPYBACK' ('0' for none).

        The cache mode is named as one field; bits no name stands for are
        shown in hex.
        """
        parts = [name for name in _FLAG_NAMES if self & Options[name]]
        mode = int(self & Options.CACHE_MASK)
        if mode:
            parts.append(_CACHE_MODE_NAMES.get(mode, hex(mode)))
        unknown = int(self) & ~int(Options.KNOWN)
        if unknown:
            parts.append(hex(unknown))
        return "|".join(parts) or "0"

    def __repr__(self):
        return f"<Options.{self.names}: {int(self):#x}>"


_CACHE_MODE_NAMES = {
    int(Options[name]): name
    for name in ("CACHE_INHIBIT", "CACHE_WRITETHRU", "CACHE_COPYBACK", "CACHE_WRITECOMBINE")
}


class ImageUsage(enum.IntFlag):
    """What an image from Task.image() is for.

    SCANOUT: shown on a display (KMS). RENDERING: a GPU renders to it or
    samples it. LINEAR: rows in memory order, mappable by the CPU.
    """

    SCANOUT = _iobuf.IMAGE_SCANOUT
    RENDERING = _iobuf.IMAGE_RENDERING
    LINEAR = _iobuf.IMAGE_LINEAR


class PurgeableState(enum.IntEnum):
    """States of a PURGEABLE buffer, for Buffer.set_purgeable().

    KEEP_CURRENT only reads the current state. NON_VOLATILE: the contents
    are kept. VOLATILE: the daemon may discard them. EMPTY: they were (or
    are now) discarded, and the buffer reads as zero.
    """

    KEEP_CURRENT = _iobuf.PURGEABLE_KEEP_CURRENT
    NON_VOLATILE = _iobuf.PURGEABLE_NON_VOLATILE
    VOLATILE = _iobuf.PURGEABLE_VOLATILE
    EMPTY = _iobuf.PURGEABLE_EMPTY


def fourcc(code):
    """The DRM_FORMAT_* value of a four-character code: fourcc("XR24") is DRM_FORMAT_XRGB8888.

    Shorter codes are padded with spaces, as drm_fourcc.h writes "R8  ".
    """
    if not isinstance(code, str):
        raise TypeError(f"code must be a str, not {type(code).__name__}")
    raw = code.ljust(4).encode("ascii")
    if len(raw) != 4:
        raise ValueError(f"a fourcc has 4 characters, not {len(code)}: {code!r}")
    return int.from_bytes(raw, "little")
