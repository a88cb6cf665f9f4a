"""StyleGAN: paper-size nets, AdaIN, the mapping network's learning-rate multiplier, truncation, noise inputs, style
mixing, R1, the blur, the schedule, and train.py growing a tiny model 4 → 8 → 16 on the CPU with an exact
mid-phase resume, sample.py's figures, bad inputs."""
import json
import math

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from conftest import ROOT, load_module, run_script
from test_train import defaults_said_once, metrics, nets_equal, one_line_error, resume_to, run_cases

model, utils = load_module("stylegan", "model"), load_module("stylegan", "utils")


def tiny_G(seed=0):
    torch.manual_seed(seed)
    return model.Generator(16, 16, 16, 3, fmap_base=64, fmap_max=16, mapping_layers=2)


def test_paper_size_at_1024():
    G, D = model.Generator(1024), model.Discriminator(1024)
    g, d = (sum(p.numel() for p in net.parameters()) for net in (G, D))
    assert abs(g - 26.2e6) / 26.2e6 < 0.01 and abs(d - 23.1e6) / 23.1e6 < 0.01  # paper: 26.2 M; ProGAN's D 23.1 M
    assert (g, d) == (26_219_627, 23_087_249)
    mapping = sum(p.numel() for p in G.mapping.parameters())
    assert mapping == 8 * (512 * 512 + 512)  # 8 dense layers of 512
    assert G.num_layers == 18 and G.max_level == 8  # two styled layers per resolution, 4² to 1024²
    assert G.synthesis.const.shape == (1, 512, 4, 4) and bool((G.synthesis.const == 1).all())


def test_adain_gives_each_channel_the_styles_mean_and_std():
    x = torch.randn(3, 5, 8, 8) * 4 + 2
    scale, bias = torch.rand(3, 5) + 0.5, torch.randn(3, 5)
    y = model.adain(x, scale, bias)
    assert torch.allclose(y.mean(dim=(2, 3)), bias, atol=1e-5)
    assert torch.allclose(y.std(dim=(2, 3), unbiased=False), scale, atol=1e-4)
    layer = model.StyledLayer(5, 5, 8, 16, "conv")  # A starts at the identity style: y_s = 1, y_b = 0
    assert torch.equal(layer.noise_strength, torch.zeros(5))  # B: zero at the start
    with torch.no_grad():
        out = layer(x, torch.zeros(3, 16))  # w = 0: A's output is its (zero) bias, so the style is (1, 0)
        assert torch.allclose(out, model.instance_norm(model.lrelu(layer.conv(x))), atol=1e-5)
        layer.affine.bias.copy_(torch.arange(10.0))  # y_s − 1 = 0..4, y_b = 5..9 for every sample
        out = layer(x, torch.zeros(3, 16))
    assert torch.allclose(out.mean(dim=(2, 3)), torch.arange(5.0, 10.0).expand(3, 5), atol=1e-4)
    assert torch.allclose(out.std(dim=(2, 3), unbiased=False), torch.arange(1.0, 6.0).expand(3, 5), atol=1e-3)


def test_mapping_network_learning_rate_multiplier():
    layer = model.EqLinear(512, 512, lr_mul=0.01)
    assert 90 < layer.weight.std().item() < 110  # stored ~ N(0, 1/0.01)
    assert layer.w_scale == pytest.approx(math.sqrt(2) / math.sqrt(512) * 0.01) and layer.b_scale == 0.01
    x = torch.randn(4, 512)
    assert torch.allclose(layer(x), F.linear(x, layer.weight * layer.w_scale, layer.bias * 0.01))
    f = model.MappingNetwork(16, 16, layers=3)
    assert len(f.net) == 3 and torch.allclose(f(torch.ones(2, 16) * 5), f(torch.ones(2, 16)))  # z pixel-normed


