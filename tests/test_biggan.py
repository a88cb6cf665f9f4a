"""BigGAN: parameter counts at both configurations, spectral norm, the hinge losses, the orthogonal regulariser, the
projection discriminator, truncation, 2 D steps per G step, the EMA and standing statistics leaving the training
nets alone, exact resume, sample.py and bad inputs."""
import json

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from conftest import ROOT, load_module, run_script
from test_train import defaults_said_once, metrics, nets_equal, one_line_error, resume_to, run_cases

model, utils = load_module("biggan", "model"), load_module("biggan", "utils")


def n_params(net):
    return sum(p.numel() for p in net.parameters())


def test_parameter_counts_and_shapes():
    G, D = model.Generator(128, 96, 120, 128, 1000, 64, init=None), model.Discriminator(128, 96, 1000, 64, init=None)
    assert (n_params(G), n_params(D)) == (70_433_988, 87_982_370)  # BigGAN-PyTorch's log of the same model
    assert abs(n_params(G) + n_params(D) - 158.3e6) / 158.3e6 < 0.01  # the paper's Table 1, ch 96 (+ Shared, Hier.)
    assert G.chunk == 20 and G.attention_after == 3 and D.attention_after == 0  # 6 chunks of z; attention at 64²
    G, D = model.Generator(32, 64, 128, 128, 10, 0, init=None), model.Discriminator(32, 64, 10, 0, init=None)
    assert (n_params(G), n_params(D)) == (4_373_251, 4_207_361) and G.attention is None
    torch.manual_seed(0)
    for res in (32, 128):
        G = model.Generator(res, 8, 4 * (len(model.G_ARCH[res][0]) + 1), 8, 10, 16 if res == 32 else 64)
        D = model.Discriminator(res, 8, 10, 16 if res == 32 else 64)
        with torch.no_grad():
            x = G(torch.randn(2, G.dim_z), torch.tensor([0, 9]))
            assert x.shape == (2, 3, res, res) and x.abs().max() <= 1 and D(x, torch.tensor([0, 9])).shape == (2,)


def test_spectral_norm_keeps_the_largest_singular_value_near_1():
    layer = model.sn_linear(64, 32)
    with torch.no_grad():
        layer.parametrizations.weight.original.mul_(7.0)  # σ_max of the raw weight is now far from 1
        for _ in range(10):  # one power iteration per training-mode forward
            layer(torch.randn(4, 64))
        sigma = torch.linalg.matrix_norm(layer.weight, ord=2).item()
    assert abs(sigma - 1) < 1e-2
    conv = model.sn_conv(8, 16)  # every conv, linear and D's embedding is normalised
    assert hasattr(conv, "parametrizations") and hasattr(model.Discriminator(32, 4, 10, 0).embed, "parametrizations")


def test_hinge_losses_by_hand():
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-2.0, 0.0, 1.0])
    # D: mean(max(0, 1 − [2, 0.5, −1])) + mean(max(0, 1 + [−2, 0, 1])) = (0 + 0.5 + 2)/3 + (0 + 1 + 2)/3
    assert utils.d_hinge(real, fake).item() == pytest.approx(2.5 / 3 + 3 / 3)
    assert utils.g_hinge(fake).item() == pytest.approx(1 / 3)  # −mean(D(G(z)))


def test_orthogonal_regulariser():
    q, _ = torch.linalg.qr(torch.randn(6, 6))
    assert utils.orthogonal_regulariser([q[:4]], 1e-4).item() == pytest.approx(0, abs=1e-10)  # orthonormal rows
    assert utils.orthogonal_regulariser([q[:4] * 3], 1e-4).item() == pytest.approx(0, abs=1e-9)  # norms are free
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # W Wᵀ = [[5, 11], [11, 25]]: off-diagonal 11, twice
    assert utils.orthogonal_regulariser([w], 0.5).item() == pytest.approx(0.5 * 2 * 11 ** 2)
    conv = torch.randn(3, 2, 3, 3)  # (filters, in, k, k) read as (3, 18)
    flat = conv.flatten(1)
    expected = ((flat @ flat.t()) * (1 - torch.eye(3))).pow(2).sum()
    assert utils.orthogonal_regulariser([conv], 1.0).item() == pytest.approx(expected.item(), rel=1e-5)
    G = model.Generator(32, 4, 8, 8, 10, 0)
    assert all(p is not G.shared.weight for p in utils.regularised_weights(G)) and all(
        p.dim() >= 2 for p in utils.regularised_weights(G))


def test_projection_discriminator_by_hand():
    torch.manual_seed(0)
    D = model.Discriminator(32, 4, 10, 0).eval()
    x, y = torch.randn(3, 3, 32, 32), torch.tensor([1, 5, 9])
    with torch.no_grad():
        h = x
        for block in D.blocks:
            h = block(h)
        h = F.relu(h).sum(dim=(2, 3))  # (3, 16): global sum pooling
        expected = D.linear(h).squeeze(1) + (D.embed.weight[y] * h).sum(1)
        assert torch.allclose(D(x, y), expected, atol=1e-4)
        assert not torch.allclose(D(x, y), D(x, torch.tensor([2, 5, 9])))  # the class changes the score


