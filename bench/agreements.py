"""Agreement policy and CEL benchmark: the cost of a decision, of CEL, and of the risk
language against CEL for the same rules (no database: these are the per-record costs).

Run: .venv/bin/python bench/agreements.py [--records 20000] [--json]
In one run, side by side:
  - today's declaration view (access.view_of + declarations.service.view_out) against the
    agreement path (declaration_record + policy.decide over the shipped defaults of every
    crossing + filter_document + DeclarationOut) on pre-arrival reads, where agreements apply;
  - a CEL condition: compile + check on save, evaluation per record (common-expression-language;
    cel-python too when it is installed, for the choice of package);
  - two risk criteria in the selectivity language (per record and vectorised over columns)
    against the same rules in CEL, per record; results compared for equality.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from types import SimpleNamespace
from typing import Any

import numpy as np

from silkgate.codelists.crossings import load_crossings
from silkgate.declarations.access import View, view_of
from silkgate.declarations.models import Declaration
from silkgate.declarations.schemas import DeclarationOut
from silkgate.declarations.service import view_out
from silkgate.demo.traffic import TrafficGenerator
from silkgate.exchange.agreements import conditions
from silkgate.exchange.agreements.defaults import condition as default_condition
from silkgate.exchange.agreements.defaults import default_row
from silkgate.exchange.agreements.fields import filter_document
from silkgate.exchange.agreements.policy import activation, decide, for_caller
from silkgate.exchange.agreements.records import declaration_record
from silkgate.exchange.agreements.service import rule_of
from silkgate.registry.service import Caller
from silkgate.risk.selectivity.expressions import compile_rule

NOW = datetime(2026, 3, 1, tzinfo=UTC)
RISK_RULES = [
    ('hs6 = "080810" and origin = "US"', 'hs6 == "080810" && origin == "US"'),
    (
        'hs_code startswith ["8703", "8704"] and not (origin in ["KZ", "CN"]) and unit_value < 0.5',
        '(hs_code.startsWith("8703") || hs_code.startsWith("8704")) '
        '&& !(origin in ["KZ", "CN"]) && unit_value < 0.5',
    ),
]


def per_call_us(fn: Callable[[], Any], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n * 1e6


def loop_us(fn: Callable[[Any], Any], items: list[Any]) -> float:
    started = time.perf_counter()
    for x in items:
        fn(x)
    return (time.perf_counter() - started) / len(items) * 1e6


def declarations(n: int) -> list[Declaration]:
    gen = TrafficGenerator(seed=5)
    out = []
    for i in range(n):
        body = gen.declaration()
        c = body["crossing"]
        out.append(
            Declaration(
                id=f"01J{i:021d}",
                declarant_org_id=1,
                declarant="CN/COM/91650000BROKER001",
                lrn=body["lrn"],
                type=random.choice(["export", "transit"]),
                status="accepted",
                version=1,
                crossing_code=c["code"],
                exit_country=c["exit_country"],
                entry_country=c["entry_country"],
                submitted_at=NOW,
                updated_at=NOW,
                lane="green",
                payload=body,
            )
        )
    return out


def policy(records: int) -> dict[str, float]:
    random.seed(5)
    decls = declarations(min(records, 5000))
    rules = [
        rule_of(default_row(c.code, x, y, False, 1))
        for c in load_crossings()
        for x, y in (c.countries, c.countries[::-1])
    ]
    platform: Any = SimpleNamespace(settings=SimpleNamespace(share_driver_data_across_border=False))

    def reader(d: Declaration) -> Caller:
        return Caller(2, f"{d.entry_country}/GOV/CUSTOMS", d.entry_country,
                      frozenset({"customs"}), frozenset({d.crossing_code}))  # fmt: skip

    pairs = [(reader(d), d) for d in decls]
    # a read filters the active rules to the caller once (policy.for_caller), then decides
    # each record of its list against what remains
    mine = {c.country: for_caller(c, rules) for c, _ in pairs}
    assert all(view_of(c, d) is View.PRE_ARRIVAL for c, d in pairs)

    def today(p: tuple[Caller, Declaration]) -> dict[str, Any]:
        c, d = p
        return view_out(platform, c, d, view_of(c, d)).model_dump(mode="json")

    def agreed(p: tuple[Caller, Declaration]) -> dict[str, Any]:
        c, d = p
        got = decide(c, "customs_control", c.country, declaration_record(d), mine[c.country], NOW)
        full = view_out(platform, c, d, View.FULL).model_dump(mode="json")
        shown = filter_document(full, got.fields)
        shown["pre_arrival"] = True
        return shown

    def same(p: tuple[Caller, Declaration]) -> bool:
        return DeclarationOut.model_validate(agreed(p)).model_dump(mode="json") == today(p)

    assert all(same(p) for p in pairs[:200])
    c0, d0 = pairs[0]
    rec0 = declaration_record(d0)
    out: dict[str, float] = {}
    for _ in range(2):  # the second round is reported (warm caches)
        out = {
            "today_view_us": loop_us(today, pairs),
            "agreement_view_us": loop_us(agreed, pairs),
            "decide_only_us": loop_us(
                lambda p: decide(
                    p[0],
                    "customs_control",
                    p[0].country,
                    declaration_record(p[1]),
                    mine[p[0].country],
                    NOW,
                ),
                pairs,
            ),
            "activation_us": per_call_us(
                lambda: activation(c0, "customs_control", "KZ", rec0, NOW), 20000
            ),
            "rules": float(len(rules)),
        }
    out["ratio"] = out["agreement_view_us"] / out["today_view_us"]
    return out


def cel(records: int) -> dict[str, float]:
    source = default_condition("KZ")
    act = activation(
        Caller(2, "KZ/GOV/X", "KZ", frozenset({"customs"}), frozenset({"KHG-NZH"})),
        "customs_control",
        "KZ",
        declaration_record(declarations(1)[0]),
        NOW,
    )

    def fresh_check() -> None:
        conditions._compiled.cache_clear()
        conditions.check(source)

    program = conditions._compiled(source)
    used = {k: act[k] for k in program.variables()}

    def fresh_eval() -> None:
        conditions._MEMO.clear()
        conditions.evaluate(source, act)

    out = {
        "check_on_save_us": per_call_us(fresh_check, 300),
        "eval_rust_full_activation_us": per_call_us(lambda: program.execute(dict(act)), records),
        "eval_rust_used_variables_us": per_call_us(lambda: program.execute(used), records),
        "evaluate_unmemoised_us": per_call_us(fresh_eval, records),
        "evaluate_memoised_us": per_call_us(lambda: conditions.evaluate(source, act), records),
    }
    try:
        import celpy

        env = celpy.Environment()
        prog = env.program(env.compile(source))
        plain = {k: v for k, v in act.items() if k != "now"}
        out["eval_celpy_us"] = per_call_us(lambda: prog.evaluate(celpy.json_to_cel(plain)), 2000)
    except ImportError:
        pass
    return out


def risk_vs_cel(records: int) -> list[dict[str, float]]:
    rng = random.Random(7)
    hs = ["080810", "870321", "870421", "610910", "847130", "080810"]
    rows = []
    for _ in range(records):
        code = rng.choice(hs) + f"{rng.randint(0, 9999):04d}"
        rows.append(
            {
                "hs_code": code,
                "hs6": code[:6],
                "origin": rng.choice(["US", "CN", "KZ", "DE", "JP"]),
                "unit_value": round(rng.uniform(0.01, 3.0), 3),
            }
        )
    cols = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    out: list[dict[str, float]] = []
    for ours, theirs in RISK_RULES:
        rule = compile_rule(ours)
        program = conditions._compiled(theirs)
        same = all(rule.matches(r) == program.execute(r) for r in rows[:2000])
        started = time.perf_counter()
        rule.matches_columns(cols, len(rows))
        vec = (time.perf_counter() - started) / len(rows) * 1e6
        out.append(
            {
                "rule": float(len(out) + 1),
                "same_results": float(same),
                "compile_risk_us": per_call_us(partial(compile_rule, ours), 300),
                "compile_cel_us": per_call_us(partial(conditions.cel.compile, theirs), 300),
                "risk_per_record_us": loop_us(rule.matches, rows),
                "risk_vectorised_us": vec,
                "cel_per_record_us": loop_us(program.execute, rows),
            }
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=20000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    load = os.getloadavg()
    result: dict[str, Any] = {
        "load_before": load[0],
        "policy": policy(args.records),
        "cel": cel(args.records),
        "risk_vs_cel": risk_vs_cel(args.records),
        "load_after": os.getloadavg()[0],
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    p, c = result["policy"], result["cel"]
    print(
        f"load average (1 min): {result['load_before']:.2f} before, {result['load_after']:.2f} after"
    )
    print(f"pre-arrival view, per declaration: today {p['today_view_us']:.1f} µs, "
          f"agreements {p['agreement_view_us']:.1f} µs (×{p['ratio']:.2f}); "
          f"decide alone {p['decide_only_us']:.1f} µs ({int(p['rules'])} rules, filtered per "
          f"caller); "
          f"activation {p['activation_us']:.2f} µs")  # fmt: skip
    line = (
        f"CEL: check on save {c['check_on_save_us']:.0f} µs; eval with the whole activation "
        f"{c['eval_rust_full_activation_us']:.2f} µs, with the variables it reads "
        f"{c['eval_rust_used_variables_us']:.2f} µs; evaluate() {c['evaluate_unmemoised_us']:.2f}"
        f" µs unmemoised, {c['evaluate_memoised_us']:.2f} µs memoised"
    )
    if "eval_celpy_us" in c:
        line += f" (cel-python {c['eval_celpy_us']:.0f} µs)"
    print(line)
    for r in result["risk_vs_cel"]:
        print(f"risk rule {int(r['rule'])}: same results {bool(r['same_results'])}; compile "
              f"{r['compile_risk_us']:.0f} µs vs CEL {r['compile_cel_us']:.0f} µs; per record "
              f"{r['risk_per_record_us']:.2f} µs (vectorised {r['risk_vectorised_us']:.3f} µs) "
              f"vs CEL {r['cel_per_record_us']:.2f} µs")  # fmt: skip


if __name__ == "__main__":
    main()
