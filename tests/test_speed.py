"""The speed plumbing on a CPU: benchmark.py runs and prints its table, the GPU-resident loader gives the same
batches as the DataLoader, sampler tuples for unpaired data and augmentation seeds, and a checkpoint written
with fused Adam on a GPU resumes on a CPU. (No timing assertions: CI machines vary.)"""
import subprocess
import sys

import torch

from common.data import EpochSampler, ImageDataset, load_source, make_loader, square_transform
from conftest import ROOT, offline_env, run_script, train_args


def test_benchmark_runs_on_cpu_and_prints_its_table():
    r = subprocess.run([sys.executable, str(ROOT / "benchmark.py"), "--arch", "dcgan", "--steps", "2", "--warmup",
                        "1", "--device", "cpu", "--batch_size", "8", "--num_workers", "0", "--compare-eager"],
                       cwd=ROOT, env=offline_env(), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.splitlines()
    assert lines[0].startswith("device: ") and "torch" in lines[0]
    assert "| arch | path | batch | ms/step | images/s |" in r.stdout
    eager = next(ln for ln in lines if ln.startswith("| dcgan | eager | 8 |"))
    default = next(ln for ln in lines if ln.startswith("| dcgan | default | 8 |"))
    assert float(eager.split("|")[4]) > 0 and default.rstrip(" |").endswith("×")  # the ratio column


def test_device_loader_gives_the_dataloader_batches(digits):
    """The GPU-resident path (here on the CPU device) yields the same images, labels and order."""
    ds = ImageDataset(load_source("mnist", digits, 1), square_transform(64))
    loader, sampler = make_loader(ds, 4, 0, 0, False)
    on_device, sampler2 = make_loader(ds, 4, 0, 0, False, device=torch.device("cpu"))
    assert type(on_device).__name__ == "DeviceLoader" and on_device.images.dtype == torch.uint8
    for epoch, start in ((0, 0), (1, 2)):
        sampler.set_epoch(epoch, start)
        sampler2.set_epoch(epoch, start)
        a, b = list(loader), list(on_device)
        assert len(a) == len(b) == 5 - start
        for (x1, y1), (x2, y2) in zip(a, b):
            assert torch.equal(y1, y2) and torch.allclose(x1, x2, atol=1e-6)


def test_sampler_tuples_depend_only_on_seed_and_epoch():
    full = list(EpochSampler(10, 2, 3, n_b=4, aug_seeds=True))
    assert len(full) == 10 and all(len(t) == 3 and 0 <= t[1] < 4 for t in full)
    assert sorted(t[0] for t in full) == list(range(10))
    later = EpochSampler(10, 2, 3, n_b=4, aug_seeds=True)
    later.set_epoch(0, 2)
    assert list(later) == full[4:]  # a resumed epoch replays the same (i, j, seed) triples
    other = EpochSampler(10, 2, 3, n_b=4, aug_seeds=True)
    other.set_epoch(1)
    assert list(other) != full
    assert list(EpochSampler(10, 2, 3)) == [t[0] for t in full]  # plain indices: the same permutation


def test_fused_adam_checkpoint_resumes_on_cpu(digits, tmp_path):
    """A GPU run saves `fused: True` in Adam's param groups; resuming on a CPU must not inherit it."""
    r = run_script("dcgan", "train", *train_args("dcgan", digits, tmp_path, "--max_steps", 2))
    assert r.returncode == 0, r.stderr
    ck = torch.load(tmp_path / "ck" / "last.pt", weights_only=True)
    for opt in ck["optimizers"].values():
        for group in opt["param_groups"]:
            group["fused"] = True
    torch.save(ck, tmp_path / "gpu.pt")
    r = run_script("dcgan", "train", "--resume", tmp_path / "gpu.pt", "--ckpt_dir", tmp_path / "ck2",
                   "--num_workers", 0, "--max_steps", 4, "--time_steps", 1)
    assert r.returncode == 0, r.stderr
    ck = torch.load(tmp_path / "ck2" / "last.pt", weights_only=True)
    assert ck["step"] == 4 and ck["optimizers"]["G"]["param_groups"][0]["fused"] is False
    assert '"amp": "off"' in r.stdout and "TIMING" in r.stdout  # --amp auto is off on a CPU; --time_steps reports
