"""Score a trained generator: FID, KID, Inception Score and precision/recall (and intra-class FID for cgan).

    python evaluate.py dcgan/checkpoints/last.pt                  # 50,000 samples vs the run's training data
    python evaluate.py dcgan/checkpoints/last.pt --backbone efficientnet-lite0 --num 10000   # offline
    python evaluate.py pix2pix/checkpoints/last.pt                # translated test images vs the target test images
    python evaluate.py --images fakes/ --dataset cifar10 --data_root data/cifar10   # any folder of images

The folder comes from the checkpoint; its generator is rebuilt by that folder's sample.py (`build`, `draw`; the
EMA generator where the folder keeps one) and scored against the run's training data (`--dataset` and
`--data_root` from the checkpoint unless given), each reference image prepared as training prepared it and
quantised to uint8 like the samples. pix2pix and CycleGAN: their test inputs translated, against the target
domain's test images (the image-to-image literature's protocol). Prints a table and writes JSON next to the run.

The default feature net is Inception-v3 with the TF-FID weights (torch-fidelity): the standard protocol, whose
figures compare with published ones when the protocol matches too (50,000 samples; reference statistics of the
training set; see docs/evaluation.md). `--backbone efficientnet-lite0` works offline; its figures are labelled
"NOT comparable to published FID". Reference features are cached (evaluation/metrics.py: keyed by data, resolution,
feature net weights and count).
"""
import json
import sys
from argparse import Namespace
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(1, str(ROOT))

import torch

from common.checkpoint import load_checkpoint
from common.data import DATASETS, find_images, load_source, read_image
from common.errors import UserError
from evaluation.scoring import REF_NUM, check_count, score_samples, score_translations, warn
from common.flags import FEATURE_NETS
from evaluation.feature_nets import make_feature_net
from common.flags import ArgumentParser, positive_int
from evaluation.metrics import METRICS, extract, reference_features, score, singular_warning
from common.run import main_guard, pick_device
from common.sampling import net_from_checkpoint
from evaluation.generators import folder_modules, generator_from_checkpoint

# What each folder's checkpoint holds to score: a generator of noise, of noise and a label, or of images
KINDS = {"simple_gan": "noise", "dcgan": "noise", "wgan": "noise", "wgan_gp": "noise", "progan": "noise",
         "stylegan": "noise", "lsgan": "noise", "ralsgan": "noise", "infogan": "noise", "cgan": "labels",
         "acgan": "labels", "biggan": "labels", "pix2pix": "translation", "cyclegan": "translation"}
SUPER_RESOLUTION = ("srgan", "esrgan")  # scored against HR images (PSNR/SSIM), not by FID


def metric_list(text):
    names = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in names if m not in METRICS]
    if bad or not names:
        raise ValueError(f"--metrics {text!r}: pick from {','.join(METRICS)}")
    return names


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", nargs="?", help="a train.py checkpoint (last.pt, best.pt)")
    p.add_argument("--images", metavar="DIR", help="score the images in DIR instead of a checkpoint's samples")
    p.add_argument("--num", type=positive_int, default=50_000,
                   help="samples to draw (--images: at most this many of them); the papers' protocol: 50,000")
    p.add_argument("--metrics", type=metric_list, default=list(METRICS),
                   help=f"comma-separated subset of {','.join(METRICS)} (pr = precision and recall) (default: all)")
    p.add_argument("--backbone", default="inception", choices=FEATURE_NETS,
                   help="feature net: inception = the standard FID protocol (weights downloaded once); "
                        "efficientnet-lite0 = offline, not comparable to published FID; mnist = the project's "
                        "digit classifier (needs --backbone_weights)")
    p.add_argument("--backbone_weights", "--inception_weights", default=None, metavar="FILE",
                   help="the feature net's weights (inception: torch-fidelity's weights-inception-2015-12-05-"
                        "6726825d.pth, for machines without network; mnist: required)")
    p.add_argument("--dataset", default=None, choices=DATASETS, help="reference data (default: the checkpoint's)")
    p.add_argument("--data_root", default=None, help="where the reference data is (default: the checkpoint's)")
    p.add_argument("--ref_num", type=positive_int, default=REF_NUM, help="reference images at most")
    p.add_argument("--resolution", type=positive_int, default=None,
                   help="--images: the size both sets are compared at (default: the images' own)")
    p.add_argument("--batch_size", type=positive_int, default=100, help="images per generator/feature-net batch")
    p.add_argument("--seed", type=int, default=0, help="seeds the samples' noise")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--cache_dir", default=None, help="reference-feature cache (default: ~/.cache/gans/...)")
    p.add_argument("--ref_cache", default=None, metavar="FILE",
                   help="use (or write) exactly this reference-feature file; one from other data or another "
                        "feature net is refused")
    p.add_argument("--out", default=None, help="the JSON file (default: next to the run, eval_*.json)")
    args = p.parse_args(argv)
    if (args.checkpoint is None) == (args.images is None):
        p.error("pass a checkpoint, or --images DIR (not both)")
    if args.images and not args.dataset:
        p.error("--images needs --dataset (and --data_root) for the reference images")
    return args


