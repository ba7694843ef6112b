"""The normalizing flow: invertibility, exact log-determinant, any-size sampling, learning."""

from __future__ import annotations

import math

import pytest
import torch

from dense_ood_train.models.flow import Glow


def _perturbed_flow(lu: bool, seed: int = 0) -> Glow:
    """A flow whose couplings are not the identity (zero-initialised outputs perturbed)."""
    torch.manual_seed(seed)
    flow = Glow(levels=2, steps_per_level=2, hidden=8, lu=lu).double()
    flow.initialize(torch.randint(0, 256, (4, 3, 8, 8)).double())
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return flow


@pytest.mark.parametrize("lu", [False, True])
def test_encode_decode_reconstructs(lu: bool) -> None:
    flow = _perturbed_flow(lu)
    x = torch.rand(3, 3, 16, 24, dtype=torch.double)
    latents, _ = flow.encode(x)
    assert (flow.decode(latents) - x).abs().max().item() < 1e-4


@pytest.mark.parametrize("lu", [False, True])
def test_logdet_matches_brute_force_jacobian(lu: bool) -> None:
    flow = _perturbed_flow(lu)
    x = torch.rand(1, 3, 4, 8, dtype=torch.double)

    def to_latent(flat: torch.Tensor) -> torch.Tensor:
        latents, _ = flow.encode(flat.view(1, 3, 4, 8))
        return torch.cat([z.flatten() for z in latents])

    jacobian = torch.autograd.functional.jacobian(to_latent, x.flatten())
    assert jacobian.shape == (96, 96)
    brute = torch.linalg.slogdet(jacobian)[1].item()
    _, logdet = flow.encode(x)
    assert logdet.item() == pytest.approx(brute, abs=1e-6)


@pytest.mark.parametrize("size", [(8, 8), (16, 40), (24, 8)])
def test_sample_has_requested_size(size: tuple[int, int]) -> None:
    flow = Glow(levels=3, steps_per_level=1, hidden=8)
    assert flow.scale_factor == 8
    sample = flow.sample(2, *size, temperature=0.7)
    assert sample.shape == (2, 3, *size)
    assert torch.isfinite(sample).all()


def test_sizes_not_divisible_by_scale_factor_are_refused() -> None:
    flow = Glow(levels=2, steps_per_level=1, hidden=8)
    with pytest.raises(ValueError, match="multiples of 4"):
        flow.sample(1, 6, 8)


def test_bits_per_dim_learns_inliers_over_noise() -> None:
    """A few steps of maximum likelihood on smooth 'inlier' crops put noise above them."""
    torch.manual_seed(0)

    def inliers(n: int) -> torch.Tensor:
        base = torch.rand(n, 3, 1, 1) * 160 + 40
        ramp = torch.linspace(-20, 20, 16).view(1, 1, 1, 16)
        return (base + ramp + 4 * torch.randn(n, 3, 16, 16)).clamp(0, 255).round()

    flow = Glow(levels=2, steps_per_level=2, hidden=16)
    flow.initialize(inliers(16))
    optimizer = torch.optim.Adamax(flow.parameters(), lr=3e-3)
    for _ in range(30):
        loss = flow.bits_per_dim(inliers(16)).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        inlier_bpd = flow.bits_per_dim(inliers(32)).mean().item()
        noise_bpd = flow.bits_per_dim(torch.randint(0, 256, (32, 3, 16, 16))).mean().item()
    assert math.isfinite(inlier_bpd)
    assert inlier_bpd < noise_bpd - 1.0


def test_sampling_stays_finite_for_a_badly_conditioned_flow() -> None:
    """Bounded coupling scales: even far-from-trained weights cannot overflow the inverse."""
    torch.manual_seed(0)
    flow = Glow(levels=3, steps_per_level=4, hidden=16)
    with torch.no_grad():
        for module in flow.modules():
            if isinstance(module, torch.nn.Conv2d):
                module.weight.normal_(0.0, 1.0)
    sample = flow.sample(4, 32, 32, temperature=1.0)
    assert torch.isfinite(sample).all()
    _, logdet = flow.encode(torch.rand(2, 3, 32, 32))
    assert torch.isfinite(logdet).all()


def test_learned_prior_inverts_and_samples_match_its_density() -> None:
    """Samples at temperature T, encoded back, are N(mu(h), (T sigma(h))^2) under the prior's
    own context-dependent parameters: sampling and log_prob use the same conditioning."""
    torch.manual_seed(0)
    flow = Glow(levels=3, steps_per_level=1, hidden=8, learned_prior=True).double()
    flow.initialize(torch.randint(0, 256, (4, 3, 16, 16)).double())
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.1 * torch.randn_like(p))
    x = torch.rand(2, 3, 16, 24, dtype=torch.double)
    latents, _ = flow.encode(x)
    assert (flow.decode(latents) - x).abs().max().item() < 1e-4
    temperature = 0.6
    with torch.no_grad():
        sample = flow.sample(64, 16, 16, temperature=temperature)
        outputs = flow._levels_forward(sample)
    level, (h, z, _) = flow.levels[0], outputs[0]
    mean, log_scale = level.prior.mean_log_scale(h)
    assert log_scale.std() > 0  # the context really moves the prior
    normalised = (z - mean) * torch.exp(-log_scale)
    assert normalised.std().item() == pytest.approx(temperature, rel=0.05)
