"""Command line: ``dltheory list`` shows the claims, ``dltheory report`` runs them and renders the report.

``dltheory list --resolution`` adds each claim's measured resolution from the result cache (the last
``dltheory report`` of this code version), next to the bound it declares.

Exit codes of ``report``: 0 every claim holds (its controls rejected, its resolution within its bound), 1 some claim failed
or errored, 2 bad input (a pattern matching no claim, an unwritable directory, an unreachable scheduler, a
device JAX cannot see), with nothing written, 130 interrupted (finished claims stay cached: rerun to resume).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import textwrap
from collections.abc import Sequence

from dltheory.verify import cache, registry, report, runner
from dltheory.verify.evidence import percent

__all__ = ["main", "claims_markdown"]


def _list(args: argparse.Namespace) -> int:
    """One block per claim, grouped by area: id, then title, reference, controls and resolution, wrapped."""
    claims = registry.select(args.claims)
    if not claims:
        print("no claims registered")
        return 0
    if args.markdown:
        print(claims_markdown(claims), end="")
        return 0
    width = max(60, shutil.get_terminal_size((100, 24)).columns)
    wrap = textwrap.TextWrapper(width=width, initial_indent="    ", subsequent_indent="        ")
    areas: dict[str, list] = {}
    for c in claims:
        areas.setdefault(c.area, []).append(c)
    blocks = []
    for area, members in areas.items():
        blocks.append(f"== {area} ({len(members)} claim{'s' * (len(members) != 1)})")
        for c in members:
            blocks.append(
                "\n".join(
                    [
                        c.id,
                        wrap.fill(c.title),
                        wrap.fill(f"reference: {c.reference}"),
                        *(wrap.fill(f"control: {name}") for name in c.controls),
                        wrap.fill(f"resolution: {_resolution(c, args)}"),
                    ]
                )
            )
    print("\n\n".join(blocks))
    return 0


def claims_markdown(claims: Sequence[registry.Claim]) -> str:
    """The README's claims table: one section per area, a row per claim (id, statement, source, controls, bound)."""
    areas: dict[str, list] = {}
    for c in claims:
        areas.setdefault(c.area, []).append(c)

    def cell(text: str) -> str:
        return " ".join(str(text).split()).replace("|", "\\|")

    lines = [
        f"{len(claims)} claims in {len(areas)} areas; `dltheory list` prints the same list. Each row: what is checked, "
        "the source, the controls (plausible mistakes the same check must reject) and the declared resolution bound "
        "(the largest relative error in the published prediction the check may let through).",
    ]
    for area, members in areas.items():
        lines += [
            "",
            f"### {area}",
            "",
            "| id | what is checked | paper, equation | controls | resolution |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| `{c.id}` | {cell(c.title)} | {cell(c.reference)} | {cell('; '.join(c.controls))} "
            f"| {percent(c.resolution)} |"
            for c in members
        ]
    return "\n".join(lines) + "\n"


def _resolution(c: registry.Claim, args: argparse.Namespace) -> str:
    """The declared bound and, with --resolution, the measured value from the quick tier's cache entry."""
    text = f"declared <= {percent(c.resolution)}"
    if not args.resolution:
        return text
    cache_dir = args.cache_dir or "reports/_cache"
    result = cache.lookup(c, quick=True, cache_dir=cache_dir)
    if result is None:
        return f"{text}; measured: not in {cache_dir} for this code version (run `dltheory report --claims {c.id}`)"
    lo, hi = result.resolution
    return f"{text}; measured {percent(result.resolution_delta)} (rejects 1 - {percent(lo)} and 1 + {percent(hi)})"


def _progress_bar(total: int):
    """A tqdm bar on stderr whose postfix shows the last claim's id and verdict; returns (bar, on_done)."""
    try:
        from tqdm import tqdm
    except ImportError as exc:
        raise ImportError("progress bars need tqdm: pip install tqdm") from exc
    bar = tqdm(total=total, desc="claims", unit="claim", file=sys.stderr)
    tally: dict[str, int] = {}

    def on_done(o: runner.Outcome) -> None:
        tally[o.verdict] = tally.get(o.verdict, 0) + 1
        bar.set_postfix_str(
            f"{o.claim.id}: {o.verdict}{' (cached)' if o.cached else ''} · "
            + " ".join(f"{k} {v}" for k, v in sorted(tally.items()))
        )
        bar.update()

    return bar, on_done


def _report(args: argparse.Namespace) -> int:
    claims = registry.select(args.claims)
    runner.check_device(args.device)
    with runner.open_executor(args.executor, scheduler=args.scheduler, workers=args.workers) as executor:
        out, cache = report.prepare_dirs(args.out, args.cache_dir, use_cache=not args.no_cache)
        bar, on_done = _progress_bar(len(claims))
        try:
            outcomes = runner.run_claims(
                claims, quick=args.quick, cache_dir=cache, executor=executor, device=args.device, on_done=on_done
            )
        except KeyboardInterrupt:
            bar.close()
            print(
                f"dltheory: interrupted after {bar.n} of {len(claims)} claims; finished claims are cached"
                + ("" if cache is None else f" in {cache}: rerun to resume"),
                file=sys.stderr,
            )
            return 130
        bar.close()
    index = report.write_report(out, outcomes, quick=args.quick)
    print(index)
    print(report.summary_line(outcomes))
    return 0 if all(o.verdict == "PASS" for o in outcomes) else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dltheory", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    lst = sub.add_parser("list", help="list every claim with its reference, controls and resolution bound")
    lst.add_argument("--claims", metavar="PATTERN", help="glob over claim ids (substring if no wildcard)")
    lst.add_argument(
        "--resolution", action="store_true", help="add the measured resolution from the result cache (quick tier)"
    )
    lst.add_argument("--cache-dir", help="result cache directory (default: reports/_cache)")
    lst.add_argument("--markdown", action="store_true", help="print the README's claims table (Markdown)")
    lst.set_defaults(func=_list)
    rep = sub.add_parser("report", help="run claims and write an HTML theory-vs-simulation report")
    rep.add_argument("--out", default="reports/latest", help="output directory (default: %(default)s)")
    tier = rep.add_mutually_exclusive_group()
    tier.add_argument("--quick", dest="quick", action="store_true", default=True, help="quick parameter tier (default)")
    tier.add_argument("--full", dest="quick", action="store_false", help="full (slow) parameter tier")
    rep.add_argument("--claims", metavar="PATTERN", help="glob over claim ids (substring if no wildcard)")
    rep.add_argument("--cache-dir", help="result cache directory (default: <out>/../_cache)")
    rep.add_argument("--no-cache", action="store_true", help="ignore and do not write the result cache")
    rep.add_argument(
        "--executor",
        choices=runner.EXECUTORS,
        default="local",
        help="where claims run: local processes (default), Dask distributed, or inline (this process, for debugging)",
    )
    rep.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="Dask scheduler address (with --executor dask; default: start a LocalCluster)",
    )
    rep.add_argument("--workers", type=int, help="local processes or LocalCluster workers (default: CPU count)")
    rep.add_argument(
        "--device", choices=runner.DEVICES, help="JAX device for the simulators (default: JAX's default device)"
    )
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