def scoreable(path):
    """The checkpoint at `path`, if evaluate.py can score its folder's generator; else a one-line error."""
    ckpt = load_checkpoint(path)
    arch = ckpt["arch"]
    if arch in SUPER_RESOLUTION:
        raise UserError(f"{path} is {arch}'s: super-resolution is scored against HR images (PSNR/SSIM on Y), not "
                        f"by FID: run {arch}/train.py with --eval_dir DIR (see {arch}/README.md)")
    if arch not in KINDS:
        raise UserError(f"{path} was written by {arch}, which has no generator evaluate.py can score; pass a "
                        f"checkpoint of {', '.join(KINDS)}")
    return ckpt


def checkpoint_flags(cfg, **overrides):
    """The checkpoint's flags (with `overrides`) as the folder's dataset code reads them, `flags.crop_size`: a flag
    the checkpoint does not hold is looked up in its args (common.checkpoint.CheckpointArgs), which make it one
    error line naming the checkpoint, not an AttributeError."""
    class Flags(Namespace):
        def __getattr__(self, key):  # called only for attributes the namespace does not have
            if key.startswith("__"):  # copy, pickle and friends probe these: plain "not there"
                raise AttributeError(key)
            return cfg[key]

    return Flags(**{**cfg, **overrides})


def score_checkpoint(args, ckpt, net, device):
    """(scores, info) of the checkpoint's generator, per its folder's kind."""
    arch, cfg = ckpt["arch"], ckpt["args"]
    data = checkpoint_flags(cfg, data_root=args.data_root or cfg["data_root"], dataset=args.dataset or cfg["dataset"])
    info = {"checkpoint": str(args.checkpoint), "arch": arch, "epoch": ckpt["epoch"], "step": ckpt["step"],
            "run_dir": cfg.get("out_dir")}
    with folder_modules(arch) as folder:
        if KINDS[arch] == "translation":
            return translation_scores(args, ckpt, folder, data, net, device), info
        check_count(args.num, net, args.metrics)
        name, G = generator_from_checkpoint(ckpt, folder, args.checkpoint, device, args.seed)
        extra = {}
        if arch in ("progan", "stylegan"):  # where the checkpoint's growth stands: the resolution and fade-in
            extra = dict(zip(("level", "alpha"), folder.sample.where_training_stands(ckpt)))
        source = load_source(data.dataset, data.data_root, cfg["channels"])
        with torch.no_grad():
            scores, more = score_samples(lambda k, g: folder.sample.draw(G, cfg, k, g, **extra), args.num, source,
                                         net, args.metrics, device, args.ref_num, KINDS[arch] == "labels",
                                         args.batch_size, args.seed, args.cache_dir, args.ref_cache)
    return scores, {**info, "generator": name, **more}


def translation_scores(args, ckpt, folder, data, net, device):
    """pix2pix: G(test inputs) vs the test targets; CycleGAN: G(test X) vs test Y and F(test Y) vs test X."""
    cfg = ckpt["args"]
    if ckpt["arch"] == "pix2pix":
        G = net_from_checkpoint(ckpt, "G", folder.sample.build, args.checkpoint, device)
        _, test = folder.dataset.make_datasets(data)
        if test is None:
            raise UserError(f"no test pairs under {data.data_root} for {ckpt['arch']}; pass --data_root with the "
                            "dataset's test/ (or val/) folder")
        pairs = folder.utils.test_translations(G, torch.utils.data.DataLoader(test, batch_size=1), device,
                                               cfg["direction"])
    else:
        G, F = (net_from_checkpoint(ckpt, n, folder.sample.build, args.checkpoint, device) for n in ("G", "F"))
        _, tests = folder.dataset.make_datasets(data)
        if tests is None:
            raise UserError(f"no testA/ and testB/ under {data.data_root}; pass --data_root with the dataset's "
                            "test folders")
        pairs = folder.utils.test_translations(G, F, *tests, device)
    return score_translations(pairs, net, args.metrics, device)


