"""Does BigGAN draw the class it was asked for? An independent CIFAR-10 classifier reads the generated images and
reports the fraction classified as their requested class, beside the same classifier's accuracy on real test images.

    python evaluation/cifar_classifier.py train --data_root data/cifar10 --out cifar_probe.pt
    python evaluation/cifar_classifier.py accuracy --checkpoint biggan/checkpoints/last.pt --classifier cifar_probe.pt

The classifier is a linear probe: ImageNet-trained EfficientNet-Lite0 (the weights that install offline, evaluate.py's
`--backbone efficientnet-lite0`: images TF-resized to 224×224, pooled 1280-d features), frozen, and one linear layer to
the 10 classes trained on standardised features of CIFAR-10 training images (full-batch L-BFGS on cross-entropy with
a small L2 penalty). It never saw a generated image and shares nothing with the GAN, so a sample it reads as "ship"
looks like a ship to an ImageNet network; how far that goes is its accuracy on real test images, printed first.
Lite0 runs about 16 images/s on two CPU cores, hence `--train_per_class` (300 by default) instead of all 50,000,
and 100 test images per class.
The file written is a plain dict of tensors (mean, std, weight, bias), loadable with torch.load(weights_only=True).
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(1, str(ROOT))

import numpy as np
import torch
import torch.nn.functional as F

from common.errors import UserError
from evaluation.metrics import extract, to_uint8

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def stratified(labels, per_class, seed=0):
    """Indices of `per_class` items of every class (all of a class when it has fewer), in a seeded random order."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.as_tensor(labels)
    picked = []
    for k in labels.unique().tolist():
        idx = (labels == k).nonzero().flatten()
        picked.append(idx[torch.randperm(len(idx), generator=g)[:per_class]])
    return torch.cat(picked)


def load_split(data_root, split, per_class, seed=0):
    """(uint8 images (N, 3, 32, 32), labels (N,)) from `<data_root>/<split>/<class>/*` (or, for train,
    torchvision's cifar-10-batches-py): `per_class` of each class."""
    from common.data import class_folders, from_class_folders, load_source

    if split == "train":
        source = load_source("cifar10", data_root, 3)
    else:
        classes = class_folders(Path(data_root) / split)
        if len(classes) != 10:
            raise UserError(f"{Path(data_root) / split} does not hold the 10 CIFAR-10 class folders; pass the "
                            "--data_root whose train/ and test/ hold <class>/*.png")
        source = from_class_folders(f"CIFAR-10 {split}", classes, 3)
    idx = stratified(source.labels, per_class, seed)
    images = np.stack([source.image(i) for i in idx.tolist()])  # (N, 32, 32, 3)
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.as_tensor(source.labels)[idx]


def features(net, images, batch=100, device="cpu"):
    """The feature net's features (N, D) of uint8 images, in batches."""
    return extract(net, images.split(batch), device, total=len(images))[0].float()


