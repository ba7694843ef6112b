"""Anomaly scores: the normalised JSD score's anchors and the baselines' textbook values."""

from __future__ import annotations

import math

import pytest
import torch

from dense_ood_ros.model.contract import KNOWN_SCORES
from dense_ood_train.method.scores import (
    SCORES,
    compute_score,
    jsd_score,
    jsd_to_uniform,
    max_jsd_to_uniform,
)


def _logits(values: list[float]) -> torch.Tensor:
    """[K] class values -> logits [1, K, 1, 1]."""
    return torch.tensor(values, dtype=torch.float64).view(1, -1, 1, 1)


def test_jsd_score_is_zero_for_one_hot_and_one_for_uniform() -> None:
    one_hot = _logits([1e4, 0.0, 0.0, 0.0, 0.0])
    uniform = _logits([3.0] * 5)
    assert jsd_score(one_hot).item() == pytest.approx(0.0, abs=1e-6)
    assert jsd_score(uniform).item() == pytest.approx(1.0, abs=1e-6)


def test_jsd_score_is_finite_for_huge_logits() -> None:
    logits = torch.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]]).T.reshape(1, 3, 1, 2)
    score = jsd_score(logits)
    assert torch.isfinite(score).all()
    assert score.min() >= 0.0 and score.max() <= 1.0
    assert score.max().item() == pytest.approx(0.0, abs=1e-6)


def test_jsd_to_uniform_matches_hand_computation() -> None:  # float32 inside: rel 1e-6
    """K = 2, P = (0.75, 0.25): JSD = 0.5 KL(P||M) + 0.5 KL(U||M), M = (0.625, 0.375)."""
    p = (0.75, 0.25)
    m = (0.625, 0.375)
    kl_pm = sum(pi * math.log(pi / mi) for pi, mi in zip(p, m, strict=True))
    kl_um = sum(0.5 * math.log(0.5 / mi) for mi in m)
    logits = _logits([math.log(0.75), math.log(0.25)])
    assert jsd_to_uniform(logits).item() == pytest.approx(0.5 * (kl_pm + kl_um), rel=1e-6)


@pytest.mark.parametrize("k", [2, 5, 19])
def test_max_jsd_is_the_jsd_of_a_one_hot(k: int) -> None:
    one_hot = _logits([1e4] + [0.0] * (k - 1))
    assert jsd_to_uniform(one_hot).item() == pytest.approx(max_jsd_to_uniform(k), rel=1e-6)


def test_jsd_score_grows_towards_uniform() -> None:
    sharp, soft = _logits([4.0, 0.0, 0.0]), _logits([1.0, 0.0, 0.0])
    assert jsd_score(sharp).item() < jsd_score(soft).item()


def test_baselines_match_textbook_definitions() -> None:
    """Logits (ln 2, 0, 0): softmax (1/2, 1/4, 1/4), logsumexp ln 4."""
    logits = _logits([math.log(2.0), 0.0, 0.0])
    assert compute_score("msp", logits).item() == pytest.approx(-0.5)
    assert compute_score("maxlogit", logits).item() == pytest.approx(-math.log(2.0))
    entropy = -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25))
    assert compute_score("entropy", logits).item() == pytest.approx(entropy)
    assert compute_score("energy", logits).item() == pytest.approx(-math.log(4.0))


def test_every_score_is_higher_for_the_more_uncertain_prediction() -> None:
    confident, unsure = _logits([6.0, 0.0, 0.0]), _logits([0.5, 0.0, 0.0])
    for name in SCORES:
        if name == "energy":  # energy also depends on the logits' scale, not only their spread
            continue
        assert compute_score(name, unsure).item() > compute_score(name, confident).item(), name


def test_scores_drop_the_class_dimension_and_reject_unknown_names() -> None:
    logits = torch.randn(2, 4, 3, 5)
    for name in SCORES:
        assert compute_score(name, logits).shape == (2, 3, 5)
    with pytest.raises(ValueError, match="unknown score"):
        compute_score("bogus", logits)


def test_the_trainer_scores_are_the_runtime_contract_scores() -> None:
    """Every score the exporter can put in a model is one the runtime contract knows, and back."""
    assert set(SCORES) == set(KNOWN_SCORES)
