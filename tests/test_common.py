"""common/: checkpoints, RNG state, data sources and data order."""
import random
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from common.checkpoint import load_checkpoint, load_state, rng_state, save_checkpoint, set_rng_state
from common.data import EpochSampler, load_source, make_loader
from common.errors import CheckpointError, DataError, UserError
from conftest import write_digits


# ----------------------------------------------------------------------------------------------- checkpoints
def test_checkpoint_round_trip_weights_only(tmp_path):
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters())
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    path = tmp_path / "ck" / "last.pt"
    save_checkpoint(path, {"arch": "x", "nets": {"G": net.state_dict()}, "optimizers": {"G": opt.state_dict()},
                           "epoch": 2, "step": 7, "rng": rng_state(), "args": {"lr": 0.1, "name": "a", "r": None}})
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # no temp file left behind
    raw = torch.load(path, weights_only=True)  # loadable without unpickling code
    assert raw["step"] == 7 and raw["args"] == {"lr": 0.1, "name": "a", "r": None}
    ck = load_checkpoint(path, "x")
    net2, opt2 = torch.nn.Linear(3, 2), torch.optim.Adam(torch.nn.Linear(3, 2).parameters())
    load_state(net2, ck["nets"]["G"], "G", path)
    opt2.load_state_dict(ck["optimizers"]["G"])
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), net2.state_dict().values()))
    assert torch.equal(opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])


def test_atomic_save_keeps_old_file_when_write_fails(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"arch": "x", "nets": {}, "step": 1})
    before = path.read_bytes()
    with pytest.raises(Exception):
        save_checkpoint(path, {"arch": "x", "nets": {}, "bad": lambda: 0})  # cannot be pickled
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_checkpoint_errors_are_clear(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a checkpoint of this collection"):
        load_checkpoint(tmp_path / "other.pt")
    save_checkpoint(tmp_path / "w.pt", {"arch": "wgan", "nets": {}})
    with pytest.raises(CheckpointError, match="written by wgan"):
        load_checkpoint(tmp_path / "w.pt", "dcgan")
    with pytest.raises(CheckpointError, match="does not fit G"):
        load_state(torch.nn.Linear(3, 3), torch.nn.Linear(3, 2).state_dict(), "G", "p.pt")


def test_rng_state_round_trip():
    state = rng_state()
    a = (torch.rand(3), np.random.rand(3), random.random(), np.random.randn())
    set_rng_state(state)
    b = (torch.rand(3), np.random.rand(3), random.random(), np.random.randn())
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2:] == b[2:]


# ----------------------------------------------------------------------------------------------- data
def write_idx(path, array, magic):
    with open(path, "wb") as f:
        f.write(struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape))
        f.write(array.astype(np.uint8).tobytes())


