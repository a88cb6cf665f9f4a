"""The speed plumbing on a CPU: benchmark.py runs and prints its table, the GPU-resident loader gives the same
batches as the DataLoader, sampler tuples for unpaired data and augmentation seeds, and a checkpoint written
with fused Adam on a GPU resumes on a CPU. (No timing assertions: CI machines vary.)"""
import json
import subprocess
import sys

import pytest
import torch

from common.data import EpochSampler, ImageDataset, load_source, make_loader, square_transform
from common.cuda_graphs import CUDAGraphStep
from common.run import cpu_has_bf16
from conftest import ROOT, losses_with_emulated_graphs, metrics_at, needs_cuda, offline_env, run_script, train_args


def test_benchmark_runs_on_cpu_and_prints_its_table():
    r = subprocess.run([sys.executable, str(ROOT / "benchmark.py"), "--arch", "dcgan", "--steps", "2", "--warmup",
                        "1", "--device", "cpu", "--batch_size", "8", "--num_workers", "0", "--compare-eager",
                        "--nproc", "2"],
                       cwd=ROOT, env=dict(offline_env(), OMP_NUM_THREADS="1"), capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.splitlines()
    assert lines[0].startswith("device: ") and "torch" in lines[0]
    assert "| arch | path | batch | ms/step | images/s |" in r.stdout
    eager = next(ln for ln in lines if ln.startswith("| dcgan | eager | 8 |"))
    default = next(ln for ln in lines if ln.startswith("| dcgan | default | 8 |"))
    assert float(eager.split("|")[4]) > 0 and default.rstrip(" |").endswith("×")  # the ratio column
    two = next(ln for ln in lines if ln.startswith("| dcgan | nproc2 | 16 |"))  # torchrun, 8 images per process
    assert two.rstrip(" |").endswith("%")  # scaling efficiency against the one-process default path


def test_benchmark_variant_runs_where_its_flags_exist(tmp_path):
    """--variant NAME="FLAGS": the default path plus those flags, as its own row, in the folders that have them
    (here simple_gan has --amp but no --gp_precision, which wgan_gp and cgan have)."""
    r = subprocess.run([sys.executable, str(ROOT / "benchmark.py"), "--arch", "simple_gan", "--steps", "1",
                        "--warmup", "1", "--device", "cpu", "--batch_size", "4", "--num_workers", "0",
                        "--variant", "bf16=--amp bf16", "--variant", "gp_bf16=--gp_precision bf16",
                        "--json", tmp_path / "bench.json"],
                       cwd=ROOT, env=dict(offline_env(), OMP_NUM_THREADS="1"), capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [ln.split("|")[1:3] for ln in r.stdout.splitlines() if ln.startswith("| ") and "ms/step" not in ln]
    assert [[a.strip(), b.strip()] for a, b in rows] == [["simple_gan", "default"], ["simple_gan", "bf16"]]
    results = json.loads((tmp_path / "bench.json").read_text())["results"]
    assert [(x["path"], x["amp"]) for x in results] == [("default", "off"), ("bf16", "bf16")]  # the flags applied
    assert "simple_gan: no --gp_precision bf16 in its train.py; variant gp_bf16 skipped" in r.stderr
    bad = subprocess.run([sys.executable, str(ROOT / "benchmark.py"), "--variant", "eager=--amp off"],
                         cwd=ROOT, env=offline_env(), capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and 'expected NAME="FLAGS" with a new path name' in bad.stderr


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


def test_gpu_checkpoint_resumes_on_cpu(digits, tmp_path):
    """A GPU run saves `fused: True` (and with --cuda_graphs `capturable: True`) in Adam's param groups; a run
    resumed elsewhere sets both for itself instead of inheriting them."""
    r = run_script("dcgan", "train", *train_args("dcgan", digits, tmp_path, "--max_steps", 2))
    assert r.returncode == 0, r.stderr
    ck = torch.load(tmp_path / "ck" / "last.pt", weights_only=True)
    for opt in ck["optimizers"].values():
        for group in opt["param_groups"]:
            group["fused"], group["capturable"] = True, True
    torch.save(ck, tmp_path / "gpu.pt")
    r = run_script("dcgan", "train", "--resume", tmp_path / "gpu.pt", "--ckpt_dir", tmp_path / "ck2", "--fast", "off",
                   "--num_workers", 0, "--max_steps", 4, "--time_steps", 1)
    assert r.returncode == 0, r.stderr
    ck = torch.load(tmp_path / "ck2" / "last.pt", weights_only=True)
    group = ck["optimizers"]["G"]["param_groups"][0]
    assert ck["step"] == 4 and group["fused"] is False and group["capturable"] is False
    assert "TIMING" in r.stdout  # --time_steps reports
    # --amp auto is fp32 on any CPU; where the CPU has bf16 instructions, one line says --amp bf16 is faster there
    assert '"amp": "off"' in r.stdout
    assert ("note: this CPU has bf16 instructions: --amp bf16" in r.stdout) == cpu_has_bf16()


@pytest.mark.parametrize("has_bf16", [False, True])
def test_explicit_bf16_on_a_cpu_without_bf16_instructions_is_one_warning(has_bf16, digits, tmp_path):
    """--amp bf16 where the CPU has no bf16 instructions (cpu_has_bf16 replaced, as on such a CPU): one warning
    line, and the run goes on in bf16 as asked; none where the CPU has them."""
    argv = [str(a) for a in train_args("dcgan", digits, tmp_path, "--max_steps", 1, "--amp", "bf16")]
    code = (f"import runpy, sys; sys.path[:0] = [{str(ROOT / 'dcgan')!r}, {str(ROOT)!r}]; import common.run; "
            f"common.run.cpu_has_bf16 = lambda: {has_bf16}; sys.argv = ['train.py', *{argv!r}]; "
            f"runpy.run_path({str(ROOT / 'dcgan' / 'train.py')!r}, run_name='__main__')")
    r = subprocess.run([sys.executable, "-c", code], env=offline_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    warnings = [ln for ln in r.stderr.splitlines() if ln.startswith("warning: --amp bf16")]
    assert len(warnings) == (0 if has_bf16 else 1) and (has_bf16 or "emulated" in warnings[0])
    assert torch.load(tmp_path / "ck" / "last.pt", weights_only=True)["args"]["amp"] == "bf16"


def test_cuda_graphs_is_opt_in_and_cuda_only(tmp_path):
    for folder in ("dcgan", "wgan_gp", "cgan", "pix2pix", "cyclegan", "srgan", "esrgan"):
        r = run_script(folder, "train", "--cuda_graphs", "--device", "cpu", "--out_dir", tmp_path)
        assert r.returncode == 2 and r.stderr.strip() == ("error: --cuda_graphs records CUDA kernels, but the device "
                                                          "is cpu; drop --cuda_graphs"), (folder, r.stderr)
    r = run_script("wgan", "train", "--cuda_graphs")  # a folder without it says so
    assert r.returncode == 2 and "unrecognized arguments: --cuda_graphs" in r.stderr


def test_cuda_graph_step_keeps_its_recording_across_epochs():
    """train_one_epoch defines its step anew each epoch: the recording stays when the new function is the same
    code over the same objects, and goes when anything it closes over (a net, an optimizer) is another."""
    def epoch(net, opt):  # the pattern of every train_one_epoch
        def step(x):
            opt.zero_grad()
            net(x).sum().backward()
            opt.step()
            return {}
        return step

    net, other = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    opt = torch.optim.Adam(net.parameters())
    graphed = CUDAGraphStep(epoch(net, opt), [opt])
    graphed.graph = recording = object()  # as after a capture (this test needs no GPU)
    assert graphed.bind(epoch(net, opt), [opt]).graph is recording  # next epoch: same nets, same optimizer
    assert graphed.bind(epoch(other, opt), [opt]).graph is None  # another net: record again
    graphed.graph = recording
    assert graphed.bind(epoch(net, opt), [torch.optim.Adam(net.parameters())]).graph is None
    graphed.graph = recording
    assert graphed.bind(lambda x: {}, [opt]).graph is None  # other code


@needs_cuda
def test_cuda_graph_step_trains_as_the_eager_step():
    """A small conv net + fused Adam: 3 eager warm-up steps, a capture, replays, an lr change (re-capture); the
    weights follow the plain eager loop on the same batches (fp32, no TF32)."""
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    batches = [torch.randn(2, 3, 16, 16, device="cuda", generator=torch.Generator("cuda").manual_seed(i))
               for i in range(10)]
    weights = []
    for graphs in (False, True):
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                                  torch.nn.Conv2d(8, 3, 3, padding=1)).cuda()
        opt = torch.optim.Adam(net.parameters(), lr=1e-2, fused=True)

        def step(x):
            loss = (net(x) - x.flip(-1)).pow(2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return dict(loss=loss)

        stepper = CUDAGraphStep(step, [opt]) if graphs else step
        losses = []
        for i, x in enumerate(batches):
            if i == 7:
                opt.param_groups[0]["lr"] = 1e-3
            losses.append(float(stepper(x)["loss"]))
        if graphs:
            assert stepper.graph is not None and stepper.lrs == (1e-3,)
        weights.append((losses, [p.detach().clone() for p in net.parameters()]))
    (eager_losses, eager_w), (graph_losses, graph_w) = weights
    assert graph_losses == pytest.approx(eager_losses, rel=1e-4)
    assert all(torch.allclose(a, b, rtol=1e-4, atol=1e-5) for a, b in zip(eager_w, graph_w))


def test_dcgan_emulated_cuda_graphs_train_as_eager(digits, tmp_path):
    """The train loop with --cuda_graphs (tests/emulate_graphs.py: the CUDA calls emulated on the CPU): 3 warm-ups,
    a recording kept across 3 epochs, outputs overwritten at each replay; every loss equals the plain run's."""
    losses = losses_with_emulated_graphs(
        "dcgan", lambda out: train_args("dcgan", digits, out, "--max_steps", 12, "--epochs", 3), tmp_path, "loss_D")
    assert len(losses[True]) == 12 and losses[True] == losses[False]


@pytest.mark.parametrize("folder", ["wgan_gp", "cgan"])
def test_penalty_emulated_cuda_graphs_train_as_eager(folder, digits, tmp_path):
    """wgan_gp's and cgan's two recordings (the critic step with the penalty's double backward, and G's step every
    n_critic steps, the critic's weights frozen inside it), emulated on the CPU: every critic and G loss equals the
    plain run's over 12 critic steps, 6 G steps and 3 epochs (so both steps warm up, record and replay)."""
    args = lambda out: train_args(folder, digits, out, "--max_steps", 12, "--epochs", 3,  # noqa: E731
                                  "--n_critic", 2)
    losses = losses_with_emulated_graphs(folder, args, tmp_path, "loss_C")
    assert len(losses[True]) == 12 and losses[True] == losses[False]
    loss_G = {name: [m["loss_G"] for m in metrics_at(tmp_path / name / "runs") if "loss_G" in m]
              for name in ("eager", "graphs")}
    assert len(set(loss_G["graphs"])) == 6 and loss_G["graphs"] == loss_G["eager"]


@needs_cuda
@pytest.mark.parametrize("folder", ["wgan_gp", "cgan"])
def test_penalty_cuda_graphs_train_like_eager(folder, digits, tmp_path):
    """wgan_gp and cgan with --cuda_graphs on a GPU (the penalty's double backward inside a recording): the critic's
    losses follow the eager run's over 12 steps (noise drawn inside the recordings; cuDNN kernels may differ)."""
    losses = {}
    for graphs in ([], ["--cuda_graphs"]):
        out = tmp_path / ("graphs" if graphs else "eager")
        r = run_script(folder, "train", *train_args(folder, digits, out, "--max_steps", 12, "--epochs", 3,
                                                    "--n_critic", 2, "--device", "cuda", *graphs))
        assert r.returncode == 0, r.stderr[-3000:]
        losses[bool(graphs)] = [m["loss_C"] for m in metrics_at(out / "runs") if "loss_C" in m]
    assert len(losses[True]) == 12 and len(set(losses[True][3:])) == 9
    assert losses[True] == pytest.approx(losses[False], rel=0.05, abs=0.05)


@needs_cuda
def test_dcgan_cuda_graphs_train_like_eager(digits, tmp_path):
    """dcgan --cuda_graphs (z drawn inside the recording): 3 eager warm-ups, a capture, replays across epochs.
    The losses follow the eager run's (the replays draw the noise the eager steps draw; cuDNN kernels may
    differ) and change from step to step."""
    losses = {}
    for graphs in ([], ["--cuda_graphs"]):
        out = tmp_path / ("graphs" if graphs else "eager")
        r = run_script("dcgan", "train", *train_args("dcgan", digits, out, "--max_steps", 12, "--epochs", 3,
                                                     "--device", "cuda", *graphs))
        assert r.returncode == 0, r.stderr[-3000:]
        losses[bool(graphs)] = [m["loss_D"] for m in metrics_at(out / "runs") if "loss_D" in m]
    assert len(losses[True]) == 12 and len(set(losses[True][3:])) == 9
    assert losses[True] == pytest.approx(losses[False], rel=0.05)
