"""Every weights file the collection reads is read as data (common/weights.py): a poisoned, truncated or swapped
file in torch's hub cache, or one passed by a user, is one `error:` line and runs nothing. A checkpoint whose args
lack what its folder reads (another folder's checkpoint relabelled) is one line in train.py --resume, sample.py and
evaluate.py (common/checkpoint.py CheckpointArgs, common/flags.py merge_resume_args)."""
import hashlib
import re
import subprocess
import sys

import pytest
import torch
from PIL import Image

from common.checkpoint import save_checkpoint
from common.errors import UserError
from conftest import ROOT, offline_env, run_script, train_args, write_digits
from test_super_resolution import TINY as SR_TINY, write_hr
from test_train import one_line_error, run_cases

INCEPTION = "weights-inception-2015-12-05-6726825d.pth"  # torch-fidelity's name, with its SHA-256 prefix
INCEPTION_KEY = "Mixed_7c.branch_pool.conv.weight"
VGG19 = "vgg19-dcbb9e9d.pth"  # torchvision's
VGG19_KEY = "features.0.weight"


class Payload:
    """Unpickled in full, this object runs Python code: the code writes `marker`."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').close()",)


def poison(path, key, marker):
    """A weights file at `path` whose entry `key` is a Payload: what a tampered download or cache would hold."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({key: Payload(marker), "bias": torch.zeros(1)}, path)
    return path


def cache_file(torch_home, name):
    return torch_home / "hub" / "checkpoints" / name