def test_truncation_at_psi_0_gives_every_sample_the_image_of_the_mean_w():
    G = tiny_G()
    with torch.no_grad():
        G.w_avg.copy_(torch.randn(16))
        z = torch.randn(4, 16)
        out = G(z, 2, psi=0.0, cutoff=G.num_layers, noise_mode="const")
        mean_image = G.synthesis(G.w_avg.expand(1, G.num_layers, 16), 2, noise_mode="const")
        assert torch.allclose(out, mean_image.expand(4, -1, -1, -1), atol=1e-5)
        ws, w = G.styles(z, psi=0.5, cutoff=4)  # only the first `cutoff` layers move halfway to w̄
        assert torch.allclose(ws[:, :4], (G.w_avg + w.unsqueeze(1)) / 2, atol=1e-6)
        assert torch.equal(ws[:, 4:], w.unsqueeze(1).expand(-1, G.num_layers - 4, -1))


def test_noise_buffers_make_g_deterministic_and_fresh_noise_does_not():
    G = tiny_G()
    with torch.no_grad():
        for layer in G.synthesis.layers:
            layer.noise_strength.fill_(1.0)  # (zero at initialisation, when noise changes nothing)
        z = torch.randn(2, 16)
        assert torch.equal(G(z, 2, noise_mode="const"), G(z, 2, noise_mode="const"))
        assert not torch.allclose(G(z, 2), G(z, 2))
        drawn = []
        G(z, 2, noise_fn=lambda *shape, device: drawn.append(shape) or torch.zeros(*shape))
        assert drawn == [(2, 1, 4, 4)] * 2 + [(2, 1, 8, 8)] * 2 + [(2, 1, 16, 16)] * 2  # one map per layer


def test_style_mixing_takes_the_layers_before_the_crossover_from_the_first_latent():
    G = tiny_G()
    z, z2 = torch.randn(3, 16), torch.randn(3, 16)
    with torch.no_grad():
        ws, _ = G.styles(z, z2, mix_at=2)
        ws_other, _ = G.styles(z, z2 + 1, mix_at=2)  # perturb the second latent
    with torch.no_grad():
        w1, w2 = G.mapping(z), G.mapping(z2)
    assert torch.equal(ws[:, :2], ws_other[:, :2]) and torch.equal(ws[:, :2], w1.unsqueeze(1).expand(-1, 2, -1))
    assert torch.equal(ws[:, 2:], w2.unsqueeze(1).expand(-1, G.num_layers - 2, -1))  # layer 2 on: z2's w
    assert all(not torch.allclose(ws[:, k], ws_other[:, k]) for k in range(2, G.num_layers))
    g = torch.Generator().manual_seed(0)
    draws = [utils.mixing_crossover(6, 0.9, g) for _ in range(2000)]
    mixed = [k for k in draws if k is not None]
    assert 0.87 < len(mixed) / 2000 < 0.93 and set(mixed) == {1, 2, 3, 4, 5}  # uniform over [1, layers in use)
    assert utils.mixing_crossover(6, 0.0, g) is None and utils.mixing_crossover(2, 1.0, g) == 1


def test_r1_on_a_linear_critic_is_gamma_half_the_squared_norm_of_its_weights():
    w = torch.randn(1, 3, 4, 4)

    def D(x, *_):
        return (x * w).flatten(1).sum(1)  # D(x) = w·x: ∇_x D = w for every x

    real = torch.randn(5, 3, 4, 4)
    logits, r1 = utils.r1_penalty(D, real, 0, 1.0)
    assert torch.allclose(logits, D(real)) and r1.item() == pytest.approx(w.pow(2).sum().item(), rel=1e-5)
    fake = torch.zeros(5)
    loss = utils.d_loss_r1(logits, fake, r1, gamma=10.0)
    expected = F.softplus(fake).mean() + F.softplus(-logits).mean() + 5.0 * w.pow(2).sum()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert utils.g_logistic(torch.zeros(3)).item() == pytest.approx(math.log(2))  # −log σ(0)


