"""Never losing a run: mid-epoch saves on a timer, snapshots, a full disk, stale temp files, an unreadable image met
mid-epoch, and SIGKILL at random moments (each resumed: the weights end as an uninterrupted run's)."""
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from common import checkpoint
from common.checkpoint import atomic_save, remove_stale_temps
from common.data import EpochSampler
from common.errors import CheckpointError
from conftest import ROOT, metrics_at, offline_env, run_script, train_args, write_digits
from test_train import nets_equal


def load(path):
    return torch.load(path, weights_only=True)


# ----------------------------------------------------------------------------------------------- writes that fail
def test_a_failed_write_is_one_error_and_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "ck" / "last.pt"
    atomic_save(path, {"w": torch.ones(1000)})
    before = path.read_bytes()

    def full_disk(obj, f):  # torch.save on a full disk: part of the file, then the zip writer's RuntimeError
        f.write(b"x" * 100)
        raise RuntimeError("[enforce fail at inline_container.cc:858] . PytorchStreamWriter failed writing file "
                           "data/0: file write failed")

    monkeypatch.setattr(checkpoint.torch, "save", full_disk)
    with pytest.raises(CheckpointError) as e:
        atomic_save(path, {"w": torch.zeros(2**18)})  # 1 MB of float32
    message = str(e.value)
    assert "\n" not in message and str(path.parent) in message and "MB free" in message
    assert "needs about 1.0 MB" in message and "last.pt there is unchanged" in message
    assert path.read_bytes() == before and sorted(p.name for p in path.parent.iterdir()) == ["last.pt"]
    monkeypatch.undo()
    (tmp_path / "a_file").write_text("")
    with pytest.raises(CheckpointError, match="cannot write .*a_file/last.pt"):  # a folder that cannot exist
        atomic_save(tmp_path / "a_file" / "last.pt", {"w": torch.ones(1)})


@pytest.fixture
def small_disk(tmp_path):
    """A 3.5 MB tmpfs (room for one 2.3 MB tiny-dcgan checkpoint, not for its replacement beside it)."""
    mount = tmp_path / "small_disk"
    mount.mkdir()
    if shutil.which("mount") is None or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3500k", "tmpfs",
                                                        str(mount)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (the unit test above covers a failing write)")
    yield mount
    subprocess.run(["umount", str(mount)], capture_output=True)


def test_a_full_disk_stops_training_with_one_line_and_the_last_good_checkpoint(small_disk, digits, tmp_path):
    argv = train_args("dcgan", digits, tmp_path, "--epochs", 2)
    argv[argv.index("--ckpt_dir") + 1] = small_disk
    r = run_script("dcgan", "train", *argv)
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(errors) == 1, r.stderr[-2000:]
    assert str(small_disk) in errors[0] and "MB free" in errors[0] and "last.pt there is unchanged" in errors[0]
    assert sorted(p.name for p in small_disk.iterdir()) == ["last.pt"]  # no temp file left
    ck = load(small_disk / "last.pt")  # epoch 1's checkpoint, intact
    assert (ck["epoch"], ck["step"]) == (1, 5)


def test_stale_temp_files_of_a_killed_save_are_removed_and_nothing_else(digits, tmp_path):
    ck = tmp_path / "ck"
    ck.mkdir()
    stale = ["last.pt.a1b2c3d4.tmp", "best.pt.zz_9yy8x.tmp", "epoch_007.pt.q1w2e3r4.tmp"]
    kept = ["last.pt.notes", "mine.tmp", "last.pt.abc.tmp", "other.pt.a1b2c3d4.tmp"]
    for name in stale + kept:
        (ck / name).write_bytes(b"x" * 10)
    assert remove_stale_temps(tmp_path / "nowhere") == []
    r = run_script("dcgan", "train", *train_args("dcgan", digits, tmp_path, "--max_steps", 1))
    assert r.returncode == 0, r.stderr
    assert "removed 3 unfinished checkpoint write(s)" in r.stdout
    assert sorted(p.name for p in ck.iterdir()) == sorted(kept + ["last.pt"])


# ----------------------------------------------------------------------------------------------- snapshots
def test_keep_every_keeps_epoch_snapshots(digits, tmp_path):
    r = run_script("dcgan", "train", *train_args("dcgan", digits, tmp_path, "--epochs", 3, "--keep_every", 2))
    assert r.returncode == 0, r.stderr
    ck = tmp_path / "ck"
    assert sorted(p.name for p in ck.iterdir()) == ["epoch_002.pt", "last.pt"]
    snapshot, last = load(ck / "epoch_002.pt"), load(ck / "last.pt")
    assert (snapshot["epoch"], snapshot["step"], last["step"]) == (2, 10, 15)
    r = run_script("dcgan", "train", "--resume", ck / "epoch_002.pt", "--epochs", 4, "--num_workers", 0)
    assert r.returncode == 0, r.stderr  # a snapshot resumes like last.pt; --keep_every is kept
    assert sorted(p.name for p in ck.iterdir()) == ["epoch_002.pt", "epoch_004.pt", "last.pt"]


