"""One run on several processes (torchrun, common/distributed.py), on the CPU with gloo and 2 processes: the same
run as one process with the same global batch, process 0 alone writes, checkpoints move between process counts,
Ctrl-C and an unreadable image stop every process at the same step, and a batch that does not split is one line."""
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from common.data import EpochSampler
from conftest import ROOT, metrics_at, offline_env, train_args, write_digits
from test_super_resolution import TINY, write_hr
from test_translation import SMALL as TRANSLATION_SMALL
from test_translation import write_unpaired


def torchrun(folder, nproc, *args, timeout=300):
    """`torchrun --standalone --nproc_per_node nproc <folder>/train.py args` (nproc 1: a plain python run)."""
    script = str(ROOT / folder / "train.py")
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc)]
    cmd = [*launcher, script] if nproc > 1 else [sys.executable, script]
    env = dict(offline_env(), OMP_NUM_THREADS="1")  # 2 processes on CI's 2 cores
    return subprocess.run([*cmd, *map(str, args)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def ours(stderr):
    """Our processes' error lines and the frames of any traceback through our code (torchrun's own warnings,
    traceback and failure report are not ours)."""
    return [ln for ln in stderr.replace("\r", "\n").splitlines()
            if ln.startswith("error:") or (f'File "{ROOT}' in ln and "site-packages" not in ln)]


def load(path):
    return torch.load(path, weights_only=True)


def close(a, b, tol=1e-5):
    """The nets of two checkpoints agree to float tolerance (summation order differs between process counts)."""
    return all(torch.allclose(a["nets"][n][k].float(), b["nets"][n][k].float(), atol=tol, rtol=tol)
               for n in a["nets"] for k in a["nets"][n])


def agree_under_adam(a, b, lr):
    """Two checkpoints' nets after the same steps on different process counts. Adam's first steps move each weight
    by about ±lr whatever the gradient's size, so a gradient that is zero up to float noise (a bias just before
    an InstanceNorm, which removes it) moves by +lr in one run and −lr in the other: such weights may differ by
    2·lr per step. All others must agree to 1e-5, and they are nearly all (the logged losses say the same)."""
    diffs = torch.cat([(a["nets"][n][k].float() - b["nets"][n][k].float()).abs().flatten()
                       for n in a["nets"] for k in a["nets"][n]])
    return diffs.max() <= 2.02 * lr * a["step"] and (diffs <= 1e-5).float().mean() >= 0.99


def losses_close(a, b, tol=1e-5):
    rows_a, rows_b = metrics_at(a / "runs"), metrics_at(b / "runs")
    assert [r["step"] for r in rows_a] == [r["step"] for r in rows_b]
    return all(r[k] == pytest.approx(s[k], rel=tol, abs=tol) for r, s in zip(rows_a, rows_b) for k in r)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_digits(tmp_path_factory.mktemp("dist") / "mnist", per_class=4)  # 40 digits: 5 batches of 8


@pytest.fixture(scope="module")
def one_process(data, tmp_path_factory):
    """The reference: simple_gan, 2 epochs of batch 8, one process."""
    out = tmp_path_factory.mktemp("one")
    r = torchrun("simple_gan", 1, *train_args("simple_gan", data, out, "--batch_size", 8, "--epochs", 2))
    assert r.returncode == 0, r.stderr
    return out


def test_each_process_takes_its_slice_of_every_global_batch():
    for world in (2, 4):
        for start in (0, 2):
            full = EpochSampler(50, 8, seed=3, n_b=7, aug_seeds=True)
            full.set_epoch(1, start)
            parts = []
            for rank in range(world):
                s = EpochSampler(50, 8, seed=3, n_b=7, aug_seeds=True, rank=rank, world=world)
                s.set_epoch(1, start)
                parts.append(list(s))
                assert len(s) == len(parts[-1]) == (6 - start) * 8 // world
            batches = [sum((p[i * 8 // world:(i + 1) * 8 // world] for p in parts), []) for i in range(6 - start)]
            assert sum(batches, []) == list(full)  # rank order within each batch = the one-process batch


def test_two_processes_train_as_one_and_process_0_alone_writes(data, one_process, tmp_path):
    r = torchrun("simple_gan", 2, *train_args("simple_gan", data, tmp_path, "--batch_size", 8, "--epochs", 2))
    assert r.returncode == 0, r.stderr
    assert close(load(one_process / "ck" / "last.pt"), load(tmp_path / "ck" / "last.pt"))
    assert losses_close(one_process, tmp_path)  # the logged losses are the global batch's, logged once per step
    assert len(metrics_at(tmp_path / "runs")) == 10
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["last.pt"]
    assert len(list((tmp_path / "runs" / "tb").iterdir())) == 1  # one TensorBoard event file
    assert sorted(p.name for p in (tmp_path / "runs" / "samples").iterdir()) == ["epoch_001.png", "epoch_002.png"]
    assert r.stdout.count("simple_gan | device cpu") == 1 and r.stdout.count("done: 2 epochs") == 1
    ck = load(tmp_path / "ck" / "last.pt")
    assert ck["args"]["batch_size"] == 8 and ck["step"] == 10


def test_checkpoints_move_between_process_counts(data, one_process, tmp_path):
    """Epoch 1 on 2 processes, epoch 2 on 1, and the reverse: both end as the one-process run."""
    for first, second in ((2, 1), (1, 2)):
        out = tmp_path / f"{first}to{second}"
        args = train_args("simple_gan", data, out, "--batch_size", 8)
        assert torchrun("simple_gan", first, *args, "--epochs", 1).returncode == 0
        r = torchrun("simple_gan", second, "--resume", out / "ck" / "last.pt", "--epochs", 2, "--num_workers", 0,
                     "--log_every", 1)
        assert r.returncode == 0, r.stderr
        assert r.stdout.count("resumed from") == 1
        assert close(load(one_process / "ck" / "last.pt"), load(out / "ck" / "last.pt"))
        assert losses_close(one_process, out)


def test_gradient_penalty_and_sync_batchnorm_train_as_one(data, tmp_path):
    """wgan_gp: the critic's double backward, G's BatchNorm over the global batch (--sync_bn; on the CPU
    common.distributed.CPUSyncBatchNorm), 5 critic steps per G step."""
    args = lambda out: train_args("wgan_gp", data, out, "--batch_size", 8, "--epochs", 2)  # noqa: E731
    r1 = torchrun("wgan_gp", 1, *args(tmp_path / "one"))
    r2 = torchrun("wgan_gp", 2, *args(tmp_path / "two"), "--sync_bn")
    assert r1.returncode == 0 and r2.returncode == 0, r1.stderr + r2.stderr
    assert "--sync_bn: 4 BatchNorm layers" in r2.stdout
    one, two = load(tmp_path / "one" / "ck" / "last.pt"), load(tmp_path / "two" / "ck" / "last.pt")
    # Float noise in near-zero gradients becomes lr-sized steps under Adam (agree_under_adam), and the penalty
    # magnifies them in the losses (seen: 3e-4 relative in GP after 6 steps): hence 1e-3, and the control below,
    # which misses by far more
    assert agree_under_adam(one, two, lr=1e-4)  # running statistics included: they follow the global batch
    assert losses_close(tmp_path / "one", tmp_path / "two", tol=1e-3)
    # without --sync_bn each process normalises with its own 4 images: another run from the first step
    r3 = torchrun("wgan_gp", 2, *args(tmp_path / "own"), "--max_steps", 1)
    assert r3.returncode == 0, r3.stderr
    own, ref = (metrics_at(tmp_path / name / "runs")[0]["loss_C"] for name in ("own", "one"))
    assert abs(own - ref) > 1e-2 * abs(ref), (own, ref)


def test_image_pools_and_random_crops_train_as_one(tmp_path):
    """CycleGAN (InstanceNorm, a pool of past fakes gathered over the processes) and ESRGAN's PSNR phase (random
    crops seeded per sample): 2 processes = 1 at the same global batch."""
    unpaired, hr = write_unpaired(tmp_path / "unpaired"), write_hr(tmp_path / "hr", 8)
    runs = {"cyclegan": lambda out: ["--dataset", "folder", "--data_root", unpaired, "--out_dir", out / "runs",
                                     "--ckpt_dir", out / "ck", "--num_workers", 0, "--log_every", 1,
                                     *TRANSLATION_SMALL["cyclegan"], "--batch_size", 2, "--pool_size", 3,
                                     "--epochs", 2, "--decay_epochs", 0],
            "esrgan": lambda out: ["--phase", "psnr", "--data_root", hr, "--out_dir", out / "runs", "--ckpt_dir",
                                   out / "ck", "--batch_size", 4, "--num_workers", 0, "--log_every", 1,
                                   *TINY["esrgan"], "--epochs", 2]}
    for folder, args in runs.items():
        results = [torchrun(folder, n, *args(tmp_path / folder / str(n))) for n in (1, 2)]
        assert all(r.returncode == 0 for r in results), results[0].stderr + results[1].stderr
        one, two = (load(tmp_path / folder / str(n) / "ck" / "last.pt") for n in (1, 2))
        assert one["step"] == two["step"] == 4 and agree_under_adam(one, two, lr=2e-4), folder
        assert losses_close(tmp_path / folder / "1", tmp_path / folder / "2"), folder
        if folder == "cyclegan":  # the pool (4 steps of 2 fakes, 3 kept): the one-process pool, saved once
            assert torch.allclose(one["extras"]["pool_Y"]["images"], two["extras"]["pool_Y"]["images"], atol=1e-4)


def test_srgan_gan_phase_averages_the_generators_per_term_gradients(tmp_path):
    """SRGAN's GAN phase backpropagates G's loss one term at a time (srgan/utils.backward_by_term), outside the
    plain backward: its gradients must still be averaged over the processes, or each process's G drifts off on its
    own half of the batch. 2 processes (BatchNorm over the global batch: --sync_bn) = 1 at the same global batch."""
    hr = write_hr(tmp_path / "hr", 8)
    args = lambda out: ["--phase", "gan", "--data_root", hr, "--out_dir", out / "runs", "--ckpt_dir",  # noqa: E731
                        out / "ck", "--batch_size", 4, "--num_workers", 0, "--log_every", 1, "--vgg_weights", "none",
                        "--pretrained", "none", *TINY["srgan"], "--epochs", 2]
    results = [torchrun("srgan", n, *args(tmp_path / str(n)), *(["--sync_bn"] if n > 1 else [])) for n in (1, 2)]
    assert all(r.returncode == 0 for r in results), results[0].stderr + results[1].stderr
    one, two = (load(tmp_path / str(n) / "ck" / "last.pt") for n in (1, 2))
    assert one["step"] == two["step"] == 4 and agree_under_adam(one, two, lr=1e-4)
    assert all(torch.allclose(one["nets"]["G"][k], two["nets"]["G"][k], atol=1e-5) for k in one["nets"]["G"])
    rows = [metrics_at(tmp_path / str(n) / "runs") for n in (1, 2)]  # grad_*: each process's own half-batch norm
    assert all(r[k] == pytest.approx(s[k], rel=1e-4, abs=1e-6) for r, s in zip(*rows) for k in r
               if not k.startswith("grad_"))


def test_ctrl_c_stops_every_process_at_one_step_and_saves_once(data, tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(ROOT / "simple_gan" / "train.py"),
           *map(str, train_args("simple_gan", data, tmp_path, "--batch_size", 8, "--epochs", 100000))]
    proc = subprocess.Popen(cmd, env=dict(offline_env(), OMP_NUM_THREADS="1"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not ((tmp_path / "runs" / "metrics.jsonl").exists()
                                          and len(metrics_at(tmp_path / "runs")) >= 12):
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal: torchrun passes it to each process once
    out, err = proc.communicate(timeout=120)
    assert err.count("interrupted: saved") == 1 and not ours(err), err[-3000:]
    ck = load(tmp_path / "ck" / "last.pt")
    assert ck["step"] == metrics_at(tmp_path / "runs")[-1]["step"] >= 12  # the step both processes stopped at
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["last.pt"]


def test_an_unreadable_image_met_by_one_process_stops_all_after_saving(data, tmp_path):
    """The image is process 1's in the second batch: process 1 names it, process 0 saves step 1 and says so."""
    broken = tmp_path / "mnist"
    shutil.copytree(data, broken)
    files = sorted((broken / "train").glob("*/*.png"))  # the dataset's order: class folders, then file names
    order = list(EpochSampler(len(files), 8, seed=0))  # epoch 1: batch 2 is order[8:16], process 1's half 12..15
    files[order[13]].write_bytes(b"not a png")
    r = torchrun("simple_gan", 2, *train_args("simple_gan", broken, tmp_path, "--batch_size", 8, "--epochs", 2))
    assert r.returncode != 0
    lines = ours(r.stderr)
    assert len(lines) == 2 and all(ln.startswith("error:") for ln in lines), r.stderr[-3000:]  # no traceback
    assert f"cannot read image {files[order[13]]}" in r.stderr and "another process met" in r.stderr
    assert all("saved at step 1" in ln for ln in lines)
    assert load(tmp_path / "ck" / "last.pt")["step"] == 1


def test_a_batch_the_processes_cannot_split_is_one_line(data, tmp_path):
    r = torchrun("simple_gan", 2, *train_args("simple_gan", data, tmp_path, "--batch_size", 7))
    assert r.returncode != 0
    assert ours(r.stderr) == ["error: --batch_size 7 is not divisible by the 2 processes that share it; pass a "
                              "multiple of 2 (each process takes batch / processes images)"], r.stderr[-3000:]
    r = torchrun("simple_gan", 2, *train_args("simple_gan", data, tmp_path, "--batch_size", 0))  # argparse's
    assert ours(r.stderr) == ["error: argument --batch_size: must be a positive integer, got 0 (see train.py "
                              "--help)"], r.stderr[-3000:]