def score_images(args, net, device):
    """The images of --images against the reference dataset, both at --resolution (default: the images')."""
    from common.data import square_transform
    from evaluation.metrics import to_uint8

    files = find_images(args.images) if Path(args.images).is_dir() else []
    if not files:
        raise UserError(f"no images in {args.images}; pass --images with a folder of generated images")
    if len(files) > args.num:  # --num of them, a fixed random subset (as the reference's)
        keep = torch.randperm(len(files), generator=torch.Generator().manual_seed(0))[:args.num].sort().values
        files = [files[i] for i in keep]
    source = load_source(args.dataset, args.data_root or str(ROOT / "data"))
    resolution = args.resolution or read_image(files[0], source.channels).shape[0]
    transform = square_transform(resolution)

    def batches():
        for i in range(0, len(files), args.batch_size):
            chunk = files[i:i + args.batch_size]
            yield to_uint8(torch.stack([transform(image=read_image(f, source.channels))["image"] for f in chunk]))

    fake, fake_logits = extract(net, batches(), device, len(files), "images")
    ref_n = min(args.ref_num, len(source))
    real, _, _ = reference_features(source, resolution, net, ref_n, device, args.cache_dir, args.ref_cache)
    if "fid" in args.metrics:
        for n, what in ((len(files), str(args.images)), (ref_n, "the reference images")):
            warn(singular_warning(n, net.dim, what))
    return score(args.metrics, fake, fake_logits, real), {
        "images": str(args.images), "samples": len(files), "reference": source.name, "reference_images": ref_n,
        "resolution": resolution}


def table(scores):
    """Rows of (metric, value) for the printed table."""
    rows = []
    if "fid" in scores:
        rows.append(("FID", f"{scores['fid']:.3f}"))
    if scores.get("intra_fid") is not None:
        rows.append(("intra-class FID", f"{scores['intra_fid']:.3f} (mean over classes)"))
    if "kid" in scores:
        rows.append(("KID", f"{scores['kid']:.5f} ± {scores['kid_std']:.5f} (100 subsets of "
                            f"{scores['kid_subset_size']:,})"))
    if "is" in scores:
        rows.append(("Inception Score", f"{scores['is']:.3f} ± {scores['is_std']:.3f} ({scores['is_splits']} "
                                        "splits)"))
    if scores.get("precision") is not None:
        rows += [("precision", f"{scores['precision']:.4f} (k = 3)"), ("recall", f"{scores['recall']:.4f}")]
    elif "precision" in scores:
        rows.append(("precision/recall", "not computed: each side needs more than 3 images (k = 3)"))
    return rows


def report(scores, info, net):
    """Print the table: one block per direction for the translation folders."""
    what = info.get("checkpoint") or info["images"]
    head = f"{info['arch']} {what} (epoch {info['epoch']}, step {info['step']})" if "arch" in info else what
    print(f"{head}\nfeature net: {net.label()}")
    blocks = scores.items() if info.get("arch") in ("pix2pix", "cyclegan") else [(None, scores)]
    for name, s in blocks:
        if name is not None:
            print(f"{name}: {s['images']:,} translated test images vs {s['target_images']:,} real test images")
        else:
            print(f"{info['samples']:,} samples vs {info['reference_images']:,} images of {info['reference']}, "
                  f"at {info['resolution']}×{info['resolution']}")
        for metric, value in table(s):
            print(f"  {metric:<16} {value}")


def out_path(args, info, net):
    if args.out:
        return Path(args.out)
    if args.images:
        return Path(args.images).parent / f"eval_{Path(args.images).name}_{net.name}.json"
    ckpt = Path(args.checkpoint)
    folder = Path(info["run_dir"]) if info["run_dir"] and Path(info["run_dir"]).is_dir() else ckpt.parent
    return folder / f"eval_{ckpt.stem}_step{info['step']}_{net.name}.json"


def main(argv=None, net=None):
    """`net`: a feature net to use instead of --backbone's (tests inject a small one)."""
    args = parse_args(argv)
    device = pick_device(args.device)
    ckpt = scoreable(args.checkpoint) if args.checkpoint else None  # a wrong file fails before any weights load
    net = net or make_feature_net(args.backbone, args.backbone_weights, device)
    scores, info = score_checkpoint(args, ckpt, net, device) if ckpt else score_images(args, net, device)
    report(scores, info, net)
    path = out_path(args, info, net)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**info, "feature_net": net.name, "feature_dim": net.dim,
                                "comparable_to_published_fid": net.comparable, "metrics": args.metrics,
                                "scores": scores, "command": ["evaluate.py", *(sys.argv[1:] if argv is None
                                                                              else argv)]}, indent=2) + "\n")
    print(f"wrote {path}")
    return scores


if __name__ == "__main__":
    main_guard(main)