# ----------------------------------------------------------------------------------------------- mid-epoch
def test_an_unreadable_image_mid_epoch_saves_first_and_resumes_exactly(tmp_path):
    """The 10th image of epoch 1's order (in its 3rd batch of 4) is broken: the run stops with one line after
    2 steps, saved; with the file repaired, --resume ends with the weights of a run that never met it."""
    data = write_digits(tmp_path / "mnist")
    order = list(EpochSampler(20, 4, seed=0))
    broken = data / "train" / str(order[9] // 2) / f"{order[9] % 2}.png"  # 2 images per digit folder
    good = broken.read_bytes()
    r = run_script("dcgan", "train", *train_args("dcgan", data, tmp_path / "whole", "--epochs", 2))
    assert r.returncode == 0, r.stderr
    broken.write_bytes(b"not a png")
    r = run_script("dcgan", "train", *train_args("dcgan", data, tmp_path / "cut", "--epochs", 2))
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(errors) == 1, r.stderr[-2000:]
    assert f"cannot read image {broken}" in errors[0] and "saved at step 2" in errors[0]
    assert load(tmp_path / "cut" / "ck" / "last.pt")["step"] == 2
    broken.write_bytes(good)
    r = run_script("dcgan", "train", "--resume", tmp_path / "cut" / "ck" / "last.pt", "--num_workers", 0,
                   "--log_every", 1)
    assert r.returncode == 0, r.stderr
    assert metrics_at(tmp_path / "cut" / "runs") == metrics_at(tmp_path / "whole" / "runs")
    assert nets_equal(load(tmp_path / "cut" / "ck" / "last.pt"), load(tmp_path / "whole" / "ck" / "last.pt"))


def test_sigkill_at_random_moments_with_timed_saves_resumes_exactly(tmp_path):
    """A tiny dcgan run (4 epochs of 25 steps) saving every step's worth of time (--save_every_min 1e-9), killed
    with SIGKILL at random moments and resumed each time, ends with the weights and losses of a run that was
    never killed; at least one resume starts mid-epoch (without timed saves each kill would lose the epoch so
    far); the metrics check that the resumed runs repeat no step and skip none. The moments are random steps
    (a kill lands 6 to 20 logged steps after the start, plus a random fraction of a step), not random seconds:
    a fast machine would otherwise finish the run before the second kill."""
    data = write_digits(tmp_path / "mnist", per_class=10)  # 100 images: 25 steps of 4 per epoch
    base = ["--data_root", data, "--batch_size", 4, "--num_workers", 0, "--log_every", 1, "--ngf", 8, "--ndf", 8,
            "--epochs", 4, "--save_every_min", "1e-9"]
    out = lambda name: ["--out_dir", tmp_path / name / "runs", "--ckpt_dir", tmp_path / name / "ck"]  # noqa: E731
    r = run_script("dcgan", "train", *base, *out("whole"))
    assert r.returncode == 0, r.stderr
    rng, kills, ck = random.Random(0), 0, tmp_path / "killed" / "ck" / "last.pt"
    log = tmp_path / "killed" / "runs" / "metrics.jsonl"
    logged = lambda: len(log.read_text().splitlines()) if log.exists() else 0  # noqa: E731
    cmd = [sys.executable, str(ROOT / "dcgan" / "train.py"), *map(str, base + out("killed"))]
    resumed_at = []  # (epoch, batch in epoch) of each resume
    for attempt in range(5):  # 4 kills, then the run finishes
        resume = ["--resume", str(ck)] if ck.exists() else []
        if resume:
            state = load(ck)
            resumed_at.append((state["epoch"], state["batch_in_epoch"]))
        kill_at = logged() + rng.randint(6, 20) if attempt < 4 else None
        proc = subprocess.Popen(cmd + resume, env=offline_env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while proc.poll() is None and kill_at is not None and logged() < kill_at:
            assert time.monotonic() < deadline, "the run made no progress for 2 minutes"
            time.sleep(0.01)
        if proc.poll() is None and kill_at is not None:
            time.sleep(rng.uniform(0.0, 0.02))  # somewhere inside the next step, or its save
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            continue
        assert proc.wait(timeout=120) == 0
        break
    steps = [m["step"] for m in metrics_at(tmp_path / "killed" / "runs")]
    assert kills == 4 and steps == list(range(1, 101)), (kills, steps)
    assert any(batch > 0 for _, batch in resumed_at), resumed_at  # mid-epoch checkpoints were there to resume
    assert metrics_at(tmp_path / "killed" / "runs") == metrics_at(tmp_path / "whole" / "runs")
    assert nets_equal(load(ck), load(tmp_path / "whole" / "ck" / "last.pt"))
    assert not [p for p in ck.parent.iterdir() if p.suffix == ".tmp"]
