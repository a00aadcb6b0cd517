#!/usr/bin/env python3
"""Write a small synthetic ITCH 5.0 file covering what the AAPL sample lacks:
C (execute with price, including a full fill), X, U keeping the price
(priority loss), a U chain, F, P, and S messages.

    python make_synthetic.py OUT.itch50

The bytes are packed by the independent `itchfeed` encoder
(`itch.messages.create_message(...).to_bytes()`), not by us.  EXPECTED_BBO
is the BBO worked out by hand from the ITCH 5.0 spec.  run.sh checks that
every independent book (itch-book, meatpy, itchcpp) reproduces it before it
writes tests/golden/synthetic_cux_bbo.csv.
"""

import os
import struct
import sys

os.environ["ITCH_NO_CPP"] = "1"
from itch.messages import create_message  # noqa: E402

LOC = 7
STOCK = b"TEST    "
T0 = 34_200_000_000_000  # 09:30:00


def msgs():
    t = T0
    common = dict(stock_locate=LOC, tracking_number=0)

    def ts():
        nonlocal t
        t += 1_000
        return t

    yield create_message(b"S", stock_locate=0, tracking_number=0, timestamp=ts(), event_code=b"O")
    yield create_message(
        b"R", **common, timestamp=ts(), stock=STOCK, market_category=b"Q",
        financial_status_indicator=b"N", round_lot_size=100, round_lots_only=b"N",
        issue_classification=b"C", issue_sub_type=b"Z ", authenticity=b"P",
        short_sale_threshold_indicator=b"N", ipo_flag=b"N", luld_ref=b"1",
        etp_flag=b"N", etp_leverage_factor=0, inverse_indicator=b"N")

    def add(ref, side, shares, price, mpid=None):
        kw = dict(**common, timestamp=ts(), order_reference_number=ref,
                  buy_sell_indicator=side, shares=shares, stock=STOCK, price=price)
        if mpid:
            return create_message(b"F", **kw, attribution=mpid)
        return create_message(b"A", **kw)

    def C(ref, n, match, printable, px):
        return create_message(b"C", **common, timestamp=ts(), order_reference_number=ref,
                              executed_shares=n, match_number=match,
                              printable=printable, execution_price=px)

    yield add(1, b"B", 100, 100_000)            # bid 10.0000 x100
    yield add(5, b"B", 200, 100_000)            # bid 10.0000 x300
    yield add(9, b"S", 300, 100_500)            # ask 10.0500 x300
    yield add(13, b"S", 100, 100_400, b"ABCD")  # F: ask 10.0400 x100
    yield C(13, 40, 1, b"Y", 100_300)           # ask 10.0400 x60 (price unchanged)
    yield C(1, 100, 2, b"N", 99_900)            # full fill of 1: bid 10.0000 x200
    yield create_message(b"X", **common, timestamp=ts(), order_reference_number=5,
                         cancelled_shares=50)   # bid 10.0000 x150
    yield create_message(b"U", **common, timestamp=ts(), order_reference_number=5,
                         new_order_reference_number=17, shares=500,
                         price=100_100)         # bid 10.0100 x500
    yield create_message(b"P", **common, timestamp=ts(), order_reference_number=0,
                         buy_sell_indicator=b"B", shares=77, stock=STOCK,
                         price=100_200, match_number=3)  # no book change
    yield create_message(b"E", **common, timestamp=ts(), order_reference_number=13,
                         executed_shares=60, match_number=4)  # ask 10.0500 x300
    yield add(21, b"S", 100, 100_500)           # ask 10.0500 x400
    yield create_message(b"U", **common, timestamp=ts(), order_reference_number=9,
                         new_order_reference_number=25, shares=300,
                         price=100_500)         # same price & size: no line
    yield create_message(b"U", **common, timestamp=ts(), order_reference_number=17,
                         new_order_reference_number=29, shares=400,
                         price=100_100)         # bid 10.0100 x400
    yield create_message(b"D", **common, timestamp=ts(), order_reference_number=29)  # bid empty
    yield C(21, 100, 5, b"Y", 100_600)          # full fill: ask 10.0500 x300
    yield C(25, 300, 6, b"Y", 100_600)          # full fill: book empty
    yield create_message(b"S", stock_locate=0, tracking_number=0, timestamp=ts(), event_code=b"C")


EXPECTED_BBO = f"""timestamp_ns,bid_px,bid_qty,ask_px,ask_qty
{T0 + 3000},10.0000,100,,
{T0 + 4000},10.0000,300,,
{T0 + 5000},10.0000,300,10.0500,300
{T0 + 6000},10.0000,300,10.0400,100
{T0 + 7000},10.0000,300,10.0400,60
{T0 + 8000},10.0000,200,10.0400,60
{T0 + 9000},10.0000,150,10.0400,60
{T0 + 10000},10.0100,500,10.0400,60
{T0 + 12000},10.0100,500,10.0500,300
{T0 + 13000},10.0100,500,10.0500,400
{T0 + 15000},10.0100,400,10.0500,400
{T0 + 16000},,,10.0500,400
{T0 + 17000},,,10.0500,300
{T0 + 18000},,,,
"""


def main() -> int:
    out = bytearray()
    for m in msgs():
        body = m.to_bytes()
        out += struct.pack(">H", len(body)) + body
    with open(sys.argv[1], "wb") as f:
        f.write(out)
    if len(sys.argv) > 2:  # also write the hand-derived expected BBO
        with open(sys.argv[2], "w") as f:
            f.write(EXPECTED_BBO)
    return 0


if __name__ == "__main__":
    sys.exit(main())
