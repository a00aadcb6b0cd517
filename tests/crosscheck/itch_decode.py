#!/usr/bin/env python3
"""Decode a NASDAQ ITCH 5.0 binary file (u16 BE length + message) with an
INDEPENDENT third-party decoder and print ONE JSON object:

    {"messages": total, "by_type": {"A": n, ...}, "sample": [ ... ]}

`sample` holds the first N messages of each type, in file order, with
canonical field names (see FIELDS below; only the fields the message has).
Prices are raw integers with 4 implied decimals; char fields are 1-char
strings; `stock` has its right padding stripped.

Implementations (--impl):
  itchfeed  (default) PyPI `itchfeed`, pure-Python `itch` package, forced to
            its pure-Python code path with ITCH_NO_CPP=1
  itchcpp   PyPI `itchcpp`, the C++ backend of `itchfeed` (same author, so
            not independent of `itchfeed`; it is a different code base)
  meatpy    PyPI `meatpy` (HEC Montreal / U. Toronto authors), its own
            ITCH 5.0 reader `meatpy.itch50.ITCH50MessageReader`

None of them was written by the ticklane team.  Usage:
    python itch_decode.py FILE [--sample N] [--impl itchfeed|itchcpp|meatpy]
Exit status 2 (message on stderr) when the file cannot be decoded, e.g. a
file whose length prefixes are zero.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

# canonical name -> (itchfeed/itchcpp attribute, meatpy attribute), per type
_REF = ("order_ref", "order_reference_number", "order_ref")
_SIDE = ("buy_sell", "buy_sell_indicator", "bsindicator")
_SHARES = ("shares", "shares", "shares")
_STOCK = ("stock", "stock", "stock")
_PRICE = ("price", "price", "price")
_MATCH = ("match_number", "match_number", "match")
FIELDS: dict[str, list[tuple[str, str, str]]] = {
    "S": [("event_code", "event_code", "code")],
    "R": [_STOCK],
    "H": [_STOCK],
    "Y": [_STOCK],
    "L": [_STOCK],
    "A": [_REF, _SIDE, _SHARES, _STOCK, _PRICE],
    "F": [_REF, _SIDE, _SHARES, _STOCK, _PRICE],
    "E": [_REF, ("executed_shares", "executed_shares", "shares"), _MATCH],
    "C": [
        _REF,
        ("executed_shares", "executed_shares", "shares"),
        _MATCH,
        ("printable", "printable", "printable"),
        ("execution_price", "execution_price", "execution_price"),
    ],
    "X": [_REF, ("cancelled_shares", "cancelled_shares", "canceled_shares")],
    "D": [_REF],
    "U": [
        ("original_order_ref", "order_reference_number", "original_ref"),
        ("new_order_ref", "new_order_reference_number", "new_ref"),
        _SHARES,
        _PRICE,
    ],
    "P": [_REF, _SIDE, _SHARES, _STOCK, _PRICE, _MATCH],
    "Q": [
        _SHARES,
        _STOCK,
        ("cross_price", "cross_price", "cross_price"),
        _MATCH,
        ("cross_type", "cross_type", "cross_type"),
    ],
    "B": [_MATCH],
    "I": [_STOCK, ("cross_type", "cross_type", "cross_type")],
    "N": [_STOCK],
    "h": [_STOCK],
    "K": [_STOCK],
    "J": [_STOCK],
    "O": [_STOCK],
}


def _norm(name: str, value):
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("ascii")
        if name == "stock":
            value = value.rstrip()
    return value


def _canon(mtype: str, msg, which: int) -> dict:
    out = {
        "type": mtype,
        "stock_locate": int(msg.stock_locate),
        "tracking_number": int(msg.tracking_number),
        "timestamp": int(msg.timestamp),
    }
    for spec in FIELDS.get(mtype, []):
        attr = spec[which]
        if hasattr(msg, attr):
            out[spec[0]] = _norm(spec[0], getattr(msg, attr))
    return out


def iter_itchfeed(path: str, native: bool):
    """Yield (type, canonical-dict-builder) with the itchfeed / itchcpp API."""
    if native:
        from itchcpp.parser import MessageParser  # C++ backend
    else:
        os.environ["ITCH_NO_CPP"] = "1"  # must precede `import itch`
        from itch.parser import MessageParser
        import itch

        assert not itch.USING_CPP_BACKEND
    with open(path, "rb") as f:
        for msg in MessageParser().parse_file(f):
            mtype = bytes(msg.message_type).decode("ascii")
            yield mtype, (lambda m=msg, t=mtype: _canon(t, m, 1))


def iter_meatpy(path: str):
    from meatpy.itch50 import ITCH50MessageReader

    for msg in ITCH50MessageReader().read_file(path):
        mtype = bytes(msg.type).decode("ascii") if hasattr(msg, "type") else None
        if mtype is None:
            raise ValueError(f"meatpy message without a type: {msg!r}")
        yield mtype, (lambda m=msg, t=mtype: _canon(t, m, 2))


def decode(path: str, sample: int, impl: str) -> dict:
    if impl == "itchfeed":
        it = iter_itchfeed(path, native=False)
    elif impl == "itchcpp":
        it = iter_itchfeed(path, native=True)
    elif impl == "meatpy":
        it = iter_meatpy(path)
    else:
        raise ValueError(impl)
    total = 0
    by_type: dict[str, int] = {}
    out_sample = []
    for mtype, build in it:
        total += 1
        n = by_type.get(mtype, 0)
        by_type[mtype] = n + 1
        if n < sample:
            out_sample.append(build())
    if total == 0:
        raise ValueError("no ITCH 5.0 message decoded")
    return {
        "messages": total,
        "by_type": dict(sorted(by_type.items())),
        "sample": out_sample,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file")
    ap.add_argument("--sample", type=int, default=5,
                    help="first N messages of each type to print (default 5)")
    ap.add_argument("--impl", choices=("itchfeed", "itchcpp", "meatpy"),
                    default="itchfeed")
    args = ap.parse_args()
    try:
        result = decode(args.file, args.sample, args.impl)
    except Exception as e:  # the third-party readers raise various types
        print(f"itch_decode.py: {args.impl} could not decode {args.file}: "
              f"{type(e).__name__}: {e}", file=sys.stderr)
        return 2
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
