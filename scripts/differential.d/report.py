"""Compares guichet's verdicts with the reference labels; writes results.tsv and summary.txt.

    report.py OUT ACCOUNTED.tsv

Reads OUT/checks.jsonl (check.py's output for the valid files and the mutants) and
OUT/generation-failures.tsv. Exit status 1 when a disagreement is not in ACCOUNTED.tsv or
guichet failed on a file (crash, panic, no JSON answer, more than 10 s, more than 1 GiB).

Expected answer for a valid (generated) file, by reference label:
  clean                      accepted without note pdf_repaired, or refused only by policy
                             (kind_not_accepted, kind_not_supported, image_too_small);
  repaired                   accepted with the note pdf_repaired;
  damaged, encrypted, active refused, whatever the codes.
A mutant is not judged on its verdict, except that one the reference tools call clean must
not be refused as damaged (a code of DAMAGE_CODES).

ACCOUNTED.tsv: tab-separated `recipe  label  guichet  reason`; recipe, label and guichet are
shell globs matched against the recipe id (`producer/variant`, `mutant/OP/producer/variant`),
the reference label and guichet's answer written as `accepted [+note,...]` or
`rejected code,code [+note,...]` (codes sorted). Lines starting with # are comments.
"""

import csv
import fnmatch
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

POLICY_CODES = {"kind_not_accepted", "kind_not_supported", "image_too_small"}
DAMAGE_CODES = {
    "pdf_malformed", "pdf_structure", "pdf_truncated", "pdf_content_unreadable", "pdf_no_pages",
    "image_corrupt", "image_truncated", "image_structure", "kind_unknown", "data_before_header",
    "data_after_end",
}
MAX_SECONDS = 10.0
MAX_RSS_KIB = 1 << 20  # 1 GiB


def answer_text(ans):
    if ans is None:
        return "no answer"
    codes = sorted(r["code"] for r in ans["reasons"])
    notes = sorted(n["code"] for n in ans["notes"])
    text = ans["verdict"] + (" " + ",".join(codes) if codes else "")
    return text + (" +" + ",".join(notes) if notes else "")


def details(ans):
    if ans is None:
        return ""
    parts = [f"{r['code']}: {r.get('detail') or ''}" for r in ans["reasons"]]
    parts += [f"+{n['code']}: {n.get('detail') or ''}" for n in ans["notes"]]
    return " | ".join(p.replace("\t", " ").replace("\n", " ") for p in parts)[:400]


def failure(g):
    """Why guichet's run on one file is a failure, or ''."""
    why = []
    if g["rc"] in (124, 137) or (g["seconds"] or 0) >= 20:
        why.append("timeout")
    if "panicked" in g["stderr"] or g["rc"] == 101:
        why.append("panic: " + g["stderr"].strip().splitlines()[0][:160] if g["stderr"].strip() else "panic")
    elif g["rc"] not in (0, 1, 124, 137):
        why.append(f"exit status {g['rc']}: {g['stderr'].strip()[:160]}")
    if g["answer"] is None and not why:
        why.append(f"no JSON answer: {g.get('stdout', '')[:100]!r}")
    if (g["seconds"] or 0) > MAX_SECONDS:
        why.append(f"{g['seconds']} s")
    if (g["rss_kib"] or 0) > MAX_RSS_KIB:
        why.append(f"{g['rss_kib'] // 1024} MiB RSS")
    return "; ".join(why)


def agreement(row):
    """'yes', 'no' or 'n/a' (a mutant's verdict is not compared)."""
    ans = row["guichet"]["answer"]
    if ans is None:
        return "no"
    codes = {r["code"] for r in ans["reasons"]}
    notes = {n["code"] for n in ans["notes"]}
    accepted = ans["verdict"] == "accepted"
    label = row["label"]
    if row["producer"] == "mutant":
        if label == "clean":
            return "no" if codes & DAMAGE_CODES else "yes"
        return "n/a"
    if label == "clean":
        ok = (accepted and "pdf_repaired" not in notes) or (not accepted and codes <= POLICY_CODES)
    elif label == "repaired":
        ok = accepted and "pdf_repaired" in notes
    else:
        ok = not accepted
    return "yes" if ok else "no"


def load_accounted(path):
    entries = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.rstrip("\n").split("\t")
            if cols[0] == "recipe":
                continue
            if len(cols) != 4:
                sys.exit(f"{path}:{n}: expected 4 tab-separated columns, found {len(cols)}")
            entries.append({"line": n, "recipe": cols[0], "label": cols[1], "guichet": cols[2], "reason": cols[3]})
    return entries


def accounted_for(row, answer, entries):
    for e in entries:
        if (fnmatch.fnmatchcase(row["recipe"], e["recipe"]) and fnmatch.fnmatchcase(row["label"], e["label"])
                and fnmatch.fnmatchcase(answer, e["guichet"])):
            return e
    return None


