"""Shared test helpers. Folder modules are loaded by path under unique names (every folder has a model.py, and a
second plain `import model` would silently return the first); train.py / sample.py run as subprocesses."""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

os.environ["NO_ALBUMENTATIONS_UPDATE"] = "1"  # albumentations otherwise checks PyPI for updates on import
# evaluate.py and --eval_every cache reference features under $XDG_CACHE_HOME: the tests' go to a temp folder
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="gans-test-cache-")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for `import common`; folder modules go through load_module

ARCHS = ["simple_gan", "dcgan", "wgan", "wgan_gp", "cgan", "lsgan", "ralsgan", "infogan", "acgan"]
# Tiny nets so a subprocess step takes milliseconds on a CPU (the paper-size nets are checked in test_models).
SMALL = {arch: ["--ngf", "8", "--ndf", "8"] for arch in ARCHS}
SMALL["acgan"] += ["--dataset", "mnist"]  # its default is CIFAR-10; the tests' digits are MNIST's layout
SMALL["simple_gan"] = SMALL["infogan"] = []  # MLP / the paper's fixed MNIST nets: already small
# The net each folder trains against G (a critic C for the Wasserstein family, InfoGAN's shared D and Q)
ADVERSARY = {"wgan": "C", "wgan_gp": "C", "cgan": "C", "infogan": "DQ"}
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CUDA graphs)")


def load_module(folder, name):
    """`<folder>/<name>.py` as module `<folder>_<name>`."""
    spec = importlib.util.spec_from_file_location(f"{folder}_{name}", ROOT / folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def offline_env():
    """The environment with any network access failing fast (a proxy on a closed local port)."""
    env = dict(os.environ, NO_ALBUMENTATIONS_UPDATE="1", PYTHONUNBUFFERED="1")
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env[var] = "http://127.0.0.1:9"
    env.pop("no_proxy", None)
    env.pop("NO_PROXY", None)
    return env


def run_script(folder, script, *args, cwd=ROOT, timeout=300):
    """Run `<folder>/<script>.py args` in a subprocess; from inside the folder when cwd is the folder."""
    path = ROOT / folder / f"{script}.py"
    target = path.name if Path(cwd) == ROOT / folder else str(path)
    return subprocess.run([sys.executable, target, *map(str, args)], cwd=cwd, env=offline_env(),
                          capture_output=True, text=True, timeout=timeout)


def in_folder(folder, code, timeout=300):
    """Run Python `code` in a subprocess whose imports are `folder`'s scripts' (`from model import ...` finds
    <folder>/model.py), and return what it prints last as JSON: a way to call a train.py's inner functions with
    stand-ins without two folders' model.py meeting in one process."""
    prelude = f"import sys, json; sys.path[:0] = [{str(ROOT / folder)!r}, {str(ROOT)!r}]\n"
    r = subprocess.run([sys.executable, "-c", prelude + code], cwd=ROOT / folder, env=offline_env(),
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


# A Run stand-in for calling a train_one_epoch on one batch in `in_folder` code: eager, no logging
STUB_RUN = """
import contextlib, torch
class StubRun:
    device = torch.device("cpu")
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    def __init__(self, *batches, n_batches=4):
        self.queue, self.batch_in_epoch, self.n_batches, self.logged = list(batches), 0, n_batches, []
    def autocast(self):
        return contextlib.nullcontext()
    def randn(self, *shape):
        return torch.randn(*shape)
    def rand(self, *shape):
        return torch.rand(*shape)
    def randint(self, high, shape):
        return torch.randint(high, shape)
    def shard(self, *tensors):
        return tensors[0] if len(tensors) == 1 else tensors
    def graphed(self, step, *optimizers):
        return step
    def batches(self):
        while self.queue:
            yield self.queue.pop(0)
    def step_done(self, **scalars):
        self.batch_in_epoch += 1
        self.logged.append({k: float(v) for k, v in scalars.items()})
"""


def metrics_at(runs):
    """The rows of `<runs>/metrics.jsonl`, the per-step log every train.py writes."""
    return [json.loads(line) for line in (runs / "metrics.jsonl").read_text().splitlines()]


def losses_with_emulated_graphs(folder, argv, tmp_path, key, runs="runs"):
    """`<folder>/train.py` run twice in one process, plain and with --cuda_graphs emulated on the CPU
    (tests/emulate_graphs.py); `argv(out)` gives the command line of a run living in `out`. Returns the logged
    `key` of each step: {False: plain, True: graphs}."""
    cases = [[str(a) for a in argv(tmp_path / "eager")], [*map(str, argv(tmp_path / "graphs")), "--cuda_graphs"]]
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "graph_cases.json").write_text(json.dumps(cases))
    r = subprocess.run([sys.executable, str(ROOT / "tests" / "emulate_graphs.py"), str(ROOT / folder / "train.py"),
                        str(tmp_path / "graph_cases.json")], env=offline_env(), capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    for result in json.loads(r.stdout.strip().splitlines()[-1]):
        assert result["exit"] == 0, result["stderr"][-3000:]
    return {graphs: [row[key] for row in metrics_at(tmp_path / name / runs) if key in row]
            for graphs, name in ((False, "eager"), (True, "graphs"))}


def write_digits(root, per_class=2, size=28, classes=range(10), seed=0):
    """A tiny MNIST in the image-folder layout root/train/<digit>/<i>.png (random strokes, real PNG files)."""
    rng = np.random.default_rng(seed)
    for c in classes:
        folder = Path(root) / "train" / str(c)
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8)).save(folder / f"{i}.png")
    return Path(root)


@pytest.fixture
def digits(tmp_path):
    """20 images of 28×28 in root/train/0..9/: batch 4 gives 5 steps per epoch."""
    return write_digits(tmp_path / "mnist")


def train_args(folder, data_root, out, *extra):
    return ["--data_root", data_root, "--out_dir", out / "runs", "--ckpt_dir", out / "ck", "--batch_size", 4,
            "--num_workers", 0, "--log_every", 1, *SMALL[folder], *extra]


@pytest.fixture(scope="session")
def two_step_run(tmp_path_factory):
    """two_step_run(folder) -> (out, result): one 2-step run of `folder`'s train.py from the repo root (train_args: tiny
    nets, batch 4) on 60 MNIST-layout digits, made on first use and shared for the session by the tests that only
    need a fresh checkpoint (each Python process costs seconds of imports). `out` holds ck/last.pt and runs/;
    tests copy what they change and give a resumed run its own --out_dir and --ckpt_dir."""
    root = tmp_path_factory.mktemp("trained")
    data = write_digits(root / "mnist", per_class=6)
    runs = {}

    def run(folder):
        if folder not in runs:
            result = run_script(folder, "train", *train_args(folder, data, root / folder, "--max_steps", 2))
            assert result.returncode == 0, result.stderr
            runs[folder] = (root / folder, result)
        return runs[folder]

    run.data = data
    return run
