"""Loss functions on hand-computable cases, and the shared gradient penalty."""
import math

import pytest
import torch

from common.gradient_penalty import gradient_penalty
from conftest import load_module, needs_cuda


@pytest.mark.parametrize("folder", ["simple_gan", "dcgan"])  # the BCE family; critics: test_wgan_family
def test_gan_losses_by_hand(folder):
    u = load_module(folder, "utils")
    zero = torch.zeros(4)
    # D(x) = D(G(z)) = sigmoid(0) = 1/2:  L_D = −log ½ − log(1 − ½) = 2 ln 2,  L_G = −log ½ = ln 2
    assert u.d_loss(zero, zero).item() == pytest.approx(2 * math.log(2))
    assert u.g_loss(zero).item() == pytest.approx(math.log(2))
    # logit 2 → D = sigmoid(2):  L_D = −log σ(2) − log(1 − σ(−2)) = 2·log(1 + e^{−2})
    s = torch.full((3,), 2.0)
    assert u.d_loss(s, -s).item() == pytest.approx(2 * math.log1p(math.exp(-2)))
    # non-saturating G loss: −log σ(−5) = log(1 + e^5), large where D rejects fakes confidently
    assert u.g_loss(torch.full((2,), -5.0)).item() == pytest.approx(math.log1p(math.exp(5)))


def linear_critic(w):
    return lambda x: x.flatten(1) @ w


@pytest.mark.parametrize("norm", [0.3, 1.0, 2.5])
def test_gradient_penalty_on_linear_critic(norm):
    """f(x) = w·x has ∇f = w everywhere, so GP = (‖w‖ − 1)² whatever the points (paper, Algorithm 1)."""
    torch.manual_seed(0)
    w = torch.randn(3 * 4 * 4)
    w = w / w.norm() * norm
    real, fake = torch.randn(8, 3, 4, 4), torch.randn(8, 3, 4, 4)
    gp = gradient_penalty(linear_critic(w), real, fake)
    assert gp.item() == pytest.approx((norm - 1) ** 2, abs=1e-5)
    if norm == 1.0:
        assert gp.item() < 1e-10  # a 1-Lipschitz linear critic is not penalised


def test_gradient_penalty_trains_the_critic_and_passes_extra_inputs():
    """Gradient reaches the critic's weights (double backward), and extra critic inputs pass through."""
    critic = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    seen = {}

    def conditional(x, labels, scale=1.0):
        seen["labels"], seen["scale"] = labels, scale
        return critic(x) * scale

    real, fake = torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2, requires_grad=True)
    gp = gradient_penalty(conditional, real, fake, torch.arange(4), scale=3.0)
    gp.backward()
    assert gp.item() > 0
    assert critic[1].weight.grad is not None and critic[1].weight.grad.abs().sum() > 0
    assert fake.grad is None  # fakes are detached: the penalty does not train G
    assert seen["labels"].tolist() == [0, 1, 2, 3] and seen["scale"] == 3.0


def test_gradient_penalty_interpolates_per_sample():
    """With ε given, x̂ = ε·x + (1 − ε)·x̃ per sample: a critic f(x) = Σ x² has ∇ = 2x̂, checkable by hand."""
    real, fake = torch.ones(2, 1, 1, 1), torch.zeros(2, 1, 1, 1)
    eps = torch.tensor([0.25, 1.0])
    gp = gradient_penalty(lambda x: (x ** 2).flatten(1).sum(1), real, fake, eps=eps)
    # x̂ = [0.25, 1.0] → ‖∇‖ = [0.5, 2.0] → mean((‖∇‖ − 1)²) = (0.25 + 1) / 2
    assert gp.item() == pytest.approx(0.625)


def test_gradient_penalty_under_bf16_autocast_is_fp32_nonzero_and_has_gradient():
    """Under --amp bf16 the penalty still equals the fp32 value and still trains the critic (double backward)."""
    critic = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 1))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        gp = gradient_penalty(critic, torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2))
    w = critic[1].weight.detach().clone()
    assert gp.dtype == torch.float32
    assert gp.item() > 0 and gp.item() == pytest.approx((w.norm().item() - 1) ** 2, rel=1e-5)
    gp.backward()
    # ∂(‖w‖ − 1)²/∂w = 2(‖w‖ − 1)·w/‖w‖
    expected = 2 * (w.norm() - 1) * w / w.norm()
    assert torch.allclose(critic[1].weight.grad, expected, rtol=1e-4, atol=1e-6)


