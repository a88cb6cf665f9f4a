"""Does cgan draw the digit it was asked for? A small MNIST classifier, trained by this project offline, reads
the generated digits and reports the fraction classified as their requested label. It is also evaluate.py's
`--backbone mnist` (evaluation/feature_nets.py): a feature net that knows digits, for MNIST-family data.

    python evaluation/mnist_classifier.py train --data_root data/mnist --out mnist_classifier.pt
    python evaluation/mnist_classifier.py cgan --checkpoint cgan/checkpoints/last.pt --classifier mnist_classifier.pt
    python evaluation/mnist_classifier.py score --arch dcgan --checkpoint dcgan/checkpoints/last.pt

The classifier is the PyTorch MNIST example's CNN (two 3×3 convolutions, max-pool, two linear layers) on 28×28
images in [-1, 1]. It trains on whatever MNIST common/data.py finds (the 60,000 PNGs, torchvision's files, or the
5,000-digit offline sample) and reports its accuracy on held-out real digits first, so the label accuracy of
the generated digits can be read against it.
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(1, str(ROOT))

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class Classifier(nn.Module):
    """(B, 1, 28, 28) in [-1, 1] → (B, 10) logits."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(),  # (B, 32, 26, 26)
            nn.Conv2d(32, 64, 3), nn.ReLU(),  # (B, 64, 24, 24)
            nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),  # (B, 9216)
            nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(128, 10),  # (B, 10)
        )

    def forward(self, x):
        return self.net(x)


def load_digits(data_root):
    """(train_x, train_y, test_x, test_y): uint8 → float [-1, 1] (N, 1, 28, 28). The test split is the
    image-folder `test/` when present, else the last 1,000 training digits (held out)."""
    from common.data import class_folders, from_class_folders, load_source

    def as_tensors(source):
        x = np.stack([source.image(i)[:, :, 0] for i in range(len(source))])
        return torch.from_numpy(x).float().div(127.5).sub(1).unsqueeze(1), torch.from_numpy(source.labels)

    x, y = as_tensors(load_source("mnist", data_root))
    test_classes = class_folders(Path(data_root) / "test")
    if test_classes:
        tx, ty = as_tensors(from_class_folders("MNIST test", test_classes, 1, label_of=int, n_classes=10))
        return x, y, tx, ty
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    x, y = x[perm], y[perm]
    return x[:-1000], y[:-1000], x[-1000:], y[-1000:]


@torch.no_grad()
def accuracy(model, x, y, batch=1000):
    model.eval()
    correct = sum((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item() for i in range(0, len(x), batch))
    return correct / len(x)


def train_classifier(x, y, epochs=1, batch=64, lr=1e-3, seed=0):
    """Adam on cross-entropy; one epoch of 60k digits reaches about 98-99% (the PyTorch example's figure)."""
    torch.manual_seed(seed)
    model = Classifier()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(x)).split(batch):
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model.eval()


def classify_logits(classifier, images):
    """Classifier logits for generated images in [-1, 1] of any size (area-resized to its 28×28 input)."""
    images = images.float().cpu()
    if images.shape[-1] != 28:
        images = F.interpolate(images, size=(28, 28), mode="area")
    return classifier(images)


@torch.no_grad()
def label_accuracy(generate, classifier, per_class=100, num_classes=10, batch=250):
    """Fraction of `generate(labels)` (images in [-1, 1], any size) that `classifier` assigns to `labels`,
    overall and per class. Images are area-resized to 28×28, the classifier's input."""
    labels = torch.arange(num_classes).repeat_interleave(per_class)
    predicted = []
    for chunk in labels.split(batch):
        predicted.append(classify_logits(classifier, generate(chunk)).argmax(1))
    hits = torch.cat(predicted) == labels
    return hits.float().mean().item(), hits.view(num_classes, per_class).float().mean(1).tolist()


