"""pix2pix and cyclegan: paper-size nets, losses, joint augmentation, the image pool, and train.py / sample.py
as a user runs them on tiny generated image sets (32 px, a few files)."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import ROOT, load_module, losses_with_emulated_graphs, needs_cuda, run_script
from test_train import defaults_said_once, metrics, nets_equal, one_line_error, resume_to, run_cases

p2p_model, cg_model = load_module("pix2pix", "model"), load_module("cyclegan", "model")
p2p_utils, cg_utils = load_module("pix2pix", "utils"), load_module("cyclegan", "utils")
p2p_data, cg_data = load_module("pix2pix", "dataset"), load_module("cyclegan", "dataset")


def params(net):
    return sum(p.numel() for p in net.parameters())


# ----------------------------------------------------------------------------------------------- models
def test_pix2pix_paper_sizes():
    """The official implementation's counts (G 54.41 M, D 2.77 M, ±0.1%), 256 → 256 and 30×30 patch logits."""
    g, d, out, logits = p2p_model.shape_check(256)
    assert abs(g - 54.41e6) / 54.41e6 < 1e-3 and abs(d - 2.77e6) / 2.77e6 < 1e-3
    assert (g, d) == (54_413_955, 2_768_705)
    assert out == (1, 3, 256, 256) and logits == (1, 1, 30, 30)


def test_pix2pix_unet_dropout_and_depth():
    G = p2p_model.UNetGenerator(3, 3, 64, num_downs=8)
    with_dropout = [any(isinstance(m, torch.nn.Dropout) for m in block.modules()) for block in G.ups]
    assert with_dropout == [True, True, True, False, False, False, False]  # CD512 ×3, then C512 C256 C128 C64
    small = p2p_model.UNetGenerator(3, 3, 8, num_downs=5)
    assert small(torch.randn(2, 3, 32, 32)).shape == (2, 3, 32, 32)
    with pytest.raises(ValueError):
        p2p_model.UNetGenerator(3, 3, 8, num_downs=4)


def test_patchgan_receptive_field_is_70():
    """The gradient of one output logit reaches exactly a 70×70 window of the input."""
    D = p2p_model.PatchDiscriminator(6, 8).eval()  # eval: BatchNorm must not mix positions
    x = torch.randn(1, 3, 128, 128, requires_grad=True)
    logits = D(x, torch.zeros(1, 3, 128, 128))  # (1, 1, 14, 14)
    logits[0, 0, 7, 7].backward()
    rows, cols = (x.grad[0].abs().sum(0) > 0).nonzero(as_tuple=True)
    assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (70, 70)


def test_cyclegan_paper_sizes():
    g, d, out, logits = cg_model.shape_check(256)
    assert (g, d) == (11_378_179, 2_764_737)  # "11.378 M" and "2.765 M"
    assert out == (1, 3, 256, 256) and logits == (1, 1, 30, 30)
    assert cg_model.default_blocks(256) == 9 and cg_model.default_blocks(128) == 6
    reflect = [m for m in cg_model.ResnetGenerator().modules() if isinstance(m, torch.nn.ReflectionPad2d)]
    assert len(reflect) == 2 + 2 * 9  # in, out, two per residual block


# ----------------------------------------------------------------------------------------------- losses
def test_pix2pix_losses_by_hand():
    zeros = torch.zeros(2, 1, 30, 30)
    assert p2p_utils.d_loss(zeros, zeros).item() == pytest.approx(np.log(2))  # ½ (ln 2 + ln 2)
    assert p2p_utils.g_adv_loss(zeros).item() == pytest.approx(np.log(2))
    assert p2p_utils.l1_loss(torch.full((1, 3, 4, 4), 0.5), torch.zeros(1, 3, 4, 4)).item() == 0.5
    big = torch.full((1, 1, 30, 30), 20.0)
    assert p2p_utils.d_loss(big, -big).item() < 1e-6  # a perfect D