def test_relativistic_losses_by_hand():
    """Real scores C(x_r) = [1, 3], fake C(x_f) = [0, 2]: E C(x_r) = 2, E C(x_f) = 1, so C(x_r) − E C(x_f) = [0, 2]
    and C(x_f) − E C(x_r) = [−2, 0]. RaLSGAN: D ½[((−1)² + 1²)/2 + (1² + (−1)²)/2] = 1, G ½[(9 + 1)/2 +
    (1 + 9)/2] = 5. RaHinge: D ½[(1 + 0)/2 + (0 + 1)/2] = ½, G ½[(3 + 1)/2 + (1 + 3)/2] = 2. RSGAN and RaSGAN at
    equal scores: every pair is a coin toss, log 2 for both nets."""
    utils = load_module("ralsgan", "utils")
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 2.0])
    assert [v.item() for v in utils.ralsgan(real, fake)] == [1.0, 5.0]
    assert [v.item() for v in utils.rahinge(real, fake)] == [0.5, 2.0]
    same = torch.tensor([0.7, 0.7])
    for loss in (utils.rsgan, utils.rasgan):
        assert [v.item() for v in loss(same, same)] == pytest.approx([math.log(2)] * 2)
    d, g = utils.rsgan(torch.tensor([4.0]), torch.tensor([0.0]))  # C(x_r) − C(x_f) = 4: −log σ(4), −log σ(−4)
    assert (d.item(), g.item()) == pytest.approx((math.log1p(math.exp(-4)), math.log1p(math.exp(4))))
    d, g = utils.rasgan(real, fake)  # ½[−log σ(C(x_r) − E C(x_f)) − log(1 − σ(C(x_f) − E C(x_r)))], and for G swapped
    nll = lambda x: math.log1p(math.exp(-x))  # noqa: E731  −log σ(x)
    assert d.item() == pytest.approx(0.5 * ((nll(0) + nll(2)) / 2 + (nll(2) + nll(0)) / 2))
    assert g.item() == pytest.approx(0.5 * ((nll(-2) + nll(0)) / 2 + (nll(0) + nll(-2)) / 2))
    assert set(utils.LOSSES) == {"rsgan", "rasgan", "ralsgan", "rahinge"}


def test_least_squares_losses_by_hand():
    """D(x) = [1, 2], D(G(z)) = [0, 1]. Coding 0-1-1: L_D = ½·mean(0², 1²) + ½·mean(0², 1²) = ½, L_G = ½·mean(1², 0²)
    = ¼. Pearson (a −1, b 1, c 0): L_D = ½·mean(0², 1²) + ½·mean(1², 2²) = 1.5, L_G = ½·mean(0², 1²) = ¼."""
    utils = load_module("lsgan", "utils")
    real, fake = torch.tensor([1.0, 2.0]), torch.tensor([0.0, 1.0])
    a, b, c = utils.CODINGS["0-1-1"]
    assert (utils.d_loss(real, fake, a, b).item(), utils.g_loss(fake, c).item()) == (0.5, 0.25)
    a, b, c = utils.CODINGS["pearson"]
    assert (a, b, c) == (-1, 1, 0) and b - c == 1 and b - a == 2  # the paper's conditions for Pearson χ²
    assert (utils.d_loss(real, fake, a, b).item(), utils.g_loss(fake, c).item()) == (1.5, 0.25)