def test_mnist_torchvision_layout(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.arange(5 * 28 * 28).reshape(5, 28, 28) % 256
    for split in ("train", "t10k"):
        write_idx(raw / f"{split}-images-idx3-ubyte", images, 0x803)
        write_idx(raw / f"{split}-labels-idx1-ubyte", np.array([3, 1, 4, 1, 5]), 0x801)
    src = load_source("mnist", tmp_path)
    assert len(src) == 5 and src.channels == 1 and src.labels.tolist() == [3, 1, 4, 1, 5]
    assert np.array_equal(src.image(2)[:, :, 0], images[2])


def test_mnist_image_folder_layout_and_labels(tmp_path):
    write_digits(tmp_path, per_class=2, classes=[0, 3, 7])
    src = load_source("mnist", tmp_path)
    assert len(src) == 6 and src.image(0).shape == (28, 28, 1)
    assert sorted(set(src.labels.tolist())) == [0, 3, 7]  # labels are the digits, not folder indices
    assert src.classes == 10  # a conditional model still needs an embedding row for every digit


def test_mnist_wrong_layout(tmp_path):
    (tmp_path / "train" / "cats").mkdir(parents=True)
    Image.new("L", (8, 8)).save(tmp_path / "train" / "cats" / "a.png")
    with pytest.raises(DataError, match="MNIST needs folders named 0-9"):
        load_source("mnist", tmp_path)


def test_folder_dataset_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_source("folder", tmp_path / "nope")
    with pytest.raises(DataError, match="no images"):
        load_source("folder", tmp_path)
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(DataError, match="is a file"):
        load_source("folder", tmp_path / "f.txt")


def test_folder_dataset_reads_rgb_and_reports_unreadable_images(tmp_path):
    Image.new("RGB", (10, 6), (255, 0, 0)).save(tmp_path / "a.jpg")
    Image.new("L", (10, 6), 7).save(tmp_path / "b.png")  # grey image in an RGB dataset: converted
    (tmp_path / "c.png").write_bytes(b"\x89PNG broken")
    src = load_source("folder", tmp_path)
    assert len(src) == 3 and src.image(0).shape == (6, 10, 3) and src.image(1).shape == (6, 10, 3)
    with pytest.raises(DataError, match="cannot read image .*c.png"):
        src.image(2)


def test_cifar_svhn_and_celeba_without_data_or_network_fail_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    with pytest.raises(DataError, match="CIFAR-10 is not under"):
        load_source("cifar10", tmp_path)
    with pytest.raises(DataError, match="SVHN is not under .*put train_32x32.mat in --data_root"):
        load_source("svhn", tmp_path)
    with pytest.raises(DataError, match="CelebA is not under .* download did not help"):
        load_source("celeba", tmp_path)


def test_celeba_layout(tmp_path):
    folder = tmp_path / "celeba" / "img_align_celeba"
    folder.mkdir(parents=True)
    for i in range(3):
        Image.new("RGB", (178, 218), (i, 0, 0)).save(folder / f"{i:06d}.jpg")
    src = load_source("celeba", tmp_path)
    assert len(src) == 3 and src.image(0).shape == (218, 178, 3)


# ----------------------------------------------------------------------------------------------- data order
def test_epoch_sampler_is_a_function_of_seed_and_epoch_and_skips_done_batches():
    s = EpochSampler(10, 3, seed=5)
    s.set_epoch(2)
    full = list(s)
    assert len(full) == 9 and len(set(full)) == 9  # drop_last: 3 full batches, no repeats
    s.set_epoch(2, start_batch=2)
    assert list(s) == full[6:] and len(s) == 3
    s.set_epoch(3)
    assert list(s) != full
    s2 = EpochSampler(10, 3, seed=5)
    s2.set_epoch(2)
    assert list(s2) == full


def test_loader_rejects_batch_larger_than_dataset():
    with pytest.raises(UserError, match="fewer than --batch_size"):
        make_loader(list(range(5)), 8, seed=0, num_workers=0, pin_memory=False)


def test_resume_keeps_the_checkpoint_precision_unless_given_again():
    import argparse

    from common.flags import merge_resume_args

    saved = {"amp": "bf16", "ngf": 8, "device": "cuda", "epochs": 5}
    parsed = dict(ngf=8, device="cpu", epochs=5, ckpt_dir="ck")  # what argparse made of the command line
    args = merge_resume_args(argparse.Namespace(amp="auto", **parsed), saved, ["--resume"], "ck/last.pt")
    assert (args.amp, args.device) == ("bf16", "cpu")  # precision kept; the device is this process's choice
    args = merge_resume_args(argparse.Namespace(amp="off", **parsed), saved, ["--resume", "--amp", "off"], "ck")
    assert args.amp == "off"  # given again: the command line wins


def test_svhn_layouts(tmp_path):
    """torchvision's train_32x32.mat (X: 32×32×3×N, y: 1-10 with 10 for the digit 0) and an image folder."""
    from scipy.io import savemat

    x = np.random.default_rng(0).integers(0, 256, (32, 32, 3, 4), dtype=np.uint8)
    savemat(tmp_path / "train_32x32.mat", {"X": x, "y": np.array([[10], [1], [2], [3]])})
    src = load_source("svhn", tmp_path)
    assert len(src) == 4 and src.channels == 3 and src.labels.tolist() == [0, 1, 2, 3]
    assert np.array_equal(src.image(1), x[:, :, :, 1])
    write_digits(tmp_path / "folder", per_class=1)
    assert len(load_source("svhn", tmp_path / "folder")) == 10