def test_blur_is_the_binomial_filter():
    x = torch.zeros(1, 2, 5, 5)
    x[:, :, 2, 2] = 1
    k = torch.tensor([1.0, 2.0, 1.0])
    expected = (k[:, None] * k[None, :]) / 16
    assert torch.allclose(model.blur(x)[0, 1, 1:4, 1:4], expected)
    assert torch.allclose(model.blur(torch.ones(1, 1, 6, 6))[0, 0, 1:5, 1:5], torch.ones(4, 4))  # DC gain 1


def test_fade_in_and_schedule():
    G = tiny_G()
    z = torch.randn(2, 16)
    with torch.no_grad():
        low = G(z, 1, 1.0, noise_mode="const")
        assert torch.allclose(G(z, 2, 0.0, noise_mode="const"), F.interpolate(low, scale_factor=2), atol=1e-6)
    assert utils.phases(3) == [(1, False), (2, True), (2, False), (3, True), (3, False)]  # from 8×8
    assert utils.phases(1, 0) == [(0, False), (1, True), (1, False)]
    lrs = utils.parse_table("4:0.001,128:0.0015,256:0.002,512:0.003", float, "--lrs")
    assert [utils.value_at(r, lrs) for r in (8, 64, 128, 256, 512, 1024)] == [0.001] * 2 + [0.0015, 0.002, 0.003,
                                                                                         0.003]
    sizes = utils.parse_table("4:512,8:256,16:128,32:64,64:32", int, "--batch_sizes")
    assert [utils.value_at(r, sizes) for r in (8, 64, 1024)] == [256, 32, 32]
    assert utils.ema_beta(16) == pytest.approx(0.5 ** (16 / 10_000)) and 0.9988 < utils.ema_beta(16) < 0.999


# ----------------------------------------------------------------------------------------------- train.py
TINY = ["--dataset", "folder", "--max_resolution", "16", "--start_resolution", "4", "--fmap_base", "64",
        "--fmap_max", "16", "--z_dim", "16", "--mapping_layers", "2", "--kimg_per_phase", "0.016", "--batch_sizes",
        "4:4", "--num_workers", "0", "--log_every", "1"]


def stylegan_args(data, out, *extra):
    return ["--data_root", data, "--out_dir", out / "runs", "--ckpt_dir", out / "ck", *TINY, *extra]


def test_grows_4_to_16_and_samples_the_papers_figures(digits, tmp_path):
    r = run_script("stylegan", "train", *stylegan_args(digits, tmp_path))
    assert r.returncode == 0, r.stderr
    m = metrics(tmp_path)
    assert [x["resolution"] for x in m] == [4] * 4 + [8] * 8 + [16] * 8  # 5 phases of 16 images, batch 4
    assert [x["alpha"] for x in m[4:8]] == [0, 0.25, 0.5, 0.75] == [x["alpha"] for x in m[12:16]]
    assert all(x["alpha"] == 1 for x in m[:4] + m[8:12] + m[16:]) and all(x["R1"] > 0 for x in m)
    names = sorted(p.name for p in (tmp_path / "runs" / "samples").iterdir())
    assert names == ["phase_01_4x4_stable.png", "phase_02_8x8_fade.png", "phase_03_8x8_stable.png",
                     "phase_04_16x16_fade.png", "phase_05_16x16_stable.png"]
    ck = torch.load(tmp_path / "ck" / "last.pt", weights_only=True)
    assert set(ck["nets"]) == {"G", "D", "G_ema"} and ck["epoch"] == 5 and ck["step"] == 20
    assert not nets_equal({"nets": {"G": ck["nets"]["G"]}}, {"nets": {"G": ck["nets"]["G_ema"]}})
    assert ck["nets"]["G"]["w_avg"].abs().sum() > 0 and torch.equal(ck["nets"]["G"]["w_avg"],
                                                                     ck["nets"]["G_ema"]["w_avg"])
    assert {float(s["step"]) for s in ck["optimizers"]["G"]["state"].values()} == {4.0}  # Adam reset per phase
    assert ck["optimizers"]["G"]["param_groups"][0]["lr"] == 0.001

    ckpt = str(tmp_path / "ck" / "last.pt")
    results = run_cases("stylegan", "sample", [
        ["--checkpoint", ckpt, "--out", str(tmp_path / "s.png"), "--num", "4"],
        ["--checkpoint", ckpt, "--out", str(tmp_path / "s8"), "--num", "2", "--resolution", "8"],
        ["--checkpoint", ckpt, "--out", str(tmp_path / "mix.png"), "--mix", "--mix_rows", "2", "--mix_cols", "3"],
        ["--checkpoint", ckpt, "--out", str(tmp_path / "psi.png"), "--truncation_grid", "--num", "12"]], tmp_path)
    assert all(r["exit"] == 0 for r in results), [r["stderr"][-500:] for r in results]
    assert "16×16, alpha 1.000, ψ 0.7 on the first 8 layers" in results[0]["stdout"]
    assert Image.open(tmp_path / "s8" / "000000.png").size == (8, 8)
    # Figure 3 at 16×16: a header row and, for the coarse and middle groups (fine has no layers here), 2 rows of
    # 1 + 3 images, each 16 px with torchvision's 2 px padding
    assert Image.open(tmp_path / "mix.png").size == (4 * 18 + 2, 5 * 18 + 2)
    assert Image.open(tmp_path / "psi.png").size == (6 * 18 + 2, 2 * 18 + 2)  # ψ 1, 0.7, 0.5, 0, −0.5, −1