def main():
    out, accounted_path = Path(sys.argv[1]), Path(sys.argv[2])
    entries = load_accounted(accounted_path)
    rows = [json.loads(line) for line in open(out / "checks.jsonl")]
    gen_failures = []
    gf = out / "generation-failures.tsv"
    if gf.exists():
        gen_failures = [line.rstrip("\n").split("\t", 1) for line in open(gf).readlines()[1:] if line.strip()]

    results = []
    used = Counter()
    for row in rows:
        g = row["guichet"]
        ans_text = answer_text(g["answer"])
        agree = agreement(row)
        fail = failure(g)
        acc = None
        if agree == "no" and not fail:
            acc = accounted_for(row, ans_text, entries)
            if acc:
                used[acc["line"]] += 1
        results.append({
            "file": row["file"], "recipe": row["recipe"], "label": row["label"], "reference": row["ref_detail"],
            "guichet": ans_text, "guichet_detail": details(g["answer"]),
            "seconds": g["seconds"], "rss_mib": round((g["rss_kib"] or 0) / 1024, 1),
            "agree": agree, "accounted": f"accounted.tsv:{acc['line']}: {acc['reason']}" if acc else "",
            "failure": fail, "producer": row["producer"], "origin": row.get("origin", ""),
        })

    cols = ["file", "recipe", "label", "reference", "guichet", "guichet_detail", "seconds", "rss_mib", "agree",
            "accounted", "failure", "origin"]
    with open(out / "results.tsv", "w", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        w.writerow(cols)
        for r in results:
            w.writerow([r[c] for c in cols])

    valid = [r for r in results if r["producer"] != "mutant"]
    mutants = [r for r in results if r["producer"] == "mutant"]
    disagree = [r for r in results if r["agree"] == "no" and not r["failure"]]
    unaccounted = [r for r in disagree if not r["accounted"]]
    failures = [r for r in results if r["failure"]]

    lines = []
    p = lines.append
    p(f"differential: {len(valid)} valid files from {len({r['producer'] for r in valid})} producers, "
      f"{len(mutants)} mutants")
    p("")
    p(f"{'producer':<14} {'files':>5} {'agree':>5} {'disagree':>8} {'accounted':>9}  labels")
    by = defaultdict(list)
    for r in valid:
        by[r["producer"]].append(r)
    for prod in sorted(by):
        rs = by[prod]
        labels = Counter(r["label"] for r in rs)
        p(f"{prod:<14} {len(rs):>5} {sum(r['agree'] == 'yes' for r in rs):>5} "
          f"{sum(r['agree'] == 'no' for r in rs):>8} {sum(bool(r['accounted']) for r in rs):>9}  "
          + ", ".join(f"{k} {v}" for k, v in sorted(labels.items())))
    p(f"{'all':<14} {len(valid):>5} {sum(r['agree'] == 'yes' for r in valid):>5} "
      f"{sum(r['agree'] == 'no' for r in valid):>8} {sum(bool(r['accounted']) for r in valid):>9}")
    p("")
    answered = [r for r in mutants if not r["failure"]]
    mlabels = Counter(r["label"] for r in mutants)
    p(f"mutants: {len(answered)}/{len(mutants)} answered within bounds "
      f"({sum(r['guichet'].startswith('accepted') for r in answered)} accepted, "
      f"{sum(r['guichet'].startswith('rejected') for r in answered)} rejected); reference labels: "
      + ", ".join(f"{k} {v}" for k, v in sorted(mlabels.items())))
    p(f"mutants judged clean by the references but refused as damaged: "
      f"{sum(r['agree'] == 'no' for r in mutants)}")
    lenient = Counter(Path(r["file"]).suffix.lstrip(".") for r in answered
                      if r["label"] == "damaged" and r["guichet"].startswith("accepted"))
    if lenient:
        p("mutants judged damaged by the references but accepted (not compared; see results.tsv): "
          + ", ".join(f"{k} {v}" for k, v in sorted(lenient.items())))
    timed = [r for r in results if r["seconds"] is not None]
    if timed:
        slow = max(timed, key=lambda r: r["seconds"])
        big = max(timed, key=lambda r: r["rss_mib"])
        p(f"max time: {slow['seconds']:.2f} s ({slow['file']}); max RSS: {big['rss_mib']:.0f} MiB ({big['file']})")
    p(f"disagreements: {len(disagree)} ({len(disagree) - len(unaccounted)} accounted, {len(unaccounted)} not); "
      f"failures: {len(failures)}")
    if gen_failures:
        p(f"recipes that did not generate: {len(gen_failures)}")
        for rid, msg in gen_failures:
            p(f"  {rid}: {msg[:160]}")
    for title, group in (("FAILURES", failures), ("UNACCOUNTED DISAGREEMENTS", unaccounted)):
        if group:
            p("")
            p(f"{title}:")
            for r in group:
                p(f"  {r['file']}")
                p(f"    recipe {r['recipe']}; reference {r['label']}: {r['reference'][:200]}")
                p(f"    guichet {r['guichet']}" + (f" ({r['guichet_detail'][:200]})" if r["guichet_detail"] else "")
                  + (f"; FAILURE {r['failure']}" if r["failure"] else ""))
    acc_rows = [r for r in disagree if r["accounted"]]
    if acc_rows:
        p("")
        p("ACCOUNTED DISAGREEMENTS:")
        for e in entries:
            if used[e["line"]]:
                p(f"  {used[e['line']]} × {e['recipe']} ({e['label']} → {e['guichet']}): {e['reason']}")
    unused = [e for e in entries if not used[e["line"]]]
    if unused and len(valid) >= 300:
        p("")
        p("accounted.tsv entries that matched nothing this run: "
          + ", ".join(f"line {e['line']} ({e['recipe']})" for e in unused))
    with open(out / "keep.txt", "w") as f:
        for r in disagree + failures:
            for path in [r["file"]] + [x for x in r["origin"].split(" + ") if x]:
                f.write(path + "\n")
    text = "\n".join(lines) + "\n"
    (out / "summary.txt").write_text(text)
    sys.stdout.write(text)
    if not valid:
        print("differential: no file was generated", file=sys.stderr)
        sys.exit(1)
    sys.exit(1 if unaccounted or failures else 0)


if __name__ == "__main__":
    main()
