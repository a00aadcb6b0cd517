#!/usr/bin/env python3
"""Rewrite an ITCH 5.0 file whose u16 length prefixes are all zero (e.g.
shared/data/itch/ritch_ex20101224_zero_prefix.itch50) into the normal NASDAQ
binary file format, taking each message's length from its type byte.

The length table is NOT ours: it is `message_size` of the message classes of
the independent `itchfeed` package (identical to the ITCH 5.0 spec).  This is
a robustness aid, not a ground truth: the output lets the independent book
engines run on that file and report their anomaly counters.

    python reframe.py IN OUT
"""

import os
import struct
import sys

os.environ["ITCH_NO_CPP"] = "1"
from itch.messages import messages  # noqa: E402

SIZES = {k[0]: v.message_size for k, v in messages.items()}


def main() -> int:
    src, dst = sys.argv[1], sys.argv[2]
    data = open(src, "rb").read()
    out = bytearray()
    off = n = 0
    while off < len(data):
        if off + 3 > len(data):
            print(f"reframe.py: {len(data) - off} trailing bytes", file=sys.stderr)
            return 2
        prefix = struct.unpack_from(">H", data, off)[0]
        size = SIZES.get(data[off + 2])
        if size is None or (prefix and prefix != size):
            print(f"reframe.py: byte {off}: type {data[off + 2]!r} prefix {prefix}",
                  file=sys.stderr)
            return 2
        if off + 2 + size > len(data):
            print(f"reframe.py: truncated message at byte {off}", file=sys.stderr)
            return 2
        out += struct.pack(">H", size) + data[off + 2 : off + 2 + size]
        off += 2 + size
        n += 1
    open(dst, "wb").write(out)
    print(f"reframe.py: {n} messages", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
