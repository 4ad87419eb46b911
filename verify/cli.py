"""Command line: ``dltheory list`` shows the claims, ``dltheory report`` runs them and renders the report.

``dltheory list --resolution`` adds each claim's measured resolution from the result cache (the last
``dltheory report`` of this code version), next to the bound it declares. ``dltheory show CLAIM`` prints one
claim: its formulas, reference, parameters, controls and last cached evidence; ``dltheory check CLAIM`` runs it
and prints its checks and resolution.

Exit codes of ``report`` and ``check``: 0 every claim holds (its controls rejected, its resolution within its
bound), 1 some claim failed or errored, 2 bad input (an unknown claim id, a pattern matching no claim, a bad seed,
an unwritable directory, an unreachable scheduler, a device JAX cannot see), with nothing written, 130 interrupted
(finished claims stay cached: rerun to resume).
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import shutil
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from pathlib import Path

from dltheory.verify import cache, registry, report, runner
from dltheory.verify.evidence import ClaimResult, Evidence, percent

SEED_MAX = 2**63 - 1  # seeds are non-negative integers numpy's SeedSequence accepts; the cap keeps them int64

__all__ = ["main", "claims_markdown"]


# --- argument types: a bad value is an argparse error naming the argument (exit 2, no traceback) -------------


def _claim_id(text: str) -> registry.Claim:
    """A registered claim id; an unknown one lists the closest known ids."""
    known = [c.id for c in registry.all_claims()]
    if text in known:
        return registry.get(text)
    close = difflib.get_close_matches(text, known, n=4, cutoff=0.5) or [k for k in known if text in k][:4]
    hint = f"did you mean {', '.join(close)}?" if close else "see `dltheory list` for the claim ids"
    raise argparse.ArgumentTypeError(f"unknown claim {text!r}; {hint}")


def _seed(text: str) -> int:
    """A seed: an integer in [0, 2^63 - 1]."""
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seed must be an integer in [0, {SEED_MAX}], got {text!r}") from None
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"seed must be an integer in [0, {SEED_MAX}], got {value}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {value}")
    return value


def _writable(flag: str, path: str | os.PathLike | None) -> None:
    """Raise ValueError naming ``flag`` unless ``path`` is (or can be created as) a writable directory."""
    if path is None:
        return
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ValueError(f"argument {flag}: cannot write to directory {str(path)!r}: {exc.strerror or exc}") from None


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
    if args.scheduler is not None and args.executor != "dask":  # before any directory is created
        raise ValueError("argument --scheduler: needs --executor dask")
    dirs = [("--out", Path(args.out))]
    if not args.no_cache:
        dirs.append(
            ("--cache-dir", Path(args.cache_dir) if args.cache_dir is not None else Path(args.out).parent / "_cache")
        )
    made = [d for _, d in dirs if not d.exists()]
    try:
        for flag, d in dirs:
            _writable(flag, d)
    except ValueError:
        for d in made:  # leave nothing behind: remove the (empty) directories this check created
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()
        raise
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


def _formula_text(c: registry.Claim, params: dict) -> list[str]:
    """Each prediction's formulas as sympy's pretty (unicode) text, indented under the prediction's name."""
    try:
        formulas = c.formulas_for(params)
    except (TypeError, ValueError) as exc:  # a defect of the claim: say so, show the rest
        return [f"  (formulas could not be rendered: {type(exc).__name__}: {exc})"]
    if not formulas:
        return ["  (no closed-form formula declared)"]
    import sympy

    lines = []
    for name, exprs in formulas.items():
        lines.append(f"  {name}:")
        lines += ["      " + row for e in exprs for row in sympy.pretty(e, use_unicode=True).splitlines()]
    return lines


def _checks_lines(ev: Evidence) -> list[str]:
    """One line per check: pass/FAIL, name, the pass condition with its numbers."""
    return [f"    [{'pass' if k.passed else 'FAIL'}] {k.name}: {report.condition(k)}" for k in ev.checks]


