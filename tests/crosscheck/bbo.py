#!/usr/bin/env python3
"""Best bid/offer of one stock from a NASDAQ ITCH 5.0 binary file (u16 BE
length + message), built by an INDEPENDENT third-party order-book engine.

CSV on stdout, header `timestamp_ns,bid_px,bid_qty,ask_px,ask_qty`: one line
each time (bid_px, bid_qty, ask_px, ask_qty) after a message differs from the
previously printed tuple.  timestamp_ns is the ITCH timestamp (ns since
midnight) of that message; prices are decimal strings with exactly 4
decimals; qty is the total displayed shares at the best price; an empty side
is two empty fields.  The first line is the first time any side is non-empty.

Implementations (--impl); none was written by the ticklane team except the
last, which is labelled as such:
  itchbook  (default) PyPI `itch-book` (groovg): C++23 core; we read its
            `bbo` table (one row per top-of-book change, with seq number)
  meatpy    PyPI `meatpy`: pure-Python `ITCH50MarketProcessor` +
            `LimitOrderBook`; we read level 0 of each side after every message
  itchcpp   PyPI `itchcpp`: C++ `BookManager`/`L3Book`; we feed it one framed
            message at a time and read `bbo()` after each
  naive     NOT INDEPENDENT: a ~40-line dict book in this file, written by the
            cross-check author, on top of the `itchfeed` decoder.  A tie
            breaker for diagnosing disagreements, never a golden source.

Usage:
    python bbo.py FILE (--locate N | --symbol SYM) [--impl ...]
                  [--depth K] [--book-out FILE.json] [--stats]
--book-out writes the final book (top K levels per side: price, shares,
order count) as JSON where the implementation exposes it (itchbook, meatpy,
naive; the Python binding of itchcpp exposes only the BBO).  --stats prints
the implementation's anomaly counters to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import struct
import sys
from typing import Iterator, Optional, Tuple

Top = Tuple[Optional[int], Optional[int], Optional[int], Optional[int]]
EMPTY: Top = (None, None, None, None)


def fmt_px(px: Optional[int]) -> str:
    if px is None:
        return ""
    return f"{px // 10000}.{px % 10000:04d}"


def frames(path: str) -> Iterator[bytes]:
    """Split the NASDAQ binary file format (u16 BE length + message)."""
    with open(path, "rb") as f:
        data = f.read()
    off = 0
    while off + 2 <= len(data):
        (n,) = struct.unpack_from(">H", data, off)
        if n == 0:
            raise ValueError(f"zero length prefix at byte {off}")
        if off + 2 + n > len(data):
            raise ValueError(f"truncated message at byte {off}")
        yield data[off : off + 2 + n]
        off += 2 + n
    if off != len(data):
        raise ValueError(f"{len(data) - off} trailing bytes")


# ----------------------------------------------------------------- itch-book
def run_itchbook(path, locate, symbol, depth, stats):
    import numpy as np
    import itch_book
    from itch_book._dates import midnight_ns

    day = dt.date(2020, 1, 30)  # any date: we subtract the same midnight back
    midnight = int(midnight_ns(day))
    feed = itch_book.open(path, date=day, price_type="fixed")
    tables = ("bbo", "depth", "symbols")
    cols = {"bbo": [], "depth": [], "symbols": []}
    for batch in feed.batches(tables=tables, depth=max(depth, 1),
                              symbols=(symbol,) if symbol else (),
                              rows=1_000_000):
        for t in tables:
            cols[t].append(getattr(batch, t))
    syms = {}
    for s in cols["symbols"]:
        syms.update(zip(s["locate"], s["symbol"]))
    if locate is None:
        inv = [loc for loc, name in syms.items() if name == symbol]
        if not inv:
            raise ValueError(f"symbol {symbol} not in the stock directory")
        locate = inv[0]
    tops = []
    for b in cols["bbo"]:
        sel = b["locate"] == locate
        for ts, seq, bp, bs, ap, as_ in zip(
            b["ts_event"][sel], b["seq"][sel], b["bid_px"][sel],
            b["bid_sz"][sel], b["ask_px"][sel], b["ask_sz"][sel]):
            top = (int(bp) if bs else None, int(bs) if bs else None,
                   int(ap) if as_ else None, int(as_) if as_ else None)
            tops.append((int(seq), int(ts) - midnight, top))
    # the table is per change already; keep it in message order
    tops.sort(key=lambda r: r[0])
    for _, ts, top in tops:
        yield ts, top
    book = None
    for d in cols["depth"]:
        sel = np.nonzero(d["locate"] == locate)[0]
        if len(sel):
            i = sel[-1]
            book = {"bids": [], "asks": []}
            for k in range(depth):
                for side, key in (("bid", "bids"), ("ask", "asks")):
                    sz = int(d[f"{side}_sz_{k:02d}"][i])
                    if sz:
                        book[key].append([int(d[f"{side}_px_{k:02d}"][i]), sz,
                                          int(d[f"{side}_ct_{k:02d}"][i])])
    stats["final_book"] = book
    stats["itch_book_stats"] = {k: (v if isinstance(v, (int, bool, str)) or v is None else str(v))
                                for k, v in (feed.stats or {}).items()}


# ------------------------------------------------------------------- meatpy
def run_meatpy(path, locate, symbol, depth, stats):
    from meatpy.itch50 import ITCH50MessageReader, ITCH50MarketProcessor

    msgs = ITCH50MessageReader().read_file(path)
    proc = None
    errors = {}
    pending = []  # messages seen before the instrument name is known
    for m in msgs:
        mtype = bytes(m.type).decode()
        if locate is not None and m.stock_locate != locate:
            continue
        if proc is None:
            name = symbol
            if name is None and hasattr(m, "stock"):
                name = bytes(m.stock).decode().rstrip()
            if name is None:
                pending.append(m)
                continue
            proc = ITCH50MarketProcessor(name, dt.datetime(2020, 1, 30))
            for p in pending:
                proc.process_message(p)
            pending = []
        try:
            proc.process_message(m)
        except Exception as e:  # meatpy raises on priority/volume anomalies
            key = f"{mtype}:{type(e).__name__}"
            errors[key] = errors.get(key, 0) + 1
        lob = proc.current_lob
        if lob is None:
            yield m.timestamp, EMPTY
            continue
        b = lob.bid_levels[0] if lob.bid_levels else None
        a = lob.ask_levels[0] if lob.ask_levels else None
        yield m.timestamp, (b.price if b else None, b.volume if b else None,
                            a.price if a else None, a.volume if a else None)
    lob = proc.current_lob if proc else None
    if lob is not None:
        stats["final_book"] = {
            "bids": [[lv.price, lv.volume, lv.n_orders] for lv in lob.bid_levels[:depth]],
            "asks": [[lv.price, lv.volume, lv.n_orders] for lv in lob.ask_levels[:depth]],
        }
        stats["levels"] = {"bids": len(lob.bid_levels), "asks": len(lob.ask_levels)}
        stats["live_orders"] = sum(lv.n_orders for lv in lob.bid_levels + lob.ask_levels)
    stats["meatpy_exceptions"] = errors


# ------------------------------------------------------------------ itchcpp
def run_itchcpp(path, locate, symbol, depth, stats):
    from itchcpp.book import BookManager
    from itchcpp.parser import MessageParser

    parser = MessageParser()
    mgr = BookManager()
    if symbol:
        mgr.track_symbol(symbol)
    name = symbol  # itchcpp's Python API finds books by symbol only
    book = None
    for fr in frames(path):
        msg = parser.get_message_type(fr[2:])
        mgr.process_stream(fr)
        if name is None and msg.message_type == b"R" and msg.stock_locate == locate:
            name = bytes(msg.stock).decode().rstrip()
        if locate is not None and msg.stock_locate != locate:
            continue
        if book is None and name is not None:
            book = mgr.book_for_symbol(name)  # None until its first add
        if book is None:
            yield msg.timestamp, EMPTY
            continue
        q = book.bbo()
        # Bbo prices are float dollars; 4-decimal prices round-trip via round()
        yield msg.timestamp, (
            round(q.bid_price * 10000) if q.has_bid else None,
            q.bid_shares if q.has_bid else None,
            round(q.ask_price * 10000) if q.has_ask else None,
            q.ask_shares if q.has_ask else None)
    if name is None:
        raise ValueError("no stock directory (R) message for the requested locate; "
                         "itchcpp's Python API finds books by symbol only")
    stats["final_book"] = None  # not exposed by the Python binding
    stats["books"] = mgr.book_count()


# ------------------------------------------------ naive (NOT independent)
def run_naive(path, locate, symbol, depth, stats):
    os.environ["ITCH_NO_CPP"] = "1"
    from itch.parser import MessageParser

    orders = {}  # ref -> [side, price, shares]
    levels = {"B": {}, "S": {}}  # price -> [shares, count]
    anomalies = {}

    def bump(k):
        anomalies[k] = anomalies.get(k, 0) + 1

    def add(ref, side, px, qty):
        if ref in orders:
            bump("duplicate_ref")
        if px == 0:
            bump("price_0")
        orders[ref] = [side, px, qty]
        lv = levels[side].setdefault(px, [0, 0])
        lv[0] += qty
        lv[1] += 1

    def reduce(ref, qty, kind):
        o = orders.get(ref)
        if o is None:
            bump(f"unknown_ref_{kind}")
            return
        side, px, left = o
        if qty > left:
            bump(f"over_reduce_{kind}")
            qty = left
        o[2] -= qty
        lv = levels[side][px]
        lv[0] -= qty
        if o[2] == 0:
            del orders[ref]
            lv[1] -= 1
        if lv[1] == 0:
            del levels[side][px]

    def top():
        b, a = levels["B"], levels["S"]
        bp = max(b) if b else None
        ap = min(a) if a else None
        return (bp, b[bp][0] if b else None, ap, a[ap][0] if a else None)

    with open(path, "rb") as f:
        for m in MessageParser().parse_file(f):
            t = m.message_type
            if locate is None and hasattr(m, "stock") and \
                    bytes(m.stock).decode().rstrip() == symbol:
                locate = m.stock_locate  # --symbol: first R/H/A/F... naming it
            if locate is None or m.stock_locate != locate:
                continue
            if t in (b"A", b"F"):
                add(m.order_reference_number, m.buy_sell_indicator.decode(), m.price, m.shares)
            elif t in (b"E", b"C"):
                reduce(m.order_reference_number, m.executed_shares, t.decode())
            elif t == b"X":
                reduce(m.order_reference_number, m.cancelled_shares, "X")
            elif t == b"D":
                o = orders.get(m.order_reference_number)
                reduce(m.order_reference_number, o[2] if o else 0, "D")
            elif t == b"U":
                o = orders.get(m.order_reference_number)
                if o is None:
                    bump("unknown_ref_U")
                else:
                    side = o[0]
                    reduce(m.order_reference_number, o[2], "U")
                    add(m.new_order_reference_number, side, m.price, m.shares)
            q = top()
            if q[0] is not None and q[2] is not None and q[0] >= q[2]:
                bump("crossed_or_locked_after_message")
            yield m.timestamp, q
    stats["final_book"] = {
        "bids": [[p, *levels["B"][p]] for p in sorted(levels["B"], reverse=True)[:depth]],
        "asks": [[p, *levels["S"][p]] for p in sorted(levels["S"])[:depth]],
    }
    stats["levels"] = {"bids": len(levels["B"]), "asks": len(levels["S"])}
    stats["live_orders"] = len(orders)
    stats["anomalies"] = anomalies


IMPLS = {"itchbook": run_itchbook, "meatpy": run_meatpy,
         "itchcpp": run_itchcpp, "naive": run_naive}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--locate", type=int)
    g.add_argument("--symbol")
    ap.add_argument("--impl", choices=sorted(IMPLS), default="itchbook")
    ap.add_argument("--depth", type=int, default=5)
    ap.add_argument("--book-out")
    ap.add_argument("--stats", action="store_true")
    args = ap.parse_args()
    symbol = args.symbol.upper() if args.symbol else None
    stats: dict = {"impl": args.impl}
    out = sys.stdout
    out.write("timestamp_ns,bid_px,bid_qty,ask_px,ask_qty\n")
    last: Top = EMPTY
    lines = 0
    try:
        for ts, top in IMPLS[args.impl](args.file, args.locate, symbol, args.depth, stats):
            if top != last:
                bp, bq, ap_, aq = top
                out.write(f"{ts},{fmt_px(bp)},{'' if bq is None else bq},"
                          f"{fmt_px(ap_)},{'' if aq is None else aq}\n")
                last = top
                lines += 1
    except Exception as e:
        print(f"bbo.py: {args.impl} failed on {args.file}: {type(e).__name__}: {e}",
              file=sys.stderr)
        return 2
    stats["bbo_lines"] = lines
    if args.book_out:
        with open(args.book_out, "w") as f:
            json.dump({"impl": args.impl, "final_book": stats.get("final_book"),
                       "note": "levels are [price (4 implied decimals), shares, orders], best first"},
                      f, indent=1)
            f.write("\n")
    if args.stats:
        print(json.dumps(stats, default=str), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
