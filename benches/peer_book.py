"""Times the PyPI `itch-book` package (C++ core) building every book of an ITCH file and
emitting its BBO table. Prints messages/s, best of N passes. Used by benches/peer_book.sh."""
import datetime as dt
import sys
import time

import itch_book


def one_pass(path):
    feed = itch_book.open(path, date=dt.date(2020, 1, 30), price_type="fixed")
    rows = 0
    for batch in feed.batches(tables=("bbo",), rows=1_000_000):
        rows += len(batch.bbo["seq"])
    return rows, feed.stats


def main():
    path, passes = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3
    best = None
    for _ in range(passes):
        t0 = time.perf_counter()
        rows, stats = one_pass(path)
        dt_s = time.perf_counter() - t0
        best = dt_s if best is None else min(best, dt_s)
    msgs = None
    if isinstance(stats, dict):
        for k in ("messages", "n_messages", "msgs"):
            if k in stats:
                msgs = int(stats[k])
    print(f"itch-book: {rows} bbo rows, stats {stats}")
    if msgs:
        print(f"itch-book {msgs / best / 1e6:.1f} M messages/s ({best:.3f} s best of {passes})")
    else:
        print(f"itch-book {best:.3f} s best of {passes} (message count: see stats)")


if __name__ == "__main__":
    main()