@torch.no_grad()
def digit_score(generate, classifier, n=1000, batch=250):
    """For an unconditional G: the fraction of `generate(k)` samples the classifier reads as some digit with
    probability > 0.9, and the entropy (bits) of the predicted-digit histogram (log2 10 = 3.32 when all ten digits
    are equally common; a mode-collapsed G scores low)."""
    probs = []
    for k in [batch] * (n // batch) + ([n % batch] if n % batch else []):
        probs.append(classify_logits(classifier, generate(k)).softmax(1))
    probs = torch.cat(probs)
    confident = (probs.max(1).values > 0.9).float().mean().item()
    hist = torch.bincount(probs.argmax(1), minlength=10).float() / len(probs)
    entropy = -(hist[hist > 0] * hist[hist > 0].log2()).sum().item()
    return confident, entropy, hist.tolist()


def load_generator(arch, checkpoint, device="cpu", seed=0):
    """The G of an `arch` checkpoint, built and drawn from as its folder's sample.py does: a sampler n (or labels,
    for cgan) → images, and the checkpoint."""
    from common.checkpoint import load_checkpoint
    from evaluation.generators import folder_modules, generator_from_checkpoint

    ckpt = load_checkpoint(checkpoint, arch)
    with folder_modules(arch) as folder:
        _, G = generator_from_checkpoint(ckpt, folder, checkpoint, device, seed)
        draw = folder.sample.draw
    g = torch.Generator(device=device).manual_seed(seed)
    return lambda n_or_labels: draw(G, ckpt["args"], n_or_labels, g), ckpt


@torch.no_grad()
def infogan_code_error(checkpoint, classifier, n=10_000, device="cpu", seed=0, batch=500):
    """The paper's "5% error" (Section 7.1): classify G's samples drawn with random categorical codes, match the
    code values to the predicted digits one-to-one (Hungarian), and return (error, {code: digit}, checkpoint)."""
    from common.checkpoint import load_checkpoint
    from evaluation.generators import folder_modules, generator_from_checkpoint

    ckpt = load_checkpoint(checkpoint, "infogan")
    with folder_modules("infogan") as folder:
        _, G = generator_from_checkpoint(ckpt, folder, checkpoint, device, seed)
        sample_latent, match = folder.utils.sample_latent, folder.utils.categorical_match_error
    g = torch.Generator(device=device).manual_seed(seed)
    codes, predicted = [], []
    for k in [batch] * (n // batch) + ([n % batch] if n % batch else []):
        latent, cat, _ = sample_latent(k, ckpt["args"], device, g)
        codes.append(cat.cpu())
        predicted.append(classify_logits(classifier, G(latent)).argmax(1))
    error, mapping = match(torch.cat(predicted), torch.cat(codes), ckpt["args"]["n_cat"])
    return error, mapping, ckpt


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train the classifier and report its test accuracy")
    t.add_argument("--data_root", default=str(ROOT / "data"))
    t.add_argument("--epochs", type=int, default=1)
    t.add_argument("--out", default="mnist_classifier.pt")
    c = sub.add_parser("cgan", help="label accuracy of a conditional G's samples (cgan, or acgan with --arch)")
    c.add_argument("--arch", default="cgan", choices=["cgan", "acgan"])
    c.add_argument("--checkpoint", help="a train.py checkpoint of --arch (default: <arch>/checkpoints/last.pt)")
    c.add_argument("--classifier", default="mnist_classifier.pt")
    c.add_argument("--per_class", type=int, default=100)
    c.add_argument("--device", default="cpu")
    i = sub.add_parser("infogan", help="error of InfoGAN's categorical code as digit classes (Hungarian matching)")
    i.add_argument("--checkpoint", default=str(ROOT / "infogan" / "checkpoints" / "last.pt"))
    i.add_argument("--classifier", default="mnist_classifier.pt")
    i.add_argument("--num", type=int, default=10_000)
    i.add_argument("--device", default="cpu")
    u = sub.add_parser("score", help="confident fraction and digit entropy of an unconditional G's samples")
    u.add_argument("--arch", required=True, choices=["simple_gan", "dcgan", "wgan", "wgan_gp", "lsgan", "ralsgan",
                                                      "infogan", "real"],
                   help="real = held-out real digits from --data_root, the reference to read the others against")
    u.add_argument("--checkpoint", help="a train.py checkpoint of --arch")
    u.add_argument("--data_root", default=str(ROOT / "data"))
    u.add_argument("--classifier", default="mnist_classifier.pt")
    u.add_argument("--num", type=int, default=1000)
    u.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    if args.cmd == "train":
        x, y, tx, ty = load_digits(args.data_root)
        model = train_classifier(x, y, epochs=args.epochs)
        torch.save(model.state_dict(), args.out)
        print(f"classifier: {len(x)} training digits, accuracy on {len(tx)} held-out real digits "
              f"{accuracy(model, tx, ty):.4f}; saved {args.out}")
        return
    model = Classifier()
    model.load_state_dict(torch.load(args.classifier, map_location="cpu", weights_only=True))
    model.eval()
    if args.cmd == "infogan":
        error, mapping, ckpt = infogan_code_error(args.checkpoint, model, args.num, args.device)
        print(f"infogan {args.checkpoint} (epoch {ckpt['epoch']}, step {ckpt['step']}): the categorical code read as "
              f"digits, best one-to-one matching, {args.num} samples: error {error:.4f}")
        print("code → digit: " + " ".join(f"{c}:{d}" for c, d in sorted(mapping.items())))
        return
    if args.cmd == "score":
        if args.arch == "real":
            test_x = load_digits(args.data_root)[2]
            test_x = test_x[torch.randperm(len(test_x), generator=torch.Generator().manual_seed(0))]
            batches = iter(test_x.split(250))
            generate, what = lambda n: next(batches)[:n], f"real held-out digits from {args.data_root}"
        else:
            generate, ckpt = load_generator(args.arch, args.checkpoint, args.device)
            what = f"{args.arch} {args.checkpoint} (epoch {ckpt['epoch']}, step {ckpt['step']})"
        confident, entropy, hist = digit_score(generate, model, args.num)
        print(f"{what}, {args.num} samples: {confident:.4f} read as a digit with p > 0.9; "
              f"digit entropy {entropy:.3f} bits (max 3.322)")
        print("predicted digits: " + " ".join(f"{k}:{h:.3f}" for k, h in enumerate(hist)))
    else:
        checkpoint = args.checkpoint or str(ROOT / args.arch / "checkpoints" / "last.pt")
        generate, ckpt = load_generator(args.arch, checkpoint, args.device)
        overall, per_class = label_accuracy(generate, model.eval(), args.per_class)
        print(f"{args.arch} {checkpoint} (epoch {ckpt['epoch']}, step {ckpt['step']}): {overall:.4f} of "
              f"{10 * args.per_class} samples classified as their requested label")
        print("per class: " + " ".join(f"{k}:{a:.2f}" for k, a in enumerate(per_class)))


if __name__ == "__main__":
    main()