def test_infogan_information_term_by_hand():
    """A Q that knows nothing (uniform over the 10 values) has E[−log Q(c1|x)] = log 10, so L_I's categorical
    part H(c1) − log 10 is 0; a continuous code predicted exactly with σ = 1 costs ½ log 2π per code; with a
    learned σ = 2 and an error of 2, ½ log 2π + log 2 + ½. The Hungarian matching finds a permuted labelling."""
    utils = load_module("infogan", "utils")
    cfg = {"noise_dim": 62, "n_cat": 10, "n_cont": 2}
    latent, cat, cont = utils.sample_latent(50, cfg, "cpu", torch.Generator().manual_seed(0))
    assert latent.shape == (50, 74) and latent.min() >= -1 and latent.max() <= 1
    assert torch.equal(latent[:, 62:72].argmax(1), cat) and torch.equal(latent[:, 72:], cont)
    cat_nll, cont_nll = utils.info_loss((torch.zeros(50, 10), cont.clone(), None), cat, cont)
    assert cat_nll.item() == pytest.approx(math.log(10)) and cont_nll.item() == pytest.approx(math.log(2 * math.pi))
    mi = utils.mutual_information_bound(cat_nll, cont_nll, cfg)
    assert mi.item() == pytest.approx(2 * math.log(2) - math.log(2 * math.pi))  # categorical part 0
    _, learned = utils.info_loss((torch.zeros(50, 10), cont - 2, torch.full_like(cont, math.log(2))), cat, cont)
    assert learned.item() == pytest.approx(2 * (0.5 * math.log(2 * math.pi) + math.log(2) + 0.5))
    perm = torch.tensor([3, 1, 4, 0, 5, 9, 2, 6, 8, 7])
    codes = torch.arange(10).repeat(10)
    error, mapping = utils.categorical_match_error(perm[codes], codes)
    assert error == 0 and mapping == {c: int(perm[c]) for c in range(10)}
    noisy = perm[codes].clone()
    noisy[:10] = (noisy[:10] + 1) % 10  # one sample of each code read as another digit
    assert utils.categorical_match_error(noisy, codes)[0] == pytest.approx(0.1)


def test_acgan_losses_by_hand():
    """Logits 0 for the source (p = ½) and uniform class logits over 10: D's loss is 2·log 2 (source) + 2·log 10
    (class, on real and on fake images), G's log 2 + log 10. A D certain of source and class costs about 0."""
    utils = load_module("acgan", "utils")
    zeros, labels = torch.zeros(4), torch.tensor([0, 3, 5, 9])
    total, classes = utils.d_loss(zeros, zeros, torch.zeros(4, 10), torch.zeros(4, 10), labels, labels)
    assert (total.item(), classes.item()) == pytest.approx((2 * math.log(2) + 2 * math.log(10), 2 * math.log(10)))
    assert utils.g_loss(zeros, torch.zeros(4, 10), labels).item() == pytest.approx(math.log(2) + math.log(10))
    sure = torch.nn.functional.one_hot(labels, 10).float() * 30
    total, _ = utils.d_loss(torch.full((4,), 30.0), torch.full((4,), -30.0), sure, sure, labels, labels)
    assert total.item() < 1e-10


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=needs_cuda)])
def test_bf16_gradient_penalty_matches_fp32_on_the_wgan_gp_critic(device):
    """wgan_gp's --gp_precision bf16 (the critic's pass and both backwards under bf16 autocast, the norm in fp32):
    on wgan_gp's own critic, at init and after 12 critic steps, the penalty is within 1% of the fp32 penalty and
    its gradient for the critic's weights points the same way (cosine > 0.999) with the same length (2%). The
    values differ (bf16 did run). Here on the CPU: 0.24% apart at init, 0.002% after 12 steps (within 0.14% on the
    default critic at batch 64, docs/speed.md)."""
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False  # fp32 is fp32 on a GPU too
    m = load_module("wgan_gp", "model")
    torch.manual_seed(0)
    C = m.Critic(3, ndf=32).to(device)
    C.apply(m.init_weights)
    opt = torch.optim.Adam(C.parameters(), 1e-3, betas=(0.0, 0.9))
    real = torch.nn.functional.interpolate(torch.rand(16, 3, 8, 8) * 2 - 1, size=64, mode="bilinear").to(device)
    fake = (torch.rand(16, 3, 64, 64) * 2 - 1).to(device)
    eps = torch.rand(16).to(device)
    for step in range(13):
        if step in (0, 12):
            measured = {}
            for dtype in (torch.float32, torch.bfloat16):
                C.zero_grad()
                gp = gradient_penalty(C, real, fake, eps=eps, dtype=dtype)
                gp.backward()
                assert gp.dtype == torch.float32
                measured[dtype] = gp.item(), torch.cat([p.grad.flatten() for p in C.parameters()]).double()
            (gp32, g32), (gp16, g16) = measured[torch.float32], measured[torch.bfloat16]
            assert 0 < abs(gp16 - gp32) / gp32 < 1e-2, (step, gp32, gp16)
            assert torch.nn.functional.cosine_similarity(g32, g16, dim=0) > 0.999
            assert (g16.norm() / g32.norm()).item() == pytest.approx(1, abs=0.02)
        C.zero_grad()
        loss = C(fake).mean() - C(real).mean() + 10 * gradient_penalty(C, real, fake, eps=eps)
        loss.backward()
        opt.step()