def test_cyclegan_losses_by_hand():
    ones, zeros = torch.ones(1, 1, 30, 30), torch.zeros(1, 1, 30, 30)
    assert cg_utils.d_loss(ones, zeros).item() == 0  # least squares: real at 1, fake at 0
    assert cg_utils.d_loss(zeros, ones).item() == 1.0  # ½ (1 + 1)
    assert cg_utils.g_adv_loss(zeros).item() == 1.0 and cg_utils.g_adv_loss(ones).item() == 0
    x = torch.zeros(1, 3, 2, 2)
    assert cg_utils.cycle_loss(x + 0.25, x).item() == 0.25 and cg_utils.identity_loss(x - 1, x).item() == 1


@pytest.mark.parametrize("utils", [p2p_utils, cg_utils])
def test_linear_decay_schedule(utils):
    f = [utils.lr_factor(e, 200, 100) for e in range(200)]
    assert f[:100] == [1.0] * 100  # the first 100 epochs at the full rate
    assert f[100] == pytest.approx(1 - 1 / 101) and f[199] == pytest.approx(1 / 101)
    assert all(a > b for a, b in zip(f[99:], f[100:]))  # then strictly down, linearly
    assert np.allclose(np.diff(f[100:]), -1 / 101)


def test_image_pool():
    torch.manual_seed(0)
    pool = cg_utils.ImagePool(3)
    first = torch.arange(3.0).view(3, 1, 1, 1)
    assert torch.equal(pool.query(first), first)  # filling up: every fake is used as is
    seen = set()
    for k in range(20):
        new = torch.full((1, 1, 1, 1), 10.0 + k)
        out = float(pool.query(new))
        assert out == 10.0 + k or out < 10.0 + k  # the new fake, or an older one from the pool
        seen.add(out == 10.0 + k)
        assert len(pool.images) == 3
    assert seen == {True, False}  # both branches happen
    restored = cg_utils.ImagePool(3)
    restored.load_state_dict(pool.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(pool.images, restored.images))
    assert torch.equal(cg_utils.ImagePool(0).query(first), first)


# ----------------------------------------------------------------------------------------------- data
def write_pairs(root, n=6, n_test=3, size=32, seed=0):
    """Tiny A|B pairs (2·size × size JPEG-free PNGs) in root/train and root/test."""
    rng = np.random.default_rng(seed)
    for split, count in (("train", n), ("test", n_test)):
        (root / split).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            a = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(np.concatenate([a, 255 - a], axis=1)).save(root / split / f"{i}.png")
    return root


def write_unpaired(root, n_a=5, n_b=4, size=32, seed=0):
    rng = np.random.default_rng(seed)
    for folder, count in (("trainA", n_a), ("trainB", n_b), ("testA", 2), ("testB", 2)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(root / folder / f"{i}.png")
    return root


def test_jitter_is_identical_on_both_images_and_seeded(tmp_path):
    """A|B with B = A: after the random resize-crop-flip the two must still be equal pixel for pixel."""
    rng = np.random.default_rng(1)
    (tmp_path / "train").mkdir()
    a = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(np.concatenate([a, a], axis=1)).save(tmp_path / "train" / "0.png")
    ds = p2p_data.PairedDataset(tmp_path / "train", "AtoB", p2p_data.paired_transform(48, 32, train=True))
    crops = set()
    for seed in range(12):
        x, y = ds[(0, seed)]
        assert x.shape == (3, 32, 32) and torch.equal(x, y)
        assert torch.equal(ds[(0, seed)][0], x)  # the same seed gives the same crop
        crops.add(x.sum().item())
    assert len(crops) > 3  # and different seeds different crops/flips


def test_direction_picks_the_half(tmp_path):
    write_pairs(tmp_path, n=1, n_test=0)
    t = p2p_data.paired_transform(32, 32, train=False)
    a2b, b2a = (p2p_data.PairedDataset(tmp_path / "train", d, t)[0] for d in ("AtoB", "BtoA"))
    assert torch.equal(a2b[0], b2a[1]) and torch.equal(a2b[1], b2a[0])
    assert torch.allclose(a2b[0], -a2b[1], atol=1e-6)  # B = 255 − A, i.e. −A in [-1, 1]


def test_paper_test_mode_keeps_dropout_and_changes_nothing():
    G = p2p_model.UNetGenerator(3, 3, 4, num_downs=6)
    x = torch.randn(1, 3, 64, 64)
    G(torch.randn(4, 3, 64, 64))  # move the BatchNorm running statistics off their initial values
    before = {k: v.clone() for k, v in G.state_dict().items()}
    state = torch.get_rng_state()
    with p2p_utils.paper_test_mode(G, seed=1):
        y1 = G(x)
    with p2p_utils.paper_test_mode(G, seed=1):
        y2 = G(x)
    with p2p_utils.paper_test_mode(G, seed=2):
        y3 = G(x)
    assert torch.equal(y1, y2) and not torch.equal(y1, y3)  # dropout is on, and seeded
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())
    assert torch.equal(torch.get_rng_state(), state)  # the training RNG is untouched