def test_truncation_redraws_exactly_the_out_of_range_entries():
    g = torch.Generator().manual_seed(3)
    plain = torch.randn(50, 20, generator=torch.Generator().manual_seed(3))
    z = utils.truncated_noise(50, 20, 0.5, generator=g)
    inside = plain.abs() <= 0.5
    assert z.abs().max() <= 0.5 and torch.equal(z[inside], plain[inside]) and not torch.equal(z, plain)
    assert torch.equal(utils.truncated_noise(5, 4, None, torch.Generator().manual_seed(1)),
                       torch.randn(5, 4, generator=torch.Generator().manual_seed(1)))


def test_ema_and_standing_statistics_leave_the_training_nets_alone():
    torch.manual_seed(0)
    G = model.Generator(32, 4, 8, 8, 10, 0)
    G(torch.randn(4, 8), torch.arange(4))  # a training-mode pass: running statistics, power-iteration vectors
    before = {k: v.clone() for k, v in G.state_dict().items()}
    ema = utils.make_ema(G)
    with torch.no_grad():
        for p in G.parameters():
            p.add_(0.1)
    utils.ema_update(ema, G, 0.9, step=5, start=10)  # before the start: a copy
    assert nets_equal({"nets": {"G": ema.state_dict()}}, {"nets": {"G": G.state_dict()}})
    old = ema.linear.parametrizations.weight.original.clone()
    with torch.no_grad():
        G.linear.parametrizations.weight.original.add_(1.0)
    utils.ema_update(ema, G, 0.9, step=10, start=10)
    assert torch.allclose(ema.linear.parametrizations.weight.original,
                          0.9 * old + 0.1 * G.linear.parametrizations.weight.original)
    state = {k: v.clone() for k, v in G.state_dict().items()}
    standing = utils.standing_copy(G, n_batches=3, batch=4)
    assert nets_equal({"nets": {"G": G.state_dict()}}, {"nets": {"G": state}}) and G.training
    bn = standing.blocks[0].bn1.bn
    assert not standing.training and bn.momentum is None and int(bn.num_batches_tracked) == 3
    assert not torch.equal(bn.running_mean, G.blocks[0].bn1.bn.running_mean)
    assert before.keys() == state.keys()


# ----------------------------------------------------------------------------------------------- train.py
def tiny(data, out, *extra):
    return ["--config", "cifar32", "--dataset", "folder", "--data_root", data / "train", "--ch", "4", "--dim_z", "8",
            "--shared_dim", "8", "--batch_size", "4", "--num_workers", "0", "--log_every", "1", "--out_dir",
            out / "runs", "--ckpt_dir", out / "ck", *extra]


def test_two_d_steps_per_g_step_resume_and_samples(digits, tmp_path):
    """7 D steps (3 G steps) from inside the folder == 3 steps, save, resume to 7; then sample.py's grids."""
    a, b = tmp_path / "a", tmp_path / "b"
    r = run_script("biggan", "train", *tiny(digits, a, "--max_steps", 7), cwd=ROOT / "biggan")
    assert r.returncode == 0, r.stderr
    r = run_script("biggan", "train", *tiny(digits, b, "--max_steps", 3))
    assert r.returncode == 0, r.stderr
    resume_to("biggan", b, 7)
    assert metrics(a) == metrics(b) and len(metrics(a)) == 7
    ck_a, ck_b = (torch.load(p / "ck" / "last.pt", weights_only=True) for p in (a, b))
    assert nets_equal(ck_a, ck_b) and set(ck_a["nets"]) == {"G", "D", "G_ema"}
    assert {float(s["step"]) for s in ck_a["optimizers"]["D"]["state"].values()} == {7.0}
    assert {float(s["step"]) for s in ck_a["optimizers"]["G"]["state"].values()} == {3.0}  # every 2nd D step
    assert [("loss_G" in m) for m in metrics(a)] == [False, True, True, True, True, True, True]  # carried in logs
    assert ck_a["args"]["num_classes"] == 10 and ck_a["args"]["ema_start"] == 1000
    weights = lambda net: {k: v for k, v in ck_a["nets"][net].items()  # noqa: E731 (parameters, not buffers)
                           if not any(s in k for s in ("running", "num_batches", "_u", "_v"))}
    assert nets_equal({"nets": {"G": weights("G")}}, {"nets": {"G": weights("G_ema")}})  # before ema_start: a copy

    ckpt = str(a / "ck" / "last.pt")
    results = run_cases("biggan", "sample", [
        ["--checkpoint", ckpt, "--out", str(tmp_path / "rows.png"), "--num", "3"],
        ["--checkpoint", ckpt, "--out", str(tmp_path / "psi.png"), "--truncation_grid"],
        ["--checkpoint", ckpt, "--out", str(tmp_path / "sevens"), "--label", "7", "--num", "2", "--truncation",
         "0.5"]], tmp_path)
    assert all(r["exit"] == 0 for r in results), [r["stderr"][-500:] for r in results]
    assert Image.open(tmp_path / "rows.png").size == (3 * 34 + 2, 10 * 34 + 2)  # a row per class
    assert Image.open(tmp_path / "psi.png").size == (4 * 34 + 2, 10 * 34 + 2)  # thresholds 2, 1, 0.5, 0.04
    assert Image.open(tmp_path / "sevens" / "000001.png").size == (32, 32)

    # evaluation/cifar_classifier.py accuracy on this checkpoint: Lite0's real weights, a probe file of the right shapes
    probe = {"mean": torch.zeros(1280), "std": torch.ones(1280), "weight": torch.randn(10, 1280),
             "bias": torch.zeros(10)}
    torch.save(probe, tmp_path / "probe.pt")
    r = run_script("evaluation", "cifar_classifier", "accuracy", "--checkpoint", ckpt, "--classifier",
                   tmp_path / "probe.pt", "--per_class", 1)
    assert r.returncode == 0 and "of 10 samples classified as their requested class" in r.stdout, r.stderr[-500:]
    r = run_script("evaluation", "cifar_classifier", "accuracy", "--checkpoint", ckpt, "--classifier", ckpt)
    assert r.returncode == 2 and r.stderr.startswith("error: --classifier") and "Traceback" not in r.stderr


