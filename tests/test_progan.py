"""ProGAN: paper-size nets, equalized learning rate, pixel norm, minibatch stddev, the fade-in arithmetic, the
phase schedule, and train.py growing a tiny model 4 → 8 → 16 on the CPU with an exact mid-phase resume."""
import json
import math

import pytest
import torch
import torch.nn.functional as F

from conftest import ROOT, STUB_RUN, in_folder, load_module, run_script
from test_train import defaults_said_once, metrics, nets_equal, one_line_error, resume_to, run_cases

model, utils = load_module("progan", "model"), load_module("progan", "utils")


def test_paper_size_at_1024():
    G, D = model.Generator(1024), model.Discriminator(1024)
    g, d = (sum(p.numel() for p in net.parameters()) for net in (G, D))
    assert abs(g - 23.1e6) / 23.1e6 < 0.01 and abs(d - 23.1e6) / 23.1e6 < 0.01  # paper Table 2: 23.1 M each
    assert (g, d) == (23_079_115, 23_087_249)
    widths = [model.n_features(4 * 2 ** k) for k in range(9)]
    assert widths == [512, 512, 512, 512, 256, 128, 64, 32, 16]  # 4, 8, ..., 1024
    assert G.max_level == D.max_level == 8


def test_equalized_learning_rate():
    conv = model.EqConv2d(64, 32, 3)
    assert conv.scale == pytest.approx(math.sqrt(2) / math.sqrt(64 * 9))  # He's constant, applied at run time
    assert 0.9 < conv.weight.std().item() < 1.1  # stored weights are N(0, 1)
    x = torch.randn(8, 64, 16, 16)
    expected = F.conv2d(x, conv.weight * conv.scale, conv.bias, padding=1)
    assert torch.allclose(conv(x), expected)
    assert model.EqLinear(10, 1, gain=1).scale == pytest.approx(1 / math.sqrt(10))


def test_pixel_norm_and_minibatch_stddev():
    x = torch.randn(4, 8, 3, 3) * 5
    assert torch.allclose(model.pixel_norm(x).pow(2).mean(1), torch.ones(4, 3, 3), atol=1e-4)
    same = torch.randn(1, 2, 4, 4).repeat(4, 1, 1, 1)
    out = model.minibatch_stddev(same)
    assert out.shape == (4, 3, 4, 4) and out[:, 2].max() < 1e-3  # no variation → stddev map ≈ 0
    two = torch.tensor([0.0, 2.0, 0.0, 2.0]).view(4, 1, 1, 1).expand(4, 1, 2, 2).contiguous()
    # group size 4 over the batch: values {0, 2, 0, 2}, population std 1 at every pixel
    assert torch.allclose(model.minibatch_stddev(two)[:, 1], torch.ones(4, 2, 2), atol=1e-3)


def test_fade_in_blends_with_the_previous_resolution():
    """alpha 0 at level L is exactly level L − 1 upsampled (G) or downsampled (D); alpha 1 is level L alone."""
    torch.manual_seed(0)
    G, D = model.Generator(16, 8, 3, 64, 16), model.Discriminator(16, 3, 64, 16)
    z = torch.randn(4, 8)
    with torch.no_grad():
        low = G(z, 1, 1.0)                                      # (4, 3, 8, 8)
        assert torch.allclose(G(z, 2, 0.0), F.interpolate(low, scale_factor=2, mode="nearest"), atol=1e-6)
        half = G(z, 2, 0.5)
        assert torch.allclose(half, 0.5 * G(z, 2, 0.0) + 0.5 * G(z, 2, 1.0), atol=1e-5)
        img = torch.randn(4, 3, 16, 16)
        assert torch.allclose(D(img, 2, 0.0), D(F.avg_pool2d(img, 2), 1, 1.0), atol=1e-5)
        assert not torch.allclose(D(img, 2, 1.0), D(img, 2, 0.0))


