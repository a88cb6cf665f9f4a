"""wgan/, wgan_gp/, cgan/: what distinguishes them from DCGAN — critic losses, clipping, the penalty's
per-sample critic, the n_critic schedule, and conditioning on labels."""
import pytest
import torch

from conftest import load_module, metrics_at, run_script, train_args


def n_params(net):
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("folder", ["wgan", "wgan_gp", "cgan"])
def test_shape_check_and_unbounded_scores(folder):
    m = load_module(folder, "model")
    m.shape_check()
    assert not any(isinstance(mod, torch.nn.Sigmoid) for mod in m.Critic().modules())


@pytest.mark.parametrize("folder", ["wgan", "wgan_gp"])
def test_default_param_counts_match_dcgan_tables(folder):
    """Same layer stack as DCGAN (3 channels): BatchNorm / GroupNorm both have 2 parameters per channel."""
    m = load_module(folder, "model")
    assert (n_params(m.Generator()), n_params(m.Critic())) == (12_658_432, 2_765_568)


def test_cgan_param_counts_and_shapes():
    m = load_module("cgan", "model")
    G, C = m.Generator(), m.Critic()  # MNIST defaults: 1 channel, 10 classes
    # G: z (100) + label embedding (100) in; embedding table 10×100
    g = 16 * (200 * 1024 + 1024 * 512 + 512 * 256 + 256 * 128 + 128 * 1) + 2 * (1024 + 512 + 256 + 128) + 10 * 100
    # C: image + one label channel in; embedding table 10×(64·64)
    c = 16 * (2 * 64 + 64 * 128 + 128 * 256 + 256 * 512 + 512) + 2 * (128 + 256 + 512) + 10 * 64 * 64
    assert (n_params(G), n_params(C)) == (g, c)
    labels = torch.tensor([7, 7, 3])
    x = G(torch.randn(3, 100, 1, 1), labels)
    assert x.shape == (3, 1, 64, 64) and C(x, labels).shape == (3,)


def test_cgan_output_depends_on_the_label():
    m = load_module("cgan", "model")
    torch.manual_seed(0)
    G, C = m.Generator(ngf=8).eval(), m.Critic(ndf=8)
    z = torch.randn(1, 100, 1, 1).repeat(2, 1, 1, 1)
    with torch.no_grad():
        a, b = G(z, torch.tensor([3, 5]))
        x = torch.randn(1, 1, 64, 64).repeat(2, 1, 1, 1)
        s3, s5 = C(x, torch.tensor([3, 5]))
    assert (a - b).abs().max() > 1e-3 and abs(s3 - s5) > 1e-6


@pytest.mark.parametrize("folder", ["wgan_gp", "cgan"])
def test_penalised_critics_have_no_batchnorm(folder):
    """The gradient penalty is per sample; BatchNorm would couple the samples of a batch (WGAN-GP, Section 4)."""
    critic = load_module(folder, "model").Critic()
    assert not any(isinstance(mod, torch.nn.modules.batchnorm._BatchNorm) for mod in critic.modules())
    assert any(isinstance(mod, torch.nn.GroupNorm) for mod in critic.modules())


def test_critic_losses_by_hand():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 2.0])
    w = load_module("wgan", "utils")
    assert w.critic_loss(real, fake).item() == pytest.approx(-1.0)  # −(E[C(x)] − E[C(G(z))]) = −(2 − 1)
    assert w.generator_loss(fake).item() == pytest.approx(-1.0)  # −E[C(G(z))]
    for folder in ("wgan_gp", "cgan"):
        u = load_module(folder, "utils")
        assert u.critic_loss(real, fake, torch.tensor(0.5), 10.0).item() == pytest.approx(-1.0 + 5.0)
        assert u.generator_loss(real).item() == pytest.approx(-2.0)


def test_clip_weights_bounds_every_parameter():
    m, u = load_module("wgan", "model"), load_module("wgan", "utils")
    critic = m.Critic(1, ndf=8)
    critic.apply(m.init_weights)  # BatchNorm scales start near 1, far outside ±0.01
    u.clip_weights(critic, 0.01)
    assert all(p.abs().max() <= 0.01 for p in critic.parameters())
    assert max(p.abs().max().item() for p in critic.parameters()) == pytest.approx(0.01)


def test_wgan_training_keeps_critic_clipped_and_follows_n_critic(digits, tmp_path):
    """10 critic steps with n_critic 5: the critic's optimizer stepped 10 times, G's twice; every critic
    parameter in the checkpoint lies in [−c, c]."""
    r = run_script("wgan", "train", *train_args("wgan", digits, tmp_path, "--max_steps", 10, "--clip", 0.02))
    assert r.returncode == 0, r.stderr
    ck = torch.load(tmp_path / "ck" / "last.pt", weights_only=True)
    assert ck["optimizers"]["C"]["state"][0]["step"] == 10 and ck["optimizers"]["G"]["state"][0]["step"] == 2
    critic = load_module("wgan", "model").Critic(1, ndf=8)
    critic.load_state_dict(ck["nets"]["C"])
    assert all(p.abs().max() <= 0.02 + 1e-9 for p in critic.parameters())


def test_wgan_gp_logs_a_nonzero_penalty(digits, tmp_path):
    r = run_script("wgan_gp", "train", *train_args("wgan_gp", digits, tmp_path, "--max_steps", 2))
    assert r.returncode == 0, r.stderr
    logged = metrics_at(tmp_path / "runs")
    assert all(m["GP"] > 0 for m in logged)


@pytest.mark.parametrize("folder", ["wgan_gp", "cgan"])
def test_bf16_penalty_trains_and_a_plain_resume_keeps_it(folder, digits, tmp_path):
    """--gp_precision bf16 trains (a non-zero penalty), and --resume without the flag goes on in bf16."""
    r = run_script(folder, "train", *train_args(folder, digits, tmp_path, "--max_steps", 2, "--gp_precision", "bf16"))
    assert r.returncode == 0, r.stderr
    r = run_script(folder, "train", "--resume", tmp_path / "ck" / "last.pt", "--max_steps", 3)
    assert r.returncode == 0, r.stderr
    ck = torch.load(tmp_path / "ck" / "last.pt", weights_only=True)
    assert ck["step"] == 3 and ck["args"]["gp_precision"] == "bf16"
    assert all(m["GP"] > 0 for m in metrics_at(tmp_path / "runs"))


def test_class_rows_layout():
    u = load_module("cgan", "utils")
    z, labels = u.class_rows(10, 8, 100, torch.Generator().manual_seed(0))
    assert z.shape == (80, 100, 1, 1) and labels.tolist() == [k for k in range(10) for _ in range(8)]
    assert torch.equal(z[0], z[8]) and not torch.equal(z[0], z[1])  # same noise down a column
