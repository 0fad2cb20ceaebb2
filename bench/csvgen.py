"""A deterministic, realistic CSV of an exact size, for the throughput benchmark.

Rows look like an order export: an increasing order ID, a customer ID, dates and a
timestamp, amounts, a currency, a city (some non-ASCII), a product, a quantity and a
free-text note. About one note in six is quoted and holds commas, doubled quotes or a
newline, so a chunker that cuts blocks at record boundaries has real work to do.

The same (size, seed) always gives the same bytes; files are cached by that key under
target/bench-data/ and written under a temporary name first, so a cut-short generation is
never mistaken for a finished one.
"""

import datetime
import os
import random
from pathlib import Path

# Bump when the rows change, so cached files of the old shape are not reused.
GENERATOR_VERSION = 1

HEADER = ("order_id,customer_id,order_date,shipped_at,amount,currency,city,product,"
          "quantity,note\n")

CITIES = ["Berlin", "München", "Zürich", "São Paulo", "Kraków", "Malmö", "Москва", "東京",
          "Αθήνα", "Reykjavík", "Seattle", "Lagos", "Québec", "İstanbul", "Dublin", "Ciudad de México"]
PRODUCTS = ["Widget", "Gadget Pro", "Cable 2m", "Adapter", "Monitor 27in", "Desk Lamp",
            "Keyboard (DE)", "Mouse", "Headset", "Chair"]
CURRENCIES = ["EUR", "USD", "GBP", "CHF", "SEK", "JPY", "BRL"]
PLAIN_NOTES = ["", "", "", "gift wrap", "leave at door", "express", "call before delivery",
               "backorder", "réclamation traitée", "zurück an Lager"]
QUOTED_NOTES = ['"deliver to: 5 Main St, Apt 2"', '"customer said ""urgent"", twice"',
                '"line one\nline two"', '"size: 10, colour: grün"',
                '"pallet, not box; ""fragile"""', '"first floor\r\nring twice"']

# How many rows each batch builds at once: large enough that per-batch overhead vanishes.
BATCH_ROWS = 20_000
# The last row pads the file to its exact size; it needs this much room at most.
TAIL_ROOM = 1024


def cached_csv(directory: Path, size: int, seed: int) -> Path:
    """The path of the (size, seed) CSV, generating it first if it is not cached."""
    path = directory / f"orders-v{GENERATOR_VERSION}-{size}-seed{seed}.csv"
    if path.exists() and path.stat().st_size == size:
        return path
    directory.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    with open(partial, "wb") as out:
        write_csv(out, size, seed)
    os.replace(partial, path)
    return path


def write_csv(out, size: int, seed: int) -> None:
    """Writes exactly `size` bytes of CSV (header, rows, one padding row) to `out`."""
    if size < len(HEADER) + TAIL_ROOM:
        raise ValueError(f"a CSV of {size} bytes is too small: at least "
                         f"{len(HEADER) + TAIL_ROOM} bytes")
    rng = random.Random(seed)
    pools = value_pools(rng)
    out.write(HEADER.encode())
    written = len(HEADER)
    next_id = 1
    while True:
        rows = row_batch(rng, pools, next_id, BATCH_ROWS)
        batch = "".join(rows).encode()
        if written + len(batch) <= size - TAIL_ROOM:
            out.write(batch)
            written += len(batch)
            next_id += len(rows)
            continue
        for row in rows:  # the last batch: row by row, up to the padding row
            encoded = row.encode()
            if written + len(encoded) > size - TAIL_ROOM:
                out.write(padding_row(next_id, size - written))
                return
            out.write(encoded)
            written += len(encoded)
            next_id += 1


def value_pools(rng: random.Random) -> dict:
    """Precomputed field values, so each row costs a few list lookups, not formatting."""
    start = datetime.date(2021, 1, 1)
    dates = [(start + datetime.timedelta(days=d)).isoformat() for d in range(1826)]
    notes = PLAIN_NOTES * 3 + QUOTED_NOTES  # about one in six quoted
    return {
        "customers": [f"C{rng.randrange(16**8):08X}" for _ in range(50_000)],
        "dates": dates,
        "times": [f"T{h:02d}:{m:02d}:{s:02d}Z" for h in range(24) for m in range(0, 60, 7)
                  for s in (0, 17, 42)],
        "amounts": [f"{rng.randrange(1, 500_000) / 100:.2f}" for _ in range(20_000)],
        "cities": [c if "," not in c else f'"{c}"' for c in CITIES],
        "notes": notes,
    }


def row_batch(rng: random.Random, pools: dict, first_id: int, count: int) -> list[str]:
    """`count` rows with order IDs from `first_id`, drawn from `pools`."""
    pick = rng.choices
    columns = zip(
        range(first_id, first_id + count),
        pick(pools["customers"], k=count),
        pick(pools["dates"], k=count),
        pick(pools["dates"], k=count),
        pick(pools["times"], k=count),
        pick(pools["amounts"], k=count),
        pick(CURRENCIES, k=count),
        pick(pools["cities"], k=count),
        pick(PRODUCTS, k=count),
        pick(range(1, 100), k=count),
        pick(pools["notes"], k=count),
    )
    return [f"{i},{c},{d},{s}{t},{a},{cur},{city},{p},{q},{n}\n"
            for i, c, d, s, t, a, cur, city, p, q, n in columns]


def padding_row(order_id: int, length: int) -> bytes:
    """One last row of exactly `length` bytes (its note is padding), same columns."""
    head = f"{order_id},C00000000,2025-12-31,2025-12-31T23:59:59Z,0.00,EUR,Berlin,Widget,1,\""
    fill = length - len(head.encode()) - len('"\n')
    if fill < 0:
        raise ValueError(f"no room for the padding row ({length} bytes)")
    return (head + "x" * fill + '"\n').encode()
