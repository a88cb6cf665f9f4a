"""Training speed of every architecture at its default configuration: images/s, ms per step, peak GPU memory.

    python benchmark.py                                   # all architectures, the default (fast) path
    python benchmark.py --arch dcgan --steps 50 --compare-eager   # + the plain fp32 eager path, and the ratio
    python benchmark.py --arch pix2pix cyclegan --compare-eager --compile
    python benchmark.py --arch dcgan pix2pix cyclegan srgan esrgan --compare-eager --cuda_graphs
    python benchmark.py --arch dcgan --nproc 8            # + 8 processes (torchrun, one GPU each): scaling efficiency
    python benchmark.py --arch wgan_gp cgan --variant gp_bf16="--gp_precision bf16"   # + the defaults with more flags

Each measurement runs the folder's real train.py (its own process: every folder has a model.py, and a fresh
process gives a clean peak-memory figure) on generated images at the architecture's training resolution, with
`--max_steps warmup+steps --time_steps warmup`: the first `--warmup` steps (cuDNN autotuning, compilation) are
not timed, the clock stops at the last step (sample grids and checkpoint writing are not timed).

Paths compared:
  eager    --amp off --fast off: fp32, no TF32, per-tensor Adam, NCHW, a DataLoader decoding one image file per
           sample with worker processes (how the popular collections train)
  default  the folder's defaults: bf16 autocast, TF32, fused Adam, small datasets held on the GPU, and
           channels_last in the folders that default to it (wgan: docs/speed.md gives why)
  nchw     --fast on (NCHW) and nhwc: --fast channels_last, with --layouts: what channels_last brings
  compile  default + --compile (torch.compile; the critics of wgan_gp and cgan stay eager: double backward)
  graphs   default + --cuda_graphs (the step recorded as a CUDA graph; dcgan, wgan_gp, pix2pix, cyclegan, srgan,
           esrgan)
  NAME     default + the flags of --variant NAME="FLAGS", in the folders whose train.py has all of them
  nprocN   default on N processes under torchrun (--nproc N), each with the one-process batch (weak scaling: the
           global batch is N times larger); scaling efficiency = its images/s / (N × the default path's)
A "step" is one optimizer step of D/critic (WGAN family: one critic step; G steps every n_critic of them).
"""
import argparse
import functools
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
ARCHS = ["simple_gan", "dcgan", "wgan", "wgan_gp", "cgan", "pix2pix", "cyclegan", "srgan", "esrgan"]
BATCH = {"simple_gan": 32, "dcgan": 128, "wgan": 64, "wgan_gp": 64, "cgan": 64, "pix2pix": 1, "cyclegan": 1,
         "srgan": 16, "esrgan": 16}
GRAPHS = {"dcgan", "wgan_gp", "pix2pix", "cyclegan", "srgan", "esrgan"}  # the folders with --cuda_graphs
# progan is not here: its step depends on the phase (4×4 ... 1024×1024); time a phase with --time_steps instead


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--arch", nargs="+", default=["all"], choices=["all", *ARCHS])
    p.add_argument("--steps", type=int, default=30, help="timed steps per measurement")
    p.add_argument("--warmup", type=int, default=10, help="untimed steps first")
    p.add_argument("--compare-eager", dest="compare_eager", action="store_true",
                   help="also run the plain fp32 eager path and print the speed-up")
    p.add_argument("--compile", action="store_true", help="also run the default path with --compile")
    p.add_argument("--cuda_graphs", action="store_true",
                   help="also run the default path with --cuda_graphs (the folders that have it)")
    p.add_argument("--nproc", type=int, default=1,
                   help="also run the default path on this many processes (torchrun --standalone; one GPU each on "
                        "CUDA, gloo on the CPU), each with the one-process batch, and print the scaling efficiency")
    p.add_argument("--variant", action="append", default=[], metavar='NAME="FLAGS"',
                   help="also run the default path with these train.py flags, as the path NAME, in each --arch whose "
                        "train.py has them (repeatable), e.g. --variant gp_bf16=\"--gp_precision bf16\"")
    p.add_argument("--layouts", action="store_true",
                   help="run the fast path both ways, NCHW (--fast on) and channels_last, instead of the default")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--amp", default=None, choices=["auto", "off", "bf16", "fp16"],
                   help="--amp of every path but eager; unset (None): each folder's own, auto; e.g. bf16 on CPUs "
                        "with AMX or AVX512-BF16")
    p.add_argument("--batch_size", type=int, default=None, help="override every default batch size (CPU smoke runs)")
    p.add_argument("--num_workers", type=int, default=4, help="DataLoader workers of the file-reading paths")
    p.add_argument("--json", default=None, help="also write the results to this file")
    p.add_argument("--logs", default=None, help="folder for each run's full output")
    args = p.parse_args(argv)
    if args.steps < 1 or args.warmup < 1:
        p.error("--steps and --warmup must be >= 1")
    if args.nproc < 1:
        p.error("--nproc must be >= 1")
    args.arch = ARCHS if "all" in args.arch else args.arch
    args.variants = {}
    for v in args.variant:
        name, _, flags = v.partition("=")
        if not name.isidentifier() or name in PATHS or name.startswith("nproc") or not flags.split():
            p.error(f'--variant {v}: expected NAME="FLAGS" with a new path name, e.g. gp_bf16="--gp_precision bf16"')
        args.variants[name] = flags.split()
    return args