def test_resume_mid_fade_equals_uninterrupted_and_runs_from_inside_the_folder(digits, tmp_path):
    """Stop at step 6 (half-way through the 8×8 fade-in), resume to 14: the same losses, alphas, weights, EMA and
    w̄ as one run of 14 steps (that one from inside the folder)."""
    a, b = tmp_path / "a", tmp_path / "b"
    r = run_script("stylegan", "train", *stylegan_args(digits, a, "--max_steps", 14), cwd=ROOT / "stylegan")
    assert r.returncode == 0, r.stderr
    r = run_script("stylegan", "train", *stylegan_args(digits, b, "--max_steps", 6))
    assert r.returncode == 0, r.stderr
    resume_to("stylegan", b, 14)
    assert metrics(a) == metrics(b) and len(metrics(a)) == 14
    ck_a, ck_b = (torch.load(p / "ck" / "last.pt", weights_only=True) for p in (a, b))
    assert nets_equal(ck_a, ck_b) and ck_b["step"] == 14
    assert json.dumps(ck_a["optimizers"]["D"]["param_groups"]) == json.dumps(ck_b["optimizers"]["D"]["param_groups"])


def test_bad_inputs(digits, tmp_path):
    base = ["--out_dir", str(tmp_path / "runs"), "--ckpt_dir", str(tmp_path / "ck"), "--num_workers", "0"]
    cases = [
        (["--data_root", str(digits), "--max_resolution", "48"], "power of two"),
        (["--data_root", str(digits), "--start_resolution", "2048", "--max_resolution", "64"], "start_resolution"),
        (["--data_root", str(digits), "--batch_sizes", "4-16"], "resolution:value"),
        (["--data_root", str(digits), "--lrs", "4:0"], "positive"),
        (["--data_root", str(digits), "--loss", "hinge"], "invalid choice"),
        (["--data_root", str(tmp_path / "none")], "does not exist"),
        (["--data_root", str(digits), "--style_mixing", "1.5"], r"\[0, 1\)"),
    ]
    *results, train_help = run_cases("stylegan", "train", [[*base, *args] for args, _ in cases] + [["--help"]],
                                     tmp_path)
    failures = [(args, r["stderr"][-400:]) for (args, expected), r in zip(cases, results)
                if not one_line_error(r, expected)]
    assert not failures
    r, sample_help = run_cases("stylegan", "sample", [["--checkpoint", str(tmp_path / "none.pt")], ["--help"]],
                               tmp_path)
    assert one_line_error(r, "does not exist")
    assert all(h["exit"] == 0 and defaults_said_once(h["stdout"]) for h in (train_help, sample_help))
    assert (ROOT / "stylegan" / "checkpoints" / ".gitkeep").exists()
