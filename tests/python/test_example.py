# SPDX-License-Identifier: MIT
"""python/examples/iobuf-demo.py runs against a real iobufd and says what it got."""

import pathlib
import subprocess
import sys

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "python" / "examples" / "iobuf-demo.py"


def test_the_example_runs(iobufd):
    # The environment as it is: the module on PYTHONPATH, $IOBUFD_SOCKET, and
    # under -Db_sanitize the runtimes the module needs.
    result = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "before: 0 buffers, 0 bytes charged to this task"
    assert lines[1].startswith("frame ")
    assert lines[1].endswith("size 1048576  options DIRECTION_OUT|PAGEABLE|CACHE_COPYBACK")
    assert lines[2].endswith("first pixel 99663300")
    assert "made volatile (it was NON_VOLATILE)" in lines[4]
    assert lines[5] == ("contiguous           refused: Operation not supported: no heap can "
                        "serve the request: memfd lacks PHYSICALLY_CONTIGUOUS")
    assert lines[6] == "holding: 2 buffers, 1310720 bytes charged to this task"
    assert lines[7] == "after release: 0 buffers, 0 bytes charged to this task"