def test_schedule_batch_sizes_and_real_images():
    assert utils.phases(2) == [(0, False), (1, True), (1, False), (2, True), (2, False)]
    sizes = utils.parse_batch_sizes("4:16,8:16,16:16,32:16,64:16,128:16,256:14,512:6,1024:3")
    assert [utils.batch_size_at(r, sizes) for r in (4, 128, 256, 512, 1024)] == [16, 16, 14, 6, 3]
    assert utils.batch_size_at(64, {4: 8, 32: 2}) == 2
    with pytest.raises(ValueError):
        utils.parse_batch_sizes("4-16")
    x = torch.randn(2, 3, 16, 16)
    assert utils.real_at(x, 2, 1.0, 2) is x
    assert torch.allclose(utils.real_at(x, 1, 1.0, 2), F.avg_pool2d(x, 2))
    faded = utils.real_at(x, 2, 0.0, 2)  # alpha 0: the 8×8 image, upsampled
    assert torch.allclose(faded, F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest"))


def test_losses_and_ema_by_hand():
    real, fake = torch.tensor([2.0, 4.0]), torch.tensor([1.0, -1.0])
    # E[D(G(z))] − E[D(x)] + λ·GP + ε·E[D(x)²] = 0 − 3 + 10·0.5 + 0.001·10
    assert utils.critic_loss(real, fake, torch.tensor(0.5), 10, 0.001).item() == pytest.approx(2.01)
    assert utils.generator_loss(fake).item() == 0
    G = torch.nn.Linear(1, 1, bias=False)
    ema = utils.make_ema(G)
    with torch.no_grad():
        ema.weight.fill_(1.0)
        G.weight.fill_(3.0)
    utils.ema_update(ema, G, 0.75)
    assert ema.weight.item() == pytest.approx(0.75 * 1 + 0.25 * 3) and not ema.weight.requires_grad


# ----------------------------------------------------------------------------------------------- train.py
TINY = ["--dataset", "folder", "--max_resolution", "16", "--fmap_base", "64", "--fmap_max", "16", "--latent_dim",
        "16", "--kimg_per_phase", "0.016", "--batch_sizes", "4:4", "--num_workers", "0", "--log_every", "1"]


def progan_args(data, out, *extra):
    return ["--data_root", data, "--out_dir", out / "runs", "--ckpt_dir", out / "ck", *TINY, *extra]


def test_grows_4_to_16_with_alpha_schedule(digits, tmp_path):
    r = run_script("progan", "train", *progan_args(digits, tmp_path))
    assert r.returncode == 0, r.stderr
    m = metrics(tmp_path)
    assert [x["resolution"] for x in m] == [4] * 4 + [8] * 8 + [16] * 8  # 5 phases of 16 images, batch 4
    assert [x["alpha"] for x in m[4:8]] == [0, 0.25, 0.5, 0.75]  # 8×8 fade-in: alpha from 0 towards 1
    assert all(x["alpha"] == 1 for x in m[:4] + m[8:12] + m[16:])
    assert [x["alpha"] for x in m[12:16]] == [0, 0.25, 0.5, 0.75]
    names = sorted(p.name for p in (tmp_path / "runs" / "samples").iterdir())
    assert names == ["phase_01_4x4_stable.png", "phase_02_8x8_fade.png", "phase_03_8x8_stable.png",
                     "phase_04_16x16_fade.png", "phase_05_16x16_stable.png"]
    ck = torch.load(tmp_path / "ck" / "last.pt", weights_only=True)
    assert set(ck["nets"]) == {"G", "D", "G_ema"} and ck["epoch"] == 5 and ck["step"] == 20
    assert not nets_equal({"nets": {"G": ck["nets"]["G"]}}, {"nets": {"G": ck["nets"]["G_ema"]}})

    r = run_script("progan", "sample", "--checkpoint", tmp_path / "ck" / "last.pt", "--out", tmp_path / "s.png",
                   "--num", 4)
    assert r.returncode == 0 and "16×16, alpha 1.000" in r.stdout, r.stderr
    r = run_script("progan", "sample", "--checkpoint", tmp_path / "ck" / "last.pt", "--out", tmp_path / "s8",
                   "--num", 2, "--resolution", 8)
    assert r.returncode == 0, r.stderr
    from PIL import Image

    assert Image.open(tmp_path / "s8" / "000000.png").size == (8, 8)


def test_resume_mid_fade_equals_uninterrupted(digits, tmp_path):
    """Stop at step 6 (half-way through the 8×8 fade-in), resume to 14 (into the 16×16 fade-in): the same
    losses, alphas, weights, EMA weights and optimizer state as one run of 14 steps."""
    a, b = tmp_path / "a", tmp_path / "b"
    r = run_script("progan", "train", *progan_args(digits, a, "--max_steps", 14))
    assert r.returncode == 0, r.stderr
    r = run_script("progan", "train", *progan_args(digits, b, "--max_steps", 6))
    assert r.returncode == 0, r.stderr
    ck = torch.load(b / "ck" / "last.pt", weights_only=True)
    assert (ck["epoch"], ck["batch_in_epoch"]) == (1, 2)  # phase 2 (8×8 fade), alpha 0.5 next
    resume_to("progan", b, 14)
    assert metrics(a) == metrics(b) and [x["alpha"] for x in metrics(b)][4:8] == [0, 0.25, 0.5, 0.75]
    ck_a, ck_b = (torch.load(p / "ck" / "last.pt", weights_only=True) for p in (a, b))
    assert nets_equal(ck_a, ck_b) and ck_b["step"] == 14
    assert json.dumps(ck_a["optimizers"]["D"]["param_groups"]) == json.dumps(ck_b["optimizers"]["D"]["param_groups"])


def test_bad_inputs(digits, tmp_path):
    base = ["--out_dir", str(tmp_path / "runs"), "--ckpt_dir", str(tmp_path / "ck"), "--num_workers", "0"]
    cases = [
        (["--data_root", str(digits), "--max_resolution", "48"], "power of two"),
        (["--data_root", str(digits), "--batch_sizes", "4-16"], "resolution:batch"),
        (["--data_root", str(tmp_path / "none")], "does not exist"),
        (["--data_root", str(digits), "--kimg_per_phase", "0"], "positive"),
    ]
    *results, train_help = run_cases("progan", "train", [[*base, *args] for args, _ in cases] + [["--help"]],
                                     tmp_path)
    failures = [(args, r["stderr"][-400:]) for (args, expected), r in zip(cases, results)
                if not one_line_error(r, expected)]
    assert not failures
    r, sample_help = run_cases("progan", "sample", [["--checkpoint", str(tmp_path / "none.pt")], ["--help"]], tmp_path)
    assert one_line_error(r, "does not exist")
    assert all(h["exit"] == 0 and defaults_said_once(h["stdout"]) for h in (train_help, sample_help))
    assert (ROOT / "progan" / "checkpoints" / ".gitkeep").exists()


def test_adam_restarts_at_every_phase_and_g_draws_fresh_latents(digits, tmp_path):
    """The official train.py resets Adam whenever floor(lod) or ceil(lod) changes, at the start of every fade-in
    and every stable phase: 10 steps of 4-step phases end 2 steps into the 8×8 stable phase, so Adam has taken 2
    steps, not 6 (the fade-in's 4 + 2). And the G step draws its own latents (the official G loss samples z):
    G runs twice per step, on different z."""
    r = run_script("progan", "train", *progan_args(digits, tmp_path, "--max_steps", 10))
    assert r.returncode == 0, r.stderr
    ck = torch.load(tmp_path / "ck" / "last.pt", weights_only=True)
    assert (ck["epoch"], ck["batch_in_epoch"]) == (2, 2)
    for name in ("G", "D"):
        assert {float(s["step"]) for s in ck["optimizers"][name]["state"].values()} == {2.0}
    calls = in_folder("progan", STUB_RUN + """
from types import SimpleNamespace
from model import Discriminator, Generator
import train
G, D = Generator(16, 16, 1, 64, 16), Discriminator(16, 1, group_size=4, fmap_base=64, fmap_max=16)
seen = []
G.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].clone()))
args = SimpleNamespace(latent_dim=16, lambda_gp=10.0, drift=0.001, ema=0.999)
opt_G, opt_D = (torch.optim.Adam(n.parameters(), 1e-3, betas=(0.0, 0.99)) for n in (G, D))
train.train_one_epoch(G, D, train.make_ema(G), opt_G, opt_D, StubRun((torch.randn(4, 1, 16, 16), None)), args,
                      1, False, 2)
print(json.dumps({"calls": len(seen), "same_z": bool(torch.equal(seen[0], seen[-1]))}))
""")
    assert calls == {"calls": 2, "same_z": False}