# ----------------------------------------------------------------------------------------------- train.py
SMALL = {"pix2pix": ["--ngf", "8", "--ndf", "8", "--crop_size", "32", "--load_size", "36"],
         "cyclegan": ["--ngf", "8", "--ndf", "8", "--crop_size", "32", "--load_size", "36", "--n_blocks", "1"]}
NETS = {"pix2pix": {"G", "D"}, "cyclegan": {"G", "F", "D_X", "D_Y"}}


@pytest.fixture
def data(tmp_path):
    return {"pix2pix": write_pairs(tmp_path / "pairs"), "cyclegan": write_unpaired(tmp_path / "unpaired")}


def args_for(folder, data_root, out, *extra):
    return ["--dataset", "folder", "--data_root", data_root, "--out_dir", out / "runs", "--ckpt_dir", out / "ck",
            "--num_workers", "0", "--log_every", "1", *SMALL[folder], *extra]


@pytest.mark.parametrize("folder", ["pix2pix", "cyclegan"])
def test_an_epoch_with_evaluation_from_the_root(folder, data, tmp_path):
    r = run_script(folder, "train", *args_for(folder, data[folder], tmp_path, "--epochs", "2",
                                              "--decay_epochs", "1"))
    assert r.returncode == 0, r.stderr
    ck = torch.load(tmp_path / "ck" / "last.pt", weights_only=True)
    steps = 6 if folder == "pix2pix" else 5  # pix2pix: 6 pairs; cyclegan: max(5 A, 4 B) at batch 1
    assert ck["arch"] == folder and ck["epoch"] == 2 and ck["step"] == 2 * steps
    assert set(ck["nets"]) == NETS[folder] and ck["optimizers"]["D"]["state"]
    evals = [m for m in metrics(tmp_path) if "lr" in m]
    assert [m["epoch"] for m in evals] == [1, 2]
    assert [m["lr"] for m in evals] == pytest.approx([2e-4, 1e-4])  # epoch 2 of 2 decays to ½ (1 − 1/2)
    key = "eval_PSNR" if folder == "pix2pix" else "eval_cycle_X"
    assert all(np.isfinite(m[key]) for m in evals)
    grid = Image.open(tmp_path / "runs" / "samples" / "epoch_002.png")
    assert grid.size[0] > 3 * 32  # input | output | target (or reconstruction) columns
    assert "batch" in r.stderr and "loss_G=" in r.stderr
    if folder == "cyclegan":
        assert ck["extras"]["pool_X"]["images"].shape == (2 * steps, 3, 32, 32)  # pool of 50 not yet full


def two_steps_from_inside_the_folder(folder, data, tmp_path):
    """Train 2 steps with the folder as the working directory (as `cd pix2pix && python train.py`); the checkpoint."""
    r = run_script(folder, "train", *args_for(folder, data[folder], tmp_path, "--max_steps", "2"),
                   cwd=ROOT / folder)
    assert r.returncode == 0, r.stderr
    ck = tmp_path / "ck" / "last.pt"
    assert torch.load(ck, weights_only=True)["step"] == 2
    return ck