def fit_probe(x, y, num_classes=10, l2=1e-3, steps=200):
    """A linear classifier on features x (N, D): {mean, std, weight (K, D), bias (K,)}; x is standardised with
    its own mean and std, then full-batch L-BFGS minimises cross-entropy + l2·‖W‖²."""
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    z = (x - mean) / std
    weight = torch.zeros(num_classes, x.shape[1], requires_grad=True)
    bias = torch.zeros(num_classes, requires_grad=True)
    opt = torch.optim.LBFGS([weight, bias], lr=1, max_iter=steps, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(z @ weight.T + bias, y) + l2 * weight.square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    return {"mean": mean, "std": std, "weight": weight.detach(), "bias": bias.detach()}


def predict(probe, x):
    """Class predictions (N,) of the probe for features x (N, D)."""
    return (((x - probe["mean"]) / probe["std"]) @ probe["weight"].T + probe["bias"]).argmax(1)


def load_probe(path):
    try:
        probe = torch.load(path, map_location="cpu", weights_only=True)
        assert isinstance(probe, dict) and {"mean", "std", "weight", "bias"} <= set(probe)
    except FileNotFoundError:
        raise UserError(f"--classifier {path} does not exist; make it with: python evaluation/cifar_classifier.py "
                        "train --out cifar_probe.pt") from None
    except Exception:
        raise UserError(f"--classifier {path} is not a probe written by evaluation/cifar_classifier.py train; make "
                        "one with: python evaluation/cifar_classifier.py train --out cifar_probe.pt") from None
    return probe


@torch.no_grad()
def class_accuracy(draw, net, probe, per_class=100, num_classes=10, batch=100, device="cpu"):
    """Fraction of `draw(labels)` (images in [-1, 1]) that the probe on `net`'s features assigns to `labels`,
    overall and per class."""
    labels = torch.arange(num_classes).repeat_interleave(per_class)
    images = torch.cat([to_uint8(draw(chunk)).cpu() for chunk in labels.split(batch)])
    hits = predict(probe, features(net, images, batch, device)) == labels
    return hits.float().mean().item(), hits.view(num_classes, per_class).float().mean(1).tolist()


def load_biggan(checkpoint, device="cpu", seed=0, truncation=None):
    """A sampler labels → images of a biggan checkpoint, as sample.py and evaluate.py draw (the EMA generator with
    standing BatchNorm statistics), and the checkpoint."""
    from common.checkpoint import load_checkpoint
    from evaluation.generators import folder_modules, generator_from_checkpoint

    ckpt = load_checkpoint(checkpoint, "biggan")
    with folder_modules("biggan") as folder:
        _, G = generator_from_checkpoint(ckpt, folder, checkpoint, device, seed)
        draw = folder.sample.draw
    g = torch.Generator(device=device).manual_seed(seed)
    return lambda labels: draw(G, ckpt["args"], labels, g, truncation), ckpt


def main(argv=None):
    from evaluation.feature_nets import make_feature_net
    from common.run import main_guard

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="fit the probe on training images, report its accuracy on real test images")
    t.add_argument("--data_root", default=str(ROOT / "data" / "cifar10"))
    t.add_argument("--train_per_class", type=int, default=300)
    t.add_argument("--test_per_class", type=int, default=100)
    t.add_argument("--out", default="cifar_probe.pt")
    a = sub.add_parser("accuracy", help="class accuracy of a biggan checkpoint's samples")
    a.add_argument("--checkpoint", default=str(ROOT / "biggan" / "checkpoints" / "last.pt"))
    a.add_argument("--classifier", default="cifar_probe.pt")
    a.add_argument("--per_class", type=int, default=100)
    a.add_argument("--truncation", type=float, default=None, help="resample |z| above this (default: none)")
    a.add_argument("--seed", type=int, default=0)
    for s in (t, a):
        s.add_argument("--device", default="cpu")
    args = p.parse_args(argv)

    def run():
        if args.cmd == "accuracy":
            probe = load_probe(args.classifier)  # before the slow parts: a wrong file fails at once
        net = make_feature_net("efficientnet-lite0", device=args.device)
        if args.cmd == "train":
            x, y = load_split(args.data_root, "train", args.train_per_class)
            tx, ty = load_split(args.data_root, "test", args.test_per_class)
            probe = fit_probe(features(net, x, device=args.device), y)
            acc = (predict(probe, features(net, tx, device=args.device)) == ty).float().mean().item()
            torch.save(probe, args.out)
            print(f"linear probe on EfficientNet-Lite0 features: {len(x)} training images, accuracy on {len(tx)} "
                  f"real CIFAR-10 test images {acc:.4f}; saved {args.out}")
            return
        draw, ckpt = load_biggan(args.checkpoint, args.device, args.seed, args.truncation)
        overall, per_class = class_accuracy(draw, net, probe, args.per_class, device=args.device)
        trunc = f", truncation {args.truncation}" if args.truncation else ""
        print(f"biggan {args.checkpoint} (epoch {ckpt['epoch']}, step {ckpt['step']}{trunc}): {overall:.4f} of "
              f"{10 * args.per_class} samples classified as their requested class")
        print("per class: " + " ".join(f"{c}:{acc:.2f}" for c, acc in zip(CLASSES, per_class)))

    main_guard(run)


if __name__ == "__main__":
    main()
