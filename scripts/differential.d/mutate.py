"""Makes mutants of the valid documents: damaged copies that guichet must still answer.

    mutate.py GENERATED.tsv OUT_DIR MUTANTS.tsv --count N

Mutations (each seeded from the original's name, so runs repeat):
  truncate   the first part only (cut at 5 % … 99.5 % of the file, or a few bytes short);
  flip       1, 4 or 32 bytes XORed with a random value, anywhere, in the first 2 KiB
             (headers, PDF header and first objects) or in the last 2 KiB (trailers, xref);
  splice     the head of one file followed by the tail of another (any kinds);
  duplicate  a chunk copied and inserted elsewhere;
  overlap    a chunk copied over another place (same size);
  zero       a chunk overwritten with NUL bytes.
Originals are taken round-robin over producers (files over 6 MB are skipped), four
mutants an original, until N mutants are made. The mutant keeps the original's extension
(a splice keeps its head's), so that the declared name says what the head says.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import read_tsv, rng, write_manifest  # noqa: E402

OPS = ("truncate", "flip", "splice", "duplicate", "overlap", "zero")
MAX_ORIGINAL = 6 << 20


def mutate(op, data, other, r):
    n = len(data)
    if op == "truncate":
        if r.random() < 0.3:
            k = r.choice((1, 7, 30))
            return data[: max(1, n - k)], f"cut-{k}-from-end"
        frac = r.choice((0.05, 0.3, 0.6, 0.9, 0.995))
        return data[: max(1, int(n * frac))], f"at-{frac}"
    if op == "flip":
        count = r.choice((1, 4, 32))
        where = r.choice(("anywhere", "head", "tail"))
        lo, hi = {"anywhere": (0, n), "head": (0, min(n, 2048)), "tail": (max(0, n - 2048), n)}[where]
        b = bytearray(data)
        for _ in range(count):
            i = r.randrange(lo, hi)
            b[i] ^= r.randrange(1, 256)
        return bytes(b), f"{count}-bytes-{where}"
    if op == "splice":
        a, b = r.uniform(0.1, 0.9), r.uniform(0.1, 0.9)
        return data[: int(n * a)] + other[int(len(other) * b):], f"head-{a:.2f}-tail-{b:.2f}"
    length = max(1, int(n * r.uniform(0.001, 0.1)))
    src = r.randrange(0, max(1, n - length))
    dst = r.randrange(0, max(1, n - length))
    chunk = data[src: src + length]
    if op == "duplicate":
        return data[:dst] + chunk + data[dst:], f"{length}-bytes-from-{src}-at-{dst}"
    if op == "overlap":
        return data[:dst] + chunk + data[dst + length:], f"{length}-bytes-from-{src}-over-{dst}"
    return data[:dst] + bytes(length) + data[dst + length:], f"{length}-bytes-at-{dst}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("generated", type=Path)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("manifest", type=Path)
    ap.add_argument("--count", type=int, required=True)
    args = ap.parse_args()
    rows = [r for r in read_tsv(args.generated) if Path(r["file"]).stat().st_size <= MAX_ORIGINAL]
    by_producer = {}
    for row in rows:
        by_producer.setdefault(row["producer"], []).append(row)
    for p, lst in by_producer.items():
        rng("mutate-order", p).shuffle(lst)
    originals = []
    while len(originals) * 4 < args.count and any(by_producer.values()):
        for p in sorted(by_producer):
            if by_producer[p]:
                originals.append(by_producer[p].pop(0))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for i, row in enumerate(originals):
        src = Path(row["file"])
        data = src.read_bytes()
        r = rng("mutate", row["recipe"])
        for j in range(4):
            if len(out) >= args.count:
                break
            op = OPS[(i + j) % len(OPS)] if j < 2 else r.choice(OPS)
            partner = originals[r.randrange(len(originals))]
            other = Path(partner["file"]).read_bytes()
            mutant, how = mutate(op, data, other, r)
            if mutant == data:
                continue
            name = f"{row['producer']}__{src.stem}__{op}-{how}{src.suffix}"
            dest = args.out_dir / name
            dest.write_bytes(mutant)
            origin = row["file"] + (f" + {partner['file']}" if op == "splice" else "")
            out.append({"file": str(dest), "recipe": f"mutant/{op}/{row['recipe']}", "producer": "mutant",
                        "origin": origin})
    write_manifest(args.manifest, out)
    print(f"mutate: {len(out)} mutants of {len(originals)} originals", file=sys.stderr)


if __name__ == "__main__":
    main()