def user_image(tmp_path, name, array):
    (tmp_path / "user").mkdir(exist_ok=True)
    Image.fromarray(array).save(tmp_path / "user" / name)
    return tmp_path / "user"


@pytest.mark.parametrize("folder", ["pix2pix", "cyclegan"])
def test_resume_equals_uninterrupted(folder, data, tmp_path):
    """8 steps in one run == 3 steps, save, resume to 8 (crossing into epoch 2, with evaluation in between):
    same losses, weights, optimizer state, and (cyclegan) the same pool of past fakes."""
    a, b = tmp_path / "a", tmp_path / "b"
    r = run_script(folder, "train", *args_for(folder, data[folder], a, "--max_steps", "8"))
    assert r.returncode == 0, r.stderr
    r = run_script(folder, "train", *args_for(folder, data[folder], b, "--max_steps", "3"))
    assert r.returncode == 0, r.stderr
    resume_to(folder, b, 8)
    assert metrics(a) == metrics(b) and len([m for m in metrics(a) if "loss_G" in m]) == 8
    ck_a, ck_b = (torch.load(p / "ck" / "last.pt", weights_only=True) for p in (a, b))
    assert nets_equal(ck_a, ck_b) and ck_b["step"] == 8
    assert json.dumps(ck_a["optimizers"]["G"]["param_groups"]) == json.dumps(ck_b["optimizers"]["G"]["param_groups"])
    for name in ck_a["extras"]:
        assert torch.equal(ck_a["extras"][name]["images"], ck_b["extras"][name]["images"])


def test_pix2pix_sample_translates_files_folders_and_pairs(data, tmp_path):
    ck = two_steps_from_inside_the_folder("pix2pix", data, tmp_path)
    user = user_image(tmp_path, "photo.jpg", np.zeros((50, 70, 3), np.uint8))
    r = run_script("pix2pix", "sample", user / "photo.jpg", "--checkpoint", ck, "--out", tmp_path / "o1")
    assert r.returncode == 0, r.stderr
    assert Image.open(tmp_path / "o1" / "photo.png").size == (32, 32)  # the training crop size
    r = run_script("pix2pix", "sample", data["pix2pix"] / "test", "--paired", "--checkpoint", ck,
                   "--out", tmp_path / "o2")
    assert r.returncode == 0, r.stderr
    outs = sorted(p.name for p in (tmp_path / "o2").iterdir())
    assert outs == ["0.png", "1.png", "2.png"] and Image.open(tmp_path / "o2" / "0.png").size == (96, 32)


def test_cyclegan_sample_both_directions(data, tmp_path):
    ck = two_steps_from_inside_the_folder("cyclegan", data, tmp_path)
    user = user_image(tmp_path, "wide.png", np.full((40, 90, 3), 128, np.uint8))
    sizes = {}
    for direction in ("AtoB", "BtoA"):
        out = tmp_path / direction
        r = run_script("cyclegan", "sample", user, "--direction", direction, "--checkpoint", ck, "--out", out)
        assert r.returncode == 0, r.stderr
        sizes[direction] = Image.open(out / "wide.png")
    assert sizes["AtoB"].size == (72, 32)  # shorter side → crop_size 32, aspect kept, multiples of 4
    assert not np.array_equal(np.asarray(sizes["AtoB"]), np.asarray(sizes["BtoA"]))  # G and F differ