def test_class_accuracy_probe_tells_right_from_wrong_classes():
    """The probe (evaluation/cifar_classifier.py) learns separable features; class_accuracy scores a "generator"
    drawing the asked classes 1 and one drawing the next class 0, through a stand-in feature net (mean colour)."""
    cc = load_module("evaluation", "cifar_classifier")
    colours = torch.rand(10, 3, generator=torch.Generator().manual_seed(0)) * 1.6 - 0.8  # a colour per class

    def draw(labels, shift=0):  # (B, 3, 8, 8) in [-1, 1]: the class colour plus a little noise
        noise = 0.05 * torch.randn(len(labels), 3, 8, 8)
        return (colours[(labels + shift) % 10].view(-1, 3, 1, 1) + noise).clamp(-1, 1)

    net = lambda images: (images.float().mean((2, 3)), torch.zeros(len(images), 1))  # noqa: E731  mean colour
    y = torch.arange(10).repeat(20)
    probe = cc.fit_probe(net(cc.to_uint8(draw(y)))[0], y)
    assert set(probe) == {"mean", "std", "weight", "bias"} and probe["weight"].shape == (10, 3)
    right, per_class = cc.class_accuracy(draw, net, probe, per_class=5)
    wrong, _ = cc.class_accuracy(lambda labels: draw(labels, shift=1), net, probe, per_class=5)
    assert right == 1.0 and per_class == [1.0] * 10 and wrong == 0.0
    picked = cc.stratified(torch.tensor([0, 1, 1, 2, 2, 2]), 2)  # class 0 has one item: all of it
    assert len(set(picked.tolist())) == 5 and torch.tensor([0, 1, 1, 2, 2, 2])[picked].bincount().tolist() == [1, 2, 2]


def test_bad_inputs(digits, tmp_path):
    base = ["--config", "cifar32", "--out_dir", str(tmp_path / "runs"), "--ckpt_dir", str(tmp_path / "ck"),
            "--num_workers", "0", "--dataset", "folder"]
    (tmp_path / "flat").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "flat" / "a.png")
    cases = [
        (["--data_root", str(digits / "train"), "--dim_z", "30"], "equal chunks"),
        (["--data_root", str(digits / "train"), "--attention", "12"], "--attention 12"),
        (["--data_root", str(digits / "train"), "--resolution", "48"], "invalid choice"),
        (["--data_root", str(digits / "train"), "--d_steps", "0"], "positive integer"),
        (["--data_root", str(digits / "train"), "--ch", "1", "--attention", "16"], "at least 8 channels"),
        (["--data_root", str(tmp_path / "none")], "does not exist"),
        (["--data_root", str(tmp_path / "flat")], "no class labels"),
    ]
    *results, train_help = run_cases("biggan", "train", [[*base, *args] for args, _ in cases] + [["--help"]],
                                     tmp_path)
    failures = [(args, r["stderr"][-400:]) for (args, expected), r in zip(cases, results)
                if not one_line_error(r, expected)]
    assert not failures
    r, sample_help = run_cases("biggan", "sample", [["--checkpoint", str(tmp_path / "none.pt")], ["--help"]],
                               tmp_path)
    assert one_line_error(r, "does not exist")
    assert all(h["exit"] == 0 and defaults_said_once(h["stdout"]) for h in (train_help, sample_help))
    assert (ROOT / "biggan" / "checkpoints" / ".gitkeep").exists()
    assert json.dumps(sorted(utils.CONFIGS)) == '["cifar32", "imagenet128"]'
