#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of the fuzz targets: python3 make-corpus.py [DIR];
python3 make-corpus.py --check DIR checks that DIR holds it.

DIR (default: corpus/ beside this script) gets one directory per target:
a record of every message type of protocol/README.md, valid, and a few
malformed ones; fuzz-recv's and fuzz-daemon's seeds wrap records in their
targets' input formats (see the comments at the top of fuzz-recv.c and
fuzz-daemon.c). Integers are little-endian, the byte order of the machines
the project runs on (the protocol uses the host's).

The committed corpus is this script's output, plus reproducers of what the
fuzzers found, named regress-*: the corpus test of the fuzz suite checks that.
"""
import os
import struct
import sys

HELLO, ALLOCATE, FREE, SET_PURGEABLE, QUERY, STATS, ALLOCATE_IMAGE, CHARGE_TO = range(1, 9)
REPLY = 0x8000
ERROR = 0xFFFF

PAGEABLE = 1 << 3
PURGEABLE = 1 << 4
KERNEL_USER_SHARED = 1 << 5
CACHE_WRITECOMBINE = 4 << 8
PHYSICALLY_CONTIGUOUS = 1 << 2

NON_VOLATILE, VOLATILE, EMPTY = 2, 3, 4
DRM_FORMAT_XRGB8888 = 0x34325258


def record(opcode, body=b"", request_id=1, size=None):
    """A message: the header (size computed unless given) and the body."""
    if size is None:
        size = 8 + len(body)
    return struct.pack("<HHI", opcode, size, request_id) + body


def string(text):
    data = text.encode() if isinstance(text, str) else text
    return struct.pack("<H", len(data)) + data


def hello(version=1):
    return struct.pack("<II", version, 0)


def allocate(options=0, capacity=4096, alignment=0, mask=0):
    return struct.pack("<IIQQQ", options, 0, capacity, alignment, mask)


def free(buffer_id):
    return struct.pack("<Q", buffer_id)


def set_purgeable(buffer_id, state):
    return struct.pack("<QII", buffer_id, state, 0)


def image(width=64, height=64, fourcc=DRM_FORMAT_XRGB8888, usage=0, modifiers=()):
    return struct.pack("<IIIIII", width, height, fourcc, usage, len(modifiers), 0) + b"".join(
        struct.pack("<Q", m) for m in modifiers
    )


def buffer(buffer_id=1, size=4096, options=0x300, flags=2, heap="memfd"):
    return struct.pack("<QQII", buffer_id, size, options, flags) + string(heap)


def image_reply(plane_count=1, heap="gbm/card0"):
    planes = b"".join(struct.pack("<II", 0, 256) for _ in range(4))
    return struct.pack("<QII", 0, plane_count, 0) + planes + buffer(heap=heap)


def wire_seeds():
    """Every message type, valid, then malformed records."""
    valid = {
        "hello": record(HELLO, hello()),
        "allocate": record(ALLOCATE, allocate(PAGEABLE | PURGEABLE, 65536, 4096)),
        "free": record(FREE, free(7)),
        "set-purgeable": record(SET_PURGEABLE, set_purgeable(7, VOLATILE)),
        "query": record(QUERY, allocate(CACHE_WRITECOMBINE, 1 << 20, 0, 0xFFFFFFFF)),
        "stats": record(STATS),
        "allocate-image": record(ALLOCATE_IMAGE, image(modifiers=(0, 0x0100000000000001))),
        "charge-to": record(CHARGE_TO),
        "hello-reply": record(HELLO | REPLY, hello()),
        "allocate-reply": record(ALLOCATE | REPLY, buffer()),
        "free-reply": record(FREE | REPLY),
        "set-purgeable-reply": record(SET_PURGEABLE | REPLY, struct.pack("<II", NON_VOLATILE, 0)),
        "query-reply": record(QUERY | REPLY, buffer(buffer_id=0)),
        "stats-reply": record(STATS | REPLY, struct.pack("<QQQQII", 1, 4096, 3, 12288, 2, 0)),
        "allocate-image-reply": record(ALLOCATE_IMAGE | REPLY, image_reply(plane_count=2)),
        "charge-to-reply": record(CHARGE_TO | REPLY, struct.pack("<II", 1234, 1000)),
        "error": record(ERROR, struct.pack("<I", 22) + string("capacity must not be 0")),
    }
    malformed = {
        "bad-truncated-header": record(HELLO, hello())[:5],
        "bad-size-field": record(HELLO, hello(), size=12),
        "bad-reserved": record(HELLO, struct.pack("<II", 1, 1)),
        "bad-body-too-long": record(FREE, free(1) + b"\0\0\0\0"),
        "bad-body-too-short": record(ALLOCATE, allocate()[:20]),
        "bad-unknown-opcode": record(0x0042, b"\0" * 8),
        "bad-too-many-modifiers": record(ALLOCATE_IMAGE, image(modifiers=range(17))),
        "bad-plane-count": record(ALLOCATE_IMAGE | REPLY, image_reply(plane_count=0)),
        "bad-empty-heap-name": record(ALLOCATE | REPLY, buffer(heap="")),
        "bad-heap-name-too-long": record(ALLOCATE | REPLY, buffer(heap="h" * 64)),
        "bad-nul-in-string": record(ERROR, struct.pack("<I", 22) + string(b"a\0b")),
        "bad-error-code": record(ERROR, struct.pack("<I", 0) + string("")),
        "bad-string-length": record(ERROR, struct.pack("<IH", 22, 600) + b"x" * 10),
    }
    return {**valid, **malformed}


# fuzz-recv: byte 0 the fd count (| 0x20: pad past 4096 bytes), byte 1 the fd kinds.
FD_NULL, FD_MEMFD, FD_PIDFD, FD_SOCKET = range(4)


def recv_seed(rec, fds=0, kinds=0, pad=False):
    return bytes([fds | (0x20 if pad else 0), kinds]) + rec


def recv_seeds():
    seeds = {"no-fd-" + name: recv_seed(rec) for name, rec in wire_seeds().items()}
    seeds.update({
        "charge-to-pidfd": recv_seed(record(CHARGE_TO), 1, FD_PIDFD),
        "allocate-memfd": recv_seed(record(ALLOCATE, allocate()), 1, FD_MEMFD),
        "hello-four-kinds": recv_seed(record(HELLO, hello()), 4, 0b11100100),
        "sixteen-fds": recv_seed(record(STATS), 16, FD_SOCKET),
        "seventeen-fds": recv_seed(record(STATS), 17, FD_NULL),
        "oversize-with-fd": recv_seed(record(STATS), 1, FD_MEMFD, pad=True),
        "truncated-header-with-fd": recv_seed(record(HELLO, hello())[:3], 2, FD_PIDFD),
        # The known leak: an empty record whose fds wire_recv() never closes.
        "empty-record-with-fd": recv_seed(b"", 1, FD_NULL),
        "empty-record": recv_seed(b""),
    })
    return seeds


# fuzz-daemon: byte 0 (bit 0: no hello first), then (ctl, u16 length, record) each.
NO_HELLO = 1
FD_EXITED_PIDFD = 4


def ctl(fds=0, kind=FD_NULL, many=False, pad=False):
    return (0x80 if many else 0) | (0x40 if pad else 0) | kind << 2 | fds


def daemon_seed(*records, flags=0):
    out = bytes([flags])
    for control, rec in records:
        out += struct.pack("<BH", control, len(rec)) + rec
    return out


def req(opcode, body=b"", request_id=1, control=0):
    return (control, record(opcode, body, request_id))


def daemon_seeds():
    shared = KERNEL_USER_SHARED | CACHE_WRITECOMBINE
    purgeable = PAGEABLE | PURGEABLE
    return {
        "hello-only": daemon_seed(),
        "allocate-free": daemon_seed(req(ALLOCATE, allocate(), 2), req(FREE, free(1), 3),
                                     req(STATS, request_id=4)),
        "allocate-free-unknown": daemon_seed(req(ALLOCATE, allocate(PAGEABLE, 8192), 2),
                                             req(FREE, free(999), 3)),
        "allocate-shared": daemon_seed(req(ALLOCATE, allocate(shared, 65536), 2)),
        "allocate-too-big": daemon_seed(req(ALLOCATE, allocate(0, (1 << 20) + 1), 2)),
        "allocate-contiguous": daemon_seed(req(ALLOCATE, allocate(PHYSICALLY_CONTIGUOUS), 2)),
        "allocate-bad-alignment": daemon_seed(req(ALLOCATE, allocate(0, 4096, 3), 2)),
        "allocate-to-limit": daemon_seed(*(req(ALLOCATE, allocate(0, 1 << 20), i)
                                           for i in range(2, 20))),
        "purgeable": daemon_seed(req(ALLOCATE, allocate(purgeable, 1 << 20), 2),
                                 req(ALLOCATE, allocate(purgeable, 1 << 20), 3),
                                 req(SET_PURGEABLE, set_purgeable(1, VOLATILE), 4),
                                 req(SET_PURGEABLE, set_purgeable(2, VOLATILE), 5),
                                 req(ALLOCATE, allocate(purgeable, 1 << 20), 6),
                                 req(SET_PURGEABLE, set_purgeable(3, VOLATILE), 7),
                                 req(SET_PURGEABLE, set_purgeable(1, NON_VOLATILE), 8),
                                 req(SET_PURGEABLE, set_purgeable(2, EMPTY), 9),
                                 req(SET_PURGEABLE, set_purgeable(3, 1), 10)),
        "query": daemon_seed(req(QUERY, allocate(CACHE_WRITECOMBINE, 1 << 20), 2),
                             req(QUERY, allocate(0, 0), 3)),
        "stats": daemon_seed(req(STATS, request_id=2)),
        "allocate-image": daemon_seed(req(ALLOCATE_IMAGE, image(modifiers=(0,)), 2),
                                      req(ALLOCATE_IMAGE, image(width=0), 3)),
        "charge-to-self": daemon_seed(req(CHARGE_TO, request_id=2, control=ctl(1, FD_PIDFD)),
                                      req(ALLOCATE, allocate(), 3)),
        "charge-to-exited": daemon_seed(
            req(CHARGE_TO, request_id=2, control=ctl(1, FD_EXITED_PIDFD)),
            req(ALLOCATE, allocate(), 3)),
        "charge-to-no-fd": daemon_seed(req(CHARGE_TO, request_id=2)),
        "charge-to-not-pidfd": daemon_seed(req(CHARGE_TO, request_id=2,
                                               control=ctl(1, FD_MEMFD))),
        "charge-to-twice": daemon_seed(req(CHARGE_TO, request_id=2, control=ctl(1, FD_PIDFD)),
                                       req(CHARGE_TO, request_id=3, control=ctl(1, FD_PIDFD))),
        "fd-on-allocate": daemon_seed(req(ALLOCATE, allocate(), 2, control=ctl(2, FD_MEMFD))),
        "many-fds": daemon_seed(req(STATS, request_id=2, control=ctl(many=True))),
        "no-hello": daemon_seed(req(ALLOCATE, allocate(), 1), flags=NO_HELLO),
        "no-hello-charge-to": daemon_seed(req(CHARGE_TO, control=ctl(1, FD_PIDFD)),
                                          flags=NO_HELLO),
        "hello-wrong-version": daemon_seed(req(HELLO, hello(2)), flags=NO_HELLO),
        "hello-twice": daemon_seed(req(HELLO, hello(), 2)),
        "unknown-opcode": daemon_seed(req(0x0042, b"", 2), req(STATS, request_id=3)),
        "reply-as-request": daemon_seed(req(ERROR, struct.pack("<I", 1) + string("x"), 2)),
        "malformed": daemon_seed((0, record(FREE, free(1), 2, size=12))),
        "truncated-header": daemon_seed((0, record(STATS)[:6])),
        "oversize": daemon_seed((ctl(pad=True), record(STATS, request_id=2)),
                                req(STATS, request_id=3)),
        # The known leak: an empty record whose fd the daemon never closes.
        "empty-record-with-fd": daemon_seed((ctl(1, FD_MEMFD), b"")),
    }


TARGETS = {"fuzz-wire": wire_seeds, "fuzz-recv": recv_seeds, "fuzz-daemon": daemon_seeds}


def write(directory, seeds):
    os.makedirs(directory, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)


def check(directory, seeds):
    """What differs between the seeds and the files in directory."""
    problems = []
    for name, data in seeds.items():
        path = os.path.join(directory, name)
        if not os.path.exists(path):
            problems.append(f"{path} is missing")
            continue
        with open(path, "rb") as f:
            if f.read() != data:
                problems.append(f"{path} is not what make-corpus.py writes")
    for name in sorted(os.listdir(directory)):
        if name not in seeds and not name.startswith("regress-"):
            problems.append(f"{os.path.join(directory, name)} is neither a seed nor regress-*")
    return problems


def main():
    args = sys.argv[1:]
    checking = args[:1] == ["--check"]
    if checking:
        args = args[1:]
    top = args[0] if args else os.path.join(os.path.dirname(__file__), "corpus")
    problems = []
    for target, seeds in TARGETS.items():
        if checking:
            problems += check(os.path.join(top, target), seeds())
        else:
            write(os.path.join(top, target), seeds())
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print("run tests/fuzz/make-corpus.py to write the seed corpus again", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