def sha_named(folder, stem, state):
    """`state` saved as <stem>-<its SHA-256 prefix>.pth, as torch hub names its files: a cached file that passes."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "tmp.pth"
    torch.save(state, tmp)
    prefix = hashlib.sha256(tmp.read_bytes()).hexdigest()[:8]
    return tmp.rename(folder / f"{stem}-{prefix}.pth")


def refused(result, name, marker):
    """One `error:` line naming the file `name` and the fix, exit code 2, no traceback, and the payload never ran."""
    return (result["exit"] == 2 and one_line_error(result, re.escape(name) + ".*delete it")
            and not marker.exists())


def as_result(r):
    return {"exit": r.returncode, "stdout": r.stdout, "stderr": r.stderr}


# ----------------------------------------------------------------------------------------------- poisoned cache
def test_a_poisoned_inception_cache_runs_nothing(two_step_run, tmp_path, monkeypatch):
    """evaluate.py --backbone inception (on images and on a checkpoint) and dcgan/train.py --eval_every 1, with a
    pickle that writes a file in torch's hub cache under torch-fidelity's name: one line each, nothing written."""
    marker = tmp_path / "payload_ran"
    poison(cache_file(tmp_path / "torch_home", INCEPTION), INCEPTION_KEY, marker)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))  # offline_env() copies it to the subprocesses
    images = write_digits(tmp_path / "digits", per_class=1)
    ckpt = two_step_run("dcgan")[0] / "ck" / "last.pt"
    results = run_cases(".", "evaluate", [
        ["--images", str(images / "train" / "0"), "--dataset", "folder", "--data_root", str(images)],
        [str(ckpt), "--backbone", "inception", "--num", "10", "--out", str(tmp_path / "eval.json")]], tmp_path)
    train = run_script("dcgan", "train", *train_args("dcgan", two_step_run.data, tmp_path / "run", "--eval_every", 1,
                                                     "--max_steps", 2))
    for r in [*results, as_result(train)]:
        assert refused(r, INCEPTION, marker), r["stderr"][-2000:]


@pytest.mark.parametrize("folder", ["srgan", "esrgan"])
def test_a_poisoned_vgg19_cache_runs_nothing(folder, tmp_path):
    """The GAN phase's VGG19 from torch's hub cache, there a pickle that writes a file: one line, nothing written."""
    marker = tmp_path / "payload_ran"
    poison(cache_file(tmp_path / "torch_home", VGG19), VGG19_KEY, marker)
    hr = write_hr(tmp_path / "hr", 4)
    argv = ["--phase", "gan", "--pretrained", "none", "--perceptual", "vgg19", "--data_root", hr, "--out_dir",
            tmp_path / "runs", "--ckpt_dir", tmp_path / "ck", "--batch_size", 2, "--num_workers", 0, "--max_steps", 1,
            *SR_TINY[folder]]
    r = subprocess.run([sys.executable, str(ROOT / folder / "train.py"), *map(str, argv)], capture_output=True,
                       env=dict(offline_env(), TORCH_HOME=str(tmp_path / "torch_home")), text=True, timeout=300)
    assert refused(as_result(r), VGG19, marker), r.stderr[-2000:]


@pytest.mark.parametrize("damage", ["poisoned", "truncated", "swapped"])
def test_a_bad_cache_file_is_one_line(damage, tmp_path, monkeypatch):
    """A poisoned, truncated or swapped (another file under this name) cache file, for both nets: the SHA-256 prefix
    of the name refuses it; and with that check passed (a forged prefix), weights_only refuses the payload still."""
    from common import super_resolution as sr
    from evaluation.feature_nets import make_feature_net

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    marker = tmp_path / "payload_ran"
    for name, key, load in ((INCEPTION, INCEPTION_KEY, lambda: make_feature_net("inception")),
                            (VGG19, VGG19_KEY, lambda: sr.vgg19_state_dict(None))):
        path = cache_file(tmp_path / "torch_home", name)
        if damage == "poisoned":
            poison(path, key, marker)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save({key: torch.zeros(8, 3, 3, 3), "more": torch.zeros(4096)}, path)
            if damage == "truncated":  # a download cut short
                path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])
        with pytest.raises(UserError, match=re.escape(str(path)) + ".*SHA-256 does not start with.*delete it"):
            load()
        if damage != "swapped":
            from common import weights

            with monkeypatch.context() as m:  # as if the prefix were forged: the load itself must refuse
                m.setattr(weights, "sha256_prefix_ok", lambda p: True)
                with pytest.raises(UserError, match=re.escape(str(path)) + ".*cannot be read as.*delete it"):
                    load()
        path.unlink()
    assert not marker.exists()


def test_a_poisoned_file_passed_by_the_user_runs_nothing(tmp_path):
    """--backbone_weights and --vgg_weights are read as data too, whatever their names."""
    from common import super_resolution as sr
    from evaluation.feature_nets import make_feature_net

    marker = tmp_path / "payload_ran"
    for name in ("mine.pth", INCEPTION):
        with pytest.raises(UserError, match="--backbone_weights .*(cannot be read|SHA-256)"):
            make_feature_net("inception", poison(tmp_path / "inception" / name, INCEPTION_KEY, marker))
    for name in ("mine.pth", VGG19):
        with pytest.raises(UserError, match="--vgg_weights .*(cannot be read|SHA-256)"):
            sr.vgg19_state_dict(poison(tmp_path / "vgg" / name, VGG19_KEY, marker))
    with pytest.raises(UserError, match="--backbone_weights .*mnist.*cannot be read"):
        make_feature_net("mnist", poison(tmp_path / "mnist.pt", "net.0.weight", marker))
    assert not marker.exists()


def test_a_good_cache_file_and_a_download_are_checked_then_used(tmp_path, monkeypatch):
    """A cached file whose name's prefix matches loads (torch-fidelity gets its state dict: the weights arrive);
    a download is asked to check the prefix as it arrives, and what arrives is checked again before use."""
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3, FeatureExtractorInceptionV3

    from common import weights
    from evaluation import feature_nets

    assert feature_nets.INCEPTION_URL == URL_INCEPTION_V3 and feature_nets.INCEPTION_FILE == INCEPTION
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    with monkeypatch.context() as m:  # a random Inception-v3 state dict, without any weights file
        m.setattr(FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None)
        m.setattr(torch, "load", lambda *a, **k: {})
        state = FeatureExtractorInceptionV3("x", ["2048"], feature_extractor_weights_path="none").state_dict()
    good = sha_named(tmp_path / "torch_home" / "hub" / "checkpoints", "weights-inception", state)
    monkeypatch.setattr(feature_nets, "INCEPTION_URL", f"https://example.invalid/{good.name}")
    net = feature_nets.make_feature_net("inception")
    assert torch.equal(net.net.fc.weight, state["fc.weight"]) and net.dim == 2048

    asked = {}

    def fake_download(url, dst, hash_prefix=None, progress=True):  # "downloads" a poisoned file
        asked.update(url=url, prefix=hash_prefix)
        poison(tmp_path / "download.pth", INCEPTION_KEY, tmp_path / "payload_ran").rename(dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    url = "https://example.invalid/weights-inception-2015-12-05-6726825d.pth"
    with pytest.raises(UserError, match="SHA-256 does not start with the 6726825d"):
        weights.cached_weights(url, "the Inception weights", "offline", INCEPTION_KEY)
    assert asked == {"url": url, "prefix": "6726825d"} and not (tmp_path / "payload_ran").exists()


# ----------------------------------------------------------------------------------------------- relabelled
def relabel(ckpt, arch, path):
    """The checkpoint at `ckpt` with its arch set to `arch`: a valid checkpoint whose args are another folder's."""
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    save_checkpoint(path, {**{k: v for k, v in state.items() if k != "format"}, "arch": arch})
    return path


# Whose checkpoint each folder is given: dcgan's args hold all that the DCGAN-generator folders read, so they get
# simple_gan's (no --ngf); every other folder reads a flag dcgan's args lack.
SOURCE = {folder: "simple_gan" if folder in ("dcgan", "wgan", "wgan_gp", "lsgan", "ralsgan") else "dcgan"
          for folder in ("simple_gan", "dcgan", "wgan", "wgan_gp", "cgan", "lsgan", "ralsgan", "infogan", "acgan",
                         "progan", "stylegan", "biggan", "pix2pix", "cyclegan", "srgan", "esrgan")}
TRANSLATE = ("pix2pix", "cyclegan", "srgan", "esrgan")  # their sample.py reads images first


