"""benchmarks/adaptive_accuracy.py's headline: how many settings a method needs to reach
maximin-LHS's accuracy at its largest budget."""

from __future__ import annotations

import pytest

from benchmarks.adaptive_accuracy import reach, reach_table


def test_settings_needed_are_interpolated_in_log_esr_between_the_budgets_measured() -> None:
    curve = [(8, 0.4), (16, 0.1), (24, 0.05)]
    assert reach(curve, 0.2) == pytest.approx(12.0)  # 0.2 is halfway from 0.4 to 0.1 in log
    assert reach(curve, 0.05) == pytest.approx(24.0)
    assert reach(curve, 0.5) == 8.0  # there at the first budget
    assert reach(curve, 0.04) is None
    assert reach([(8, 0.3), (16, 0.1), (24, 0.2)], 0.15) < 16  # the first crossing counts


def test_the_table_compares_each_method_with_the_reference_at_its_largest_budget() -> None:
    def row(method: str, budget: int, median: float, seed: int = 0) -> dict:
        return {"gear": "od", "method": method, "budget": str(budget), "training_s": 20.0,
                "recipe": "c4-rf2k", "seed_index": seed, "test_median": median,
                "test_worst": 4 * median}  # fmt: skip

    rows = [row("maximin-lhs", b, e) for b, e in ((8, 0.4), (16, 0.2), (24, 0.1))]
    rows += [row("adaptive", b, e) for b, e in ((8, 0.4), (16, 0.1), (24, 0.05))]
    rows += [row("random", 8, 0.9, s) for s in range(3)] + [row("random", 24, 0.5)]
    rows.append({**row("random", 16, 0.01), "error": "failed"})  # left out
    lines = reach_table(rows)
    assert lines[0].split(" | ")[-3:] == ["adaptive", "maximin-lhs", "random |"]
    median = lines[2].split(" | ")
    assert median[3:] == ["test median", "0.1000 at 24", "16.0 (67%)", "24.0 (100%)",
                          "> 24 (not reached) |"]  # fmt: skip
    assert lines[3].split(" | ")[4] == "0.4000 at 24"  # the worst: its own target
    early = [row("maximin-lhs", 8, 0.4), row("maximin-lhs", 24, 0.1), row("adaptive", 8, 0.05)]
    assert reach_table(early)[2].split(" | ")[5] == "≤ 8 (≤ 33%)"  # there at its first budget