def bad_inputs(folder, data, tmp_path):
    flat = tmp_path / "flat.txt"
    flat.write_text("x")
    wrong = tmp_path / "wrong"
    (wrong / "train").mkdir(parents=True)
    Image.fromarray(np.zeros((32, 20, 3), np.uint8)).save(wrong / "train" / "0.png")  # taller than wide
    (wrong / "trainA").mkdir()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(wrong / "trainA" / "0.png")  # and no trainB
    base = ["--out_dir", str(tmp_path / "runs"), "--ckpt_dir", str(tmp_path / "ck"), "--num_workers", "0"]
    size = {"pix2pix": "power of two", "cyclegan": "multiple of 4"}[folder]
    cases = [
        ("missing folder", ["--dataset", "folder", "--data_root", str(tmp_path / "nope")], "does not exist"),
        ("file as root", ["--dataset", "folder", "--data_root", str(flat)], "is a file"),
        ("wrong layout", ["--dataset", "folder", "--data_root", str(wrong)],
         "side by side" if folder == "pix2pix" else "trainB"),
        ("download fails", ["--data_root", str(tmp_path / "empty")], "download"),
        ("bad crop", ["--crop_size", "30"], size),
        ("load < crop", ["--load_size", "200"], "load_size"),
        ("decay > epochs", ["--epochs", "5"], "decay_epochs"),
        ("bad direction" if folder == "pix2pix" else "negative", ["--direction", "up"] if folder == "pix2pix"
         else ["--lambda_id", "-1"], "invalid choice" if folder == "pix2pix" else "negative"),
        ("resume nothing", ["--resume", str(tmp_path / "none.pt")], "does not exist"),
    ]
    return [(name, [*base, *args], msg) for name, args, msg in cases]


@pytest.mark.parametrize("folder", ["pix2pix", "cyclegan"])
def test_bad_inputs_give_one_line_errors(folder, data, tmp_path):
    cases = bad_inputs(folder, data, tmp_path)
    cases += [("sample: no input", ["sample", str(tmp_path / "none.png")], "does not exist")]
    train_cases, sample_cases = cases[:-1], cases[-1:]
    *results, train_help = run_cases(folder, "train", [args for _, args, _ in train_cases] + [["--help"]], tmp_path)
    sample_result, sample_help = run_cases(folder, "sample", [[str(tmp_path / "none.png")], ["--help"]], tmp_path)
    failures = [f"{name}: exit={r['exit']} stderr={r['stderr'][-600:]!r}"
                for (name, _, expected), r in zip(train_cases + sample_cases, [*results, sample_result])
                if not one_line_error(r, expected)]
    assert not failures, "\n".join(failures)
    assert all(h["exit"] == 0 and defaults_said_once(h["stdout"]) for h in (train_help, sample_help))


@pytest.mark.parametrize("folder", ["pix2pix", "cyclegan"])
def test_emulated_cuda_graphs_train_as_eager(folder, data, tmp_path):
    """The train loop with --cuda_graphs (tests/emulate_graphs.py: the CUDA calls emulated on the CPU): 3 warm-ups,
    a recording, a new one in epoch 2 (new lr), outputs overwritten at each replay (CycleGAN's pool must keep
    copies of the fakes: a pool of 1 is full, and drawn from, after one step); every loss equals the plain run's."""
    pool = ["--pool_size", "1"] if folder == "cyclegan" else []
    losses = losses_with_emulated_graphs(folder, lambda out: args_for(folder, data[folder], out, "--max_steps", "10",
                                                                      "--epochs", "2", "--decay_epochs", "1", *pool),
                                         tmp_path, "loss_G")
    assert len(losses[True]) == 10 and losses[True] == losses[False]


@needs_cuda
@pytest.mark.parametrize("folder", ["pix2pix", "cyclegan"])
def test_cuda_graphs_train_like_eager(folder, data, tmp_path):
    """--cuda_graphs: 3 eager warm-up steps, a capture, replays, a new capture in epoch 2 (new lr). The losses
    follow the eager run's (not bit for bit: dropout masks and cuDNN kernels may differ), and they change from
    step to step (the replays see new inputs and updated weights)."""
    losses = {}
    for graphs in ([], ["--cuda_graphs"]):
        out = tmp_path / ("graphs" if graphs else "eager")
        r = run_script(folder, "train", *args_for(folder, data[folder], out, "--max_steps", "10", "--epochs", "2",
                                                  "--decay_epochs", "1", "--device", "cuda", *graphs))
        assert r.returncode == 0, r.stderr[-3000:]
        losses[bool(graphs)] = [m["loss_G"] for m in metrics(out) if "loss_G" in m]
    assert len(losses[True]) == 10 and len(set(losses[True][3:])) == 7
    assert losses[True] == pytest.approx(losses[False], rel=0.05)
