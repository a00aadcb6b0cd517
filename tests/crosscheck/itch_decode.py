#!/usr/bin/env python3
"""Decode a NASDAQ ITCH 5.0 binary file (u16 BE length + message) with an
INDEPENDENT third-party decoder and print ONE JSON object:

    {"messages": total, "by_type": {"A": n, ...}, "sample": [ ... ]}

`sample` holds the first N messages of each type, in file order, with
canonical field names (see FIELDS below; only the fields the message has).
Prices are raw integers with 4 implied decimals; char fields are 1-char
strings; `stock` has its right padding stripped.

--index adds "index" (0-based position of the message in the file, i.e. the
frame number) first in each sample.  --all-fields replaces FIELDS by
ALL_FIELDS: every body field of every type, named as in
feeds/src/itch/wire.rs; alpha fields other than `stock` keep their padding.
Without these flags the output is unchanged (the AAPL goldens use neither).

Implementations (--impl):
  itchfeed  (default) PyPI `itchfeed`, pure-Python `itch` package, forced to
            its pure-Python code path with ITCH_NO_CPP=1
  itchcpp   PyPI `itchcpp`, the C++ backend of `itchfeed` (same author, so
            not independent of `itchfeed`; it is a different code base)
  meatpy    PyPI `meatpy` (HEC Montreal / U. Toronto authors), its own
            ITCH 5.0 reader `meatpy.itch50.ITCH50MessageReader`

None of them was written by the ticklane team.  Usage:
    python itch_decode.py FILE [--sample N] [--impl itchfeed|itchcpp|meatpy]
                          [--index] [--all-fields]
Exit status 2 (message on stderr) when the file cannot be decoded, e.g. a
file whose length prefixes are zero.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Optional

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


# --all-fields: EVERY body field of every ITCH 5.0 type, named as in
# feeds/src/itch/wire.rs (the spec's field tables in snake_case).  Entries are
# (canonical, itchfeed/itchcpp attribute, meatpy attribute); the attribute
# names differ a lot between the two packages.  Unlike FIELDS, a missing
# attribute is an error (nothing is silently left out).  meatpy 0.5.0 lays out
# `O` (Direct Listing with Capital Raise) after an older draft
# ("8scIIIIQII", 52 bytes instead of 48), so it has no field mapping for `O`.
ALL_FIELDS: dict[str, list[tuple[str, str, Optional[str]]]] = {
    "S": [("event_code", "event_code", "code")],
    "R": [
        _STOCK,
        ("market_category", "market_category", "category"),
        ("financial_status", "financial_status_indicator", "status"),
        ("round_lot_size", "round_lot_size", "lotsize"),
        ("round_lots_only", "round_lots_only", "lotsonly"),
        ("issue_classification", "issue_classification", "issue_class"),
        ("issue_subtype", "issue_sub_type", "issue_sub"),
        ("authenticity", "authenticity", "authenticity"),
        ("short_sale_threshold", "short_sale_threshold_indicator", "shortsale_thresh"),
        ("ipo_flag", "ipo_flag", "ipo_flag"),
        ("luld_tier", "luld_ref", "luld_ref"),
        ("etp_flag", "etp_flag", "etp_flag"),
        ("etp_leverage", "etp_leverage_factor", "etp_leverage"),
        ("inverse", "inverse_indicator", "inverse_ind"),
    ],
    "H": [
        _STOCK,
        ("trading_state", "trading_state", "state"),
        ("reserved", "reserved", "reserved"),
        ("reason", "reason", "reason"),
    ],
    "Y": [_STOCK, ("reg_sho_action", "reg_sho_action", "action")],
    "L": [
        ("mpid", "mpid", "mpid"),
        _STOCK,
        ("primary_market_maker", "primary_market_maker", "primary_market_maker"),
        ("market_maker_mode", "market_maker_mode", "market_maker_mode"),
        ("market_participant_state", "market_participant_state", "state"),
    ],
    "V": [
        ("level1", "level1_price", "level1"),
        ("level2", "level2_price", "level2"),
        ("level3", "level3_price", "level3"),
    ],
    "W": [("breached_level", "breached_level", "breached_level")],
    "K": [
        _STOCK,
        ("ipo_quotation_release_time", "ipo_release_time", "ipo_quotation_release_time"),
        ("ipo_quotation_release_qualifier", "ipo_release_qualifier",
         "ipo_quotation_release_qualifier"),
        ("ipo_price", "ipo_price", "ipo_price"),
    ],
    "J": [
        _STOCK,
        ("auction_collar_reference_price", "auction_collar_reference_price",
         "auction_collar_ref_price"),
        ("upper_auction_collar_price", "upper_auction_collar_price",
         "upper_auction_collar_price"),
        ("lower_auction_collar_price", "lower_auction_collar_price",
         "lower_auction_collar_price"),
        # itchfeed spells it "extention"
        ("auction_collar_extension", "auction_collar_extention", "auction_collar_extension"),
    ],
    "h": [
        _STOCK,
        ("market_code", "market_code", "halt_status"),
        ("operational_halt_action", "operational_halt_action", "halt_reason"),
    ],
    "A": FIELDS["A"],
    "F": FIELDS["F"] + [("attribution", "attribution", "attribution")],
    "E": FIELDS["E"],
    "C": FIELDS["C"],
    "X": FIELDS["X"],
    "D": FIELDS["D"],
    "U": FIELDS["U"],
    "P": FIELDS["P"],
    "Q": FIELDS["Q"],
    "B": FIELDS["B"],
    "I": [
        ("paired_shares", "paired_shares", "paired_shares"),
        ("imbalance_shares", "imbalance_shares", "imbalance_shares"),
        ("imbalance_direction", "imbalance_direction", "imbalance_direction"),
        _STOCK,
        ("far_price", "far_price", "far_price"),
        ("near_price", "near_price", "near_price"),
        ("current_reference_price", "current_reference_price", "current_ref_price"),
        ("cross_type", "cross_type", "cross_type"),
        ("price_variation_indicator", "variation_indicator", "price_variation_indicator"),
    ],
    "N": [_STOCK, ("interest_flag", "interest_flag", "interest")],
    "O": [
        (f, f, None)
        for f in (
            "stock", "open_eligibility_status", "minimum_allowable_price",
            "maximum_allowable_price", "near_execution_price", "near_execution_time",
            "lower_price_range_collar", "upper_price_range_collar",
        )
    ],
}


def _norm(name: str, value):
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("ascii")
        if name == "stock":
            value = value.rstrip()
    return value


def _canon(mtype: str, msg, which: int, all_fields: bool = False) -> dict:
    out = {
        "type": mtype,
        "stock_locate": int(msg.stock_locate),
        "tracking_number": int(msg.tracking_number),
        "timestamp": int(msg.timestamp),
    }
    if not all_fields:
        for spec in FIELDS.get(mtype, []):
            attr = spec[which]
            if hasattr(msg, attr):
                out[spec[0]] = _norm(spec[0], getattr(msg, attr))
        return out
    if mtype not in ALL_FIELDS:
        raise ValueError(f"no --all-fields mapping for message type {mtype!r}")
    for spec in ALL_FIELDS[mtype]:
        attr = spec[which]
        if attr is None or not hasattr(msg, attr):
            raise ValueError(f"type {mtype}: decoder has no attribute for {spec[0]!r}")
        value = _norm(spec[0], getattr(msg, attr))
        if isinstance(value, float):
            if value != int(value):
                raise ValueError(f"type {mtype}: {spec[0]} is not a raw integer: {value}")
            value = int(value)
        out[spec[0]] = value
    return out


def iter_itchfeed(path: str, native: bool, all_fields: bool = False):
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
            yield mtype, (lambda m=msg, t=mtype: _canon(t, m, 1, all_fields))


def iter_meatpy(path: str, all_fields: bool = False):
    from meatpy.itch50 import ITCH50MessageReader

    for msg in ITCH50MessageReader().read_file(path):
        mtype = bytes(msg.type).decode("ascii") if hasattr(msg, "type") else None
        if mtype is None:
            raise ValueError(f"meatpy message without a type: {msg!r}")
        yield mtype, (lambda m=msg, t=mtype: _canon(t, m, 2, all_fields))


def decode(path: str, sample: int, impl: str, index: bool = False,
           all_fields: bool = False) -> dict:
    if impl == "itchfeed":
        it = iter_itchfeed(path, native=False, all_fields=all_fields)
    elif impl == "itchcpp":
        it = iter_itchfeed(path, native=True, all_fields=all_fields)
    elif impl == "meatpy":
        it = iter_meatpy(path, all_fields=all_fields)
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
            m = build()
            if index:
                # 0-based position of the message (frame) in the file
                m = {"index": total - 1, **m}
            out_sample.append(m)
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
    ap.add_argument("--index", action="store_true",
                    help='add "index": the 0-based position of the message in the file')
    ap.add_argument("--all-fields", action="store_true",
                    help="every body field of every type, named as in feeds/src/itch/wire.rs "
                         "(error if the decoder lacks one)")
    args = ap.parse_args()
    try:
        result = decode(args.file, args.sample, args.impl, args.index, args.all_fields)
    except Exception as e:  # the third-party readers raise various types
        print(f"itch_decode.py: {args.impl} could not decode {args.file}: "
              f"{type(e).__name__}: {e}", file=sys.stderr)
        return 2
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
