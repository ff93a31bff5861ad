"""The rule of `medsyn eval icd --choose-on-train` on constructed validation cells whose right choice is known."""

import math

import pytest

from medsyn_hf.errors import MedsynError
from medsyn_hf.evaluation.icd.rule import choose, standard_error


def difference(diff, se, per_seed=None):
    return {"diff": diff, "ci": [diff - 2 * se, diff + 2 * se], "se": se, "per_seed": per_seed or [diff]}


def cell(size, gain, gain_se, acc1=0.0, acc1_se=0.3):
    """A validation cell adding ``size`` synthetic notes; its rare hit@3 and acc@1 differences to real only."""
    return {"size": size, "paired_diff": {"rare_hit3": difference(gain, gain_se), "acc1": difference(acc1, acc1_se)}}


REAL_ONLY = {"size": 0}


def test_gains_within_noise_choose_the_smaller_top_up():
    """README's validation cells (complaint view): K=80 looked 1.4 points better than K=40, with a standard error of
    ~2.4 points. The former rule took K=80; one standard error says K=40."""
    cells = [REAL_ONLY, cell(143, 0.4, 0.4, 0.1), cell(821, 5.4, 2.4, 0.8), cell(1988, 6.8, 2.5, 0.9)]
    decision = choose(cells)
    assert decision["best"] == 3 and decision["chosen"] == 2
    assert decision["threshold"] == pytest.approx(6.8 - 2.5)
    assert [v["within_noise"] for v in decision["verdicts"]] == [False, False, True, True]
    assert choose(cells, rule="largest", max_acc1_drop=1.0)["chosen"] == 3


def test_a_clearly_better_top_up_is_chosen():
    cells = [REAL_ONLY, cell(800, 2.0, 1.0), cell(2000, 9.0, 1.0)]
    assert choose(cells)["chosen"] == 2 == choose(cells, rule="largest")["chosen"]


def test_a_cell_that_costs_acc1_is_excluded():
    """The largest gain loses 2 points of acc@1 (standard error 0.4): beyond noise, so it is not admissible; the
    gain below it, whose acc@1 loss is within noise, is chosen."""
    cells = [REAL_ONLY, cell(800, 5.0, 1.5, acc1=-0.2, acc1_se=0.4), cell(2000, 12.0, 1.5, acc1=-2.0, acc1_se=0.4)]
    decision = choose(cells)
    assert [v["admissible"] for v in decision["verdicts"]] == [True, True, False]
    assert decision["chosen"] == 1 and decision["best"] == 1
    assert choose(cells, max_acc1_drop=2.0)["chosen"] == 2  # an explicit allowance lets it in
    assert choose(cells, rule="largest")["chosen"] == 0  # no noise allowance: the -0.2 loss is excluded too


def test_gains_all_within_noise_of_zero_add_nothing():
    cells = [REAL_ONLY, cell(150, 1.0, 2.0), cell(900, 1.5, 2.2)]
    decision = choose(cells)
    assert decision["chosen"] == 0 and decision["best"] == 2
    assert choose(cells, rule="largest")["chosen"] == 2


def test_equal_sizes_take_the_larger_gain_and_another_metric_can_be_chosen_by():
    """Two views of the same K add as many notes: within noise, the larger gain of the two."""
    cells = [REAL_ONLY, cell(800, 5.0, 2.0), cell(800, 5.5, 2.0), cell(1600, 6.0, 2.0)]
    assert choose(cells)["chosen"] == 2
    for c, macro in zip(cells[1:], (1.0, 4.0, 9.0)):
        c["paired_diff"]["macro_hit3"] = difference(macro, 0.5)
    assert choose(cells, metric="macro_hit3")["chosen"] == 3


def test_standard_error_joins_the_bootstrap_and_the_seeds():
    assert standard_error(difference(2.0, 0.3, [1.0, 2.0, 3.0])) == pytest.approx(math.sqrt(0.3**2 + 1.0 / 3))
    assert standard_error(difference(2.0, 0.3)) == pytest.approx(0.3)  # one seed: the bootstrap alone
    assert standard_error({"diff": 1.0, "ci": None, "se": None, "per_seed": [1.0, 1.0]}) == 0


def test_bad_rules_and_missing_scores_are_errors():
    cells = [REAL_ONLY, cell(100, 1.0, 1.0)]
    with pytest.raises(MedsynError, match="unknown choice rule 'best'"):
        choose(cells, rule="best")
    with pytest.raises(MedsynError, match="no 'rare_acc1' to choose by"):
        choose(cells, metric="rare_acc1")
    with pytest.raises(MedsynError, match="at least 0"):
        choose(cells, max_acc1_drop=-1)


def test_paired_se_judges_noise_on_the_difference_to_the_best():
    """K=40 and K=80 gain 5.4 and 6.8 (each ± 2.4 against real only). If their paired difference, 1.4, is ± 0.5 (the
    two top-ups share most notes and err alike), K=80 is better beyond noise; if it is ± 2.0, K=40 is within noise."""
    cells = [REAL_ONLY, cell(821, 5.4, 2.4, 0.8), cell(1988, 6.8, 2.4, 0.9)]
    asked = []

    def versus(se):
        def paired(i, j):
            asked.append((i, j))
            gains = [0.0, 5.4, 6.8]
            return difference(gains[j] - gains[i], se)

        return paired

    tight = choose(cells, rule="paired-se", versus=versus(0.5))
    assert tight["chosen"] == 2 and tight["threshold"] is None
    assert tight["verdicts"][1]["below_best"] == pytest.approx(1.4) and not tight["verdicts"][1]["within_noise"]
    assert set(asked) == {(0, 2), (1, 2)}  # each admissible cell against the best, never the best against itself
    assert choose(cells, rule="paired-se", versus=versus(2.0))["chosen"] == 1
    with pytest.raises(MedsynError, match="paired-se rule needs"):
        choose(cells, rule="paired-se")