# ----------------------------------------------------------------------------------------------- data
def write_images(folder, n, h, w, channels, seed):
    """n random PNG images (H, W, C) in `folder` (smooth noise, so PNG decoding costs what a photo costs)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (max(1, min(n, 64)), h // 4 + 1, w // 4 + 1, channels), dtype=np.uint8)
    for i in range(n):
        small = Image.fromarray(base[i % len(base)].squeeze(-1) if channels == 1 else base[i % len(base)])
        small.resize((w, h), Image.BILINEAR).save(folder / f"{i:06d}.png")


def make_data(arch, root, n_images):
    """Generated images in each folder's layout, at its training resolution; returns the data flags."""
    root = root / arch
    if arch == "pix2pix":
        write_images(root / "train", n_images, 256, 512, 3, 0)  # A|B pairs, 256 + 256 side by side
        return ["--dataset", "folder", "--data_root", root, "--eval_dir", "none"]
    if arch == "cyclegan":
        write_images(root / "trainA", n_images, 256, 256, 3, 1)
        write_images(root / "trainB", n_images, 256, 256, 3, 2)
        return ["--dataset", "folder", "--data_root", root]
    if arch in ("srgan", "esrgan"):  # HR images; the PSNR phase (the GAN phase needs VGG19 weights)
        write_images(root, n_images, 128, 128, 3, 3)
        return ["--data_root", root, "--phase", "psnr"]
    size, channels = (28, 1) if arch == "simple_gan" else (64, 3)  # MNIST for the MLP, CelebA-like otherwise
    per_class = -(-n_images // 10)
    for c in range(10):  # 10 class folders: cgan needs labels
        write_images(root / str(c), per_class, size, size, channels, 10 + c)
    return ["--dataset", "folder", "--data_root", root, "--channels", str(channels)]


# ----------------------------------------------------------------------------------------------- runs
PATHS = {"eager": ["--amp", "off", "--fast", "off"], "default": [], "nchw": ["--fast", "on"],
         "nhwc": ["--fast", "channels_last"], "compile": ["--compile"], "graphs": ["--cuda_graphs"]}


@functools.cache
def train_flags(arch):
    """The flags arch's train.py accepts (from its --help)."""
    r = subprocess.run([sys.executable, str(ROOT / arch / "train.py"), "--help"], capture_output=True, text=True,
                       env=dict(os.environ, NO_ALBUMENTATIONS_UPDATE="1"))
    return {word.strip("[],") for word in r.stdout.split() if word.strip("[").startswith("--")}


def has_flags(arch, flags):
    """Whether arch's train.py accepts every --flag in `flags` (a --variant runs only where it does)."""
    return all(f in train_flags(arch) for f in flags if f.startswith("--"))


def processes(path):
    """1, or N for the path "nprocN"."""
    return int(path[len("nproc"):]) if path.startswith("nproc") else 1


def measure(arch, path, data_flags, args, work):
    n = processes(path)
    batch = (args.batch_size or BATCH[arch]) * n  # nprocN: the one-process batch on each of N processes
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(n)]
                if n > 1 else [sys.executable])
    flags = PATHS.get(path) or args.variants.get(path, [])
    cmd = [*launcher, str(ROOT / arch / "train.py"), *map(str, data_flags), *flags,
           "--batch_size", str(batch), "--device", args.device, "--num_workers", str(args.num_workers),
           "--max_steps", str(args.warmup + args.steps), "--time_steps", str(args.warmup),
           "--log_every", "1000000", "--epochs", "1000",
           "--out_dir", str(work / "runs" / f"{arch}_{path}"), "--ckpt_dir", str(work / "ck" / f"{arch}_{path}")]
    if arch in ("pix2pix", "cyclegan"):
        cmd += ["--decay_epochs", "0"]
    if args.amp and path != "eager":
        cmd += ["--amp", args.amp]
    env = dict(os.environ, NO_ALBUMENTATIONS_UPDATE="1", PYTHONUNBUFFERED="1")
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if args.logs:
        (Path(args.logs) / f"{arch}_{path}.log").write_text(r.stdout + r.stderr)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("TIMING ")]
    if r.returncode != 0 or not lines:
        tail = (r.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"arch": arch, "path": path, "error": tail[:200]}
    return {**json.loads(lines[-1][len("TIMING "):]), "path": path}


