"""Command line: ``dltheory list`` shows the claims, ``dltheory report`` runs them and renders the report.

Exit codes of ``report``: 0 every claim holds (and its negative control is rejected), 1 some claim failed
or errored, 2 bad input (a pattern matching no claim, an unwritable directory), with nothing written.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import sys
import textwrap
from collections.abc import Sequence

from verify import registry, report

__all__ = ["main"]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], width: int) -> str:
    """Aligned columns; the first two keep their width, the others share the rest and wrap.

    Records that wrap onto several lines are separated by blank lines.
    """
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    room = width - sum(widths[:2]) - 2 * (len(header) - 1)
    flex = sorted(range(2, len(header)), key=widths.__getitem__)
    for rank, i in enumerate(flex):  # water-filling: narrow columns keep their width, wide ones share the rest
        widths[i] = max(16, min(widths[i], room // (len(flex) - rank)))
        room -= widths[i]
    blocks = []
    for row in (header, *rows):
        cells = [textwrap.wrap(cell, w) or [""] for cell, w in zip(row, widths)]
        blocks.append("\n".join("  ".join(part.ljust(w) for part, w in zip(parts, widths)).rstrip()
                                for parts in itertools.zip_longest(*cells, fillvalue="")))
    return ("\n\n" if any("\n" in b for b in blocks) else "\n").join(blocks)


def _list(args: argparse.Namespace) -> int:
    claims = registry.all_claims()
    if not claims:
        print("no claims registered")
        return 0
    print(_table(("ID", "AREA", "REFERENCE", "TITLE", "NEGATIVE CONTROL"),
                 [(c.id, c.area, c.reference, c.title, c.control) for c in claims],
                 width=shutil.get_terminal_size((120, 24)).columns))
    return 0


def _report(args: argparse.Namespace) -> int:
    claims = registry.select(args.claims)
    out, cache = report.prepare_dirs(args.out, args.cache_dir, use_cache=not args.no_cache)
    outcomes = report.run_claims(claims, quick=args.quick, cache_dir=cache, progress=True)
    index = report.write_report(out, outcomes, quick=args.quick)
    print(index)
    print(report.summary_line(outcomes))
    return 0 if all(o.verdict == "PASS" for o in outcomes) else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dltheory", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list every claim with its reference and negative control").set_defaults(
        func=_list)
    rep = sub.add_parser("report", help="run claims and write an HTML theory-vs-simulation report")
    rep.add_argument("--out", default="reports/latest", help="output directory (default: %(default)s)")
    tier = rep.add_mutually_exclusive_group()
    tier.add_argument("--quick", dest="quick", action="store_true", default=True,
                      help="quick parameter tier (default)")
    tier.add_argument("--full", dest="quick", action="store_false", help="full (slow) parameter tier")
    rep.add_argument("--claims", metavar="PATTERN", help="glob over claim ids (substring if no wildcard)")
    rep.add_argument("--cache-dir", help="result cache directory (default: <out>/../_cache)")
    rep.add_argument("--no-cache", action="store_true", help="ignore and do not write the result cache")
    rep.set_defaults(func=_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dltheory`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as exc:
        print(f"dltheory: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