def _result_lines(result: ClaimResult) -> list[str]:
    lines = [f"  published: {'PASS' if result.evidence.passed else 'FAIL'} (seed {result.evidence.seed})"]
    lines += _checks_lines(result.evidence)
    for ev in result.controls:
        lines.append(f"  control '{ev.prediction}': {'ACCEPTED (bad)' if ev.passed else 'REJECTED'}")
        lines += _checks_lines(ev)
    lo, hi = result.resolution
    measured = (
        "not measured (the published prediction failed)"
        if math.isnan(lo)
        else (f"{percent(result.resolution_delta)} (rejects 1 - {percent(lo)} and 1 + {percent(hi)})")
    )
    lines.append(f"  resolution: {measured}; declared bound {percent(result.resolution_bound)}")
    lines.append(f"  verdict: {'PASS' if result.ok else 'FAIL'}")
    return lines


def _show(args: argparse.Namespace) -> int:
    c = args.claim
    urls = [f"https://arxiv.org/abs/{i}" for i in report.arxiv_ids(c.reference)]
    lines = [
        f"{c.id}  ({c.area})",
        c.title,
        "",
        f"reference: {c.reference}",
        *(f"  {u}" for u in urls),
        "",
        "formulas:",
        *_formula_text(c, c.params(True)),
        "",
        "controls (each must be rejected):",
        *(f"  - {name}" for name in c.controls),
        f"resolution: declared <= {percent(c.resolution)}",
        f"seed: {c.seed}",
        "",
        "parameters (quick tier):",
        *(f"  {k} = {json.dumps(v, default=repr)}" for k, v in c.params(True).items()),
    ]
    if c.full != c.quick:
        lines += [
            "parameters (full tier, --full):",
            *(f"  {k} = {json.dumps(v, default=repr)}" for k, v in c.full.items()),
        ]
    cache_dir = args.cache_dir or "reports/_cache"
    hit = cache.lookup(c, quick=True, cache_dir=cache_dir)
    lines.append("")
    if hit is None:
        lines.append(f"last evidence: none in {cache_dir} for this code version (run `dltheory check {c.id}`)")
    else:
        lines += [f"last evidence (quick tier, cached in {cache_dir}):", *_result_lines(hit)]
    print("\n".join(lines))
    return 0


def _check(args: argparse.Namespace) -> int:
    c = args.claim
    runner.check_device(args.device)
    result = runner.run_one(c.id, not args.full, c.seed if args.seed is None else args.seed, args.device)
    if args.json:
        print(json.dumps({"claim": c.id, "verdict": "PASS" if result.ok else "FAIL", **result.to_dict()}, default=repr))
    else:
        tier = "full" if args.full else "quick"
        print("\n".join([f"{c.id} ({tier} tier): {c.title}", *_result_lines(result)]))
    return 0 if result.ok else 1


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
    rep.add_argument(
        "--workers", type=_positive_int, help="local processes or LocalCluster workers (default: CPU count)"
    )
    rep.add_argument(
        "--device", choices=runner.DEVICES, help="JAX device for the simulators (default: JAX's default device)"
    )
    rep.set_defaults(func=_report)
    show = sub.add_parser("show", help="print one claim: formulas, reference, parameters, controls, last evidence")
    show.add_argument("claim", metavar="CLAIM", type=_claim_id, help="claim id (see `dltheory list`)")
    show.add_argument("--cache-dir", help="result cache to read the last evidence from (default: reports/_cache)")
    show.set_defaults(func=_show)
    chk = sub.add_parser("check", help="run one claim and print its checks and resolution (exit 0 PASS, 1 FAIL)")
    chk.add_argument("claim", metavar="CLAIM", type=_claim_id, help="claim id (see `dltheory list`)")
    chk.add_argument("--seed", type=_seed, help="seed (default: the claim's registered seed)")
    chk.add_argument("--full", action="store_true", help="full (slow) parameter tier instead of the quick one")
    chk.add_argument("--json", action="store_true", help="print the result as JSON")
    chk.add_argument("--device", choices=runner.DEVICES, help="JAX device (default: JAX's default device)")
    chk.set_defaults(func=_check)
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