def table(results):
    rows = ["| arch | path | batch | ms/step | images/s | peak GPU GiB | vs eager | scaling efficiency |",
            "|---|---|---|---|---|---|---|---|"]
    eager = {r["arch"]: r for r in results if r["path"] == "eager" and "error" not in r}
    default = {r["arch"]: r for r in results if r["path"] == "default" and "error" not in r}
    for r in results:
        if "error" in r:
            rows.append(f"| {r['arch']} | {r['path']} | | failed: {r['error']} | | | | |")
            continue
        ratio = (f"{r['images_per_s'] / eager[r['arch']]['images_per_s']:.2f}×"
                 if r["arch"] in eager and r["path"] != "eager" else "")
        n = processes(r["path"])
        scaling = (f"{r['images_per_s'] / (n * default[r['arch']]['images_per_s']):.0%}"
                   if n > 1 and r["arch"] in default else "")
        peak = f"{r['peak_gib']:.2f}" if r["peak_gib"] is not None else "-"
        rows.append(f"| {r['arch']} | {r['path']} | {r['batch_size']} | {r['ms_per_step']:.2f} | "
                    f"{r['images_per_s']:,.0f} | {peak} | {ratio} | {scaling} |")
    return "\n".join(rows)


def environment():
    import torch

    from common.run import cpu_has_bf16

    if torch.cuda.is_available():
        name = torch.cuda.get_device_name()
    else:
        models = [ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                  if ln.startswith("model name")] if Path("/proc/cpuinfo").exists() else []
        name = (f"{models[0] if models else platform.processor() or 'CPU'}, {torch.get_num_threads()} threads, "
                f"bf16 instructions (AMX, AVX512-BF16) {'yes' if cpu_has_bf16() else 'no'}")
    return (f"device: {name}; torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN "
            f"{torch.backends.cudnn.version()}, Python {platform.python_version()}")


def main(argv=None):
    args = parse_args(argv)
    paths = ((["eager"] if args.compare_eager else []) + (["nchw", "nhwc"] if args.layouts else ["default"])
             + (["compile"] if args.compile else []) + (["graphs"] if args.cuda_graphs else [])
             + ([f"nproc{args.nproc}"] if args.nproc > 1 else []) + list(args.variants))
    if args.nproc > 1 and "default" not in paths:
        paths.insert(paths.index(f"nproc{args.nproc}"), "default")  # the one-process figure scaling compares with
    results = []
    with tempfile.TemporaryDirectory(prefix="gans_bench_") as tmp:
        work = Path(tmp)
        for arch in args.arch:
            batch = (args.batch_size or BATCH[arch]) * args.nproc
            data_flags = make_data(arch, work / "data", batch * (args.warmup + args.steps + 1))
            for path in paths:
                if path == "graphs" and arch not in GRAPHS:
                    continue
                if path in args.variants and not has_flags(arch, args.variants[path]):
                    print(f"{arch}: no {' '.join(args.variants[path])} in its train.py; variant {path} skipped",
                          file=sys.stderr, flush=True)
                    continue
                result = measure(arch, path, data_flags, args, work)
                results.append(result)
                print(json.dumps(result), file=sys.stderr, flush=True)
    print(environment())
    print(f"command: python benchmark.py {' '.join(argv if argv is not None else sys.argv[1:])}")
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps({"environment": environment(), "results": results}, indent=1))
    if any("error" in r for r in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