@pytest.mark.parametrize("folder", SOURCE)
def test_sample_py_names_what_a_relabelled_checkpoint_lacks(folder, two_step_run, tmp_path):
    ckpt = relabel(two_step_run(SOURCE[folder])[0] / "ck" / "last.pt", folder, tmp_path / f"as_{folder}.pt")
    Image.new("RGB", (16, 16)).save(tmp_path / "in.png")
    argv = ["--checkpoint", str(ckpt), "--out", str(tmp_path / ("out" if folder in TRANSLATE else "out.png"))]
    r, = run_cases(folder, "sample", [[str(tmp_path / "in.png"), *argv] if folder in TRANSLATE else argv], tmp_path)
    expected = re.escape(str(ckpt)) + f" was written with no '.+' in its args, which {folder} needs"
    assert r["exit"] == 2 and one_line_error(r, expected), r["stderr"][-2000:]


def test_evaluate_py_names_what_a_relabelled_checkpoint_lacks(two_step_run, tmp_path):
    folders = ["cgan", "acgan", "infogan", "progan", "stylegan", "biggan", "pix2pix", "cyclegan", "dcgan"]
    cases = [[str(relabel(two_step_run(SOURCE[f])[0] / "ck" / "last.pt", f, tmp_path / f"as_{f}.pt")), "--backbone",
              "efficientnet-lite0", "--metrics", "kid", "--num", "10", "--data_root", str(two_step_run.data)]
             for f in folders]
    results = run_cases(".", "evaluate", cases, tmp_path)
    failures = [(f, r["stderr"][-600:]) for f, r in zip(folders, results)
                if not (r["exit"] == 2 and one_line_error(r, f"as_{f}.pt was written with no '.+' in its args, "
                                                            f"which {f} needs"))]
    assert not failures


@pytest.mark.parametrize("folder", ["cgan", "wgan", "dcgan"])
def test_resume_names_what_a_relabelled_checkpoint_lacks(folder, two_step_run, tmp_path):
    """train.py --resume refuses before it builds a net or reads data, naming every flag missing."""
    ckpt = relabel(two_step_run(SOURCE[folder])[0] / "ck" / "last.pt", folder, tmp_path / f"as_{folder}.pt")
    lacks = {"cgan": ["n_critic", "embed_dim"], "wgan": ["n_critic", "clip"], "dcgan": ["ngf", "ndf"]}[folder]
    r, = run_cases(folder, "train", [["--resume", str(ckpt), "--data_root", str(tmp_path / "none")]], tmp_path)
    assert r["exit"] == 2 and one_line_error(r, f"{re.escape(str(ckpt))} was written with no .* in its args, which "
                                                f"{folder} needs"), r["stderr"]
    assert all(f"'{key}'" in r["stderr"] for key in lacks), r["stderr"]


def test_checkpoint_args_stay_plain_on_disk(two_step_run, tmp_path):
    """A loaded checkpoint's args name a missing key in one line, read like a dict otherwise, and go back to disk as
    a plain dict that weights_only=True loads."""
    from common.checkpoint import CheckpointArgs, load_checkpoint
    from common.errors import CheckpointError

    path = two_step_run("dcgan")[0] / "ck" / "last.pt"
    ck = load_checkpoint(path, "dcgan")
    assert isinstance(ck["args"], CheckpointArgs) and ck["args"]["ngf"] == 8 and ck["args"].get("nope") is None
    with pytest.raises(CheckpointError, match=re.escape(str(path)) + " was written with no 'nope'"):
        ck["args"]["nope"]
    save_checkpoint(tmp_path / "again.pt", {k: v for k, v in ck.items() if k != "format"})
    again = torch.load(tmp_path / "again.pt", weights_only=True)
    assert type(again["args"]) is dict and again["args"] == ck["args"]


def test_evaluate_py_names_a_flag_a_translation_checkpoint_lacks(tmp_path):
    """pix2pix's data pipeline reads --load_size from the checkpoint's flags (not its nets): a checkpoint without it
    is one line naming the flag, from evaluate.py's own namespace of the flags too."""
    from test_translation import SMALL, write_pairs

    data = write_pairs(tmp_path / "pairs")
    r = run_script("pix2pix", "train", "--dataset", "folder", "--data_root", data, "--out_dir", tmp_path / "runs",
                   "--ckpt_dir", tmp_path / "ck", "--num_workers", 0, "--max_steps", 1, *SMALL["pix2pix"])
    assert r.returncode == 0, r.stderr
    ckpt = torch.load(tmp_path / "ck" / "last.pt", weights_only=True)
    del ckpt["args"]["load_size"]
    save_checkpoint(tmp_path / "bad.pt", {k: v for k, v in ckpt.items() if k != "format"})
    r = run_script(".", "evaluate", tmp_path / "bad.pt", "--backbone", "efficientnet-lite0", "--num", 4)
    assert r.returncode == 2 and r.stderr.strip().startswith("error:") and len(r.stderr.strip().splitlines()) == 1
    assert "'load_size'" in r.stderr and "Traceback" not in r.stderr
