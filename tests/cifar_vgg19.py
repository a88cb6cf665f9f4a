"""A VGG19 feature network trained by this project offline, for the SR GAN phases when the ImageNet weights cannot
be downloaded. It is NOT the papers' loss: SRGAN and ESRGAN use VGG19 trained on ImageNet (1.28 M images at
224×224); this one learns CIFAR-10 (50,000 images at 32×32). It lets the GAN phases' loops run on real photos
here; as a perceptual loss it fails (srgan/README.md and esrgan/README.md, Results: the images lose their colours
and SRGAN's generator stops following its input). A user's runs should pass torchvision's `vgg19-dcbb9e9d.pth`.

    python tests/cifar_vgg19.py --data_root data/cifar10 --epochs 4 --out cifar_vgg19.pth
    python srgan/train.py --phase gan --vgg_weights cifar_vgg19.pth ...

The network is torchvision's VGG19 `features` (16 3×3 convolutions, 5 max-pools; configuration E) with a
BatchNorm after each convolution while it trains (plain VGG19 is hard to train from scratch: the VGG paper
initialised its deep nets from shallower trained ones), then a global average pool and one linear layer
to the 10 classes. Inputs are normalised with the ImageNet mean and std, as `VGGFeatures` does. After training each
BatchNorm (eval mode) is folded into the convolution before it, W' = W·γ/σ, b' = (b − μ)·γ/σ + β, which gives
plain VGG19 `features` computing the same function; only those are written, as a state_dict with torchvision's
`features.N.*` names (the classifier is never used for a perceptual loss). The script checks that the folded
network gives the trained one's features and reports the test accuracy through the folded network.
"""
import argparse
import itertools
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(1, str(ROOT))

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from common.super_resolution import IMAGENET_MEAN, IMAGENET_STD  # what VGGFeatures normalises with


def load_cifar(data_root):
    """(train_x, train_y, test_x, test_y): uint8 (N, 3, 32, 32) and int64 labels, from `train/<class>/*` and
    `test/<class>/*` under data_root, or torchvision's cifar-10-batches-py (common/data.py finds either)."""
    from common.data import class_folders, from_class_folders, load_source

    def as_tensors(source):
        x = np.stack([source.image(i) for i in range(len(source))])  # (N, 32, 32, 3)
        return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(source.labels)

    train = load_source("cifar10", data_root)  # train/<class>/*, or torchvision's files (downloaded if missing)
    classes = class_folders(Path(data_root) / "test")
    if classes:
        test = from_class_folders("CIFAR-10 test", classes, 3)  # labels: sorted class names, as train's
        return (*as_tensors(train), *as_tensors(test))
    import torchvision

    test = torchvision.datasets.CIFAR10(data_root, train=False)  # the test batch of torchvision's layout
    return (*as_tensors(train), torch.from_numpy(test.data).permute(0, 3, 1, 2).contiguous(),
            torch.tensor(test.targets))


def normalise(x):
    """uint8 (B, 3, H, W) → ImageNet-normalised float, as VGGFeatures sees images in [0, 1]."""
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x.float() / 255 - mean) / std


def augment(x, g):
    """CIFAR's standard augmentation on a uint8 batch: 4-pixel zero padding, a random 32×32 crop, a random flip."""
    padded = F.pad(x, (4, 4, 4, 4))  # (B, 3, 40, 40)
    out = torch.empty_like(x)
    dy, dx = torch.randint(0, 9, (2, len(x)), generator=g).tolist()
    flip = torch.rand(len(x), generator=g) < 0.5
    for i in range(len(x)):
        crop = padded[i, :, dy[i]:dy[i] + 32, dx[i]:dx[i] + 32]
        out[i] = crop.flip(-1) if flip[i] else crop
    return out


class Net(nn.Module):
    """VGG19-BN features (torchvision's vgg19_bn) → global average pool → linear: (B, 3, 32, 32) → (B, 10)."""

    def __init__(self):
        super().__init__()
        from torchvision.models import vgg19_bn

        self.features = vgg19_bn(weights=None).features  # (B, 512, 1, 1) at 32×32
        self.head = nn.Linear(512, 10)

    def forward(self, x):
        return self.head(self.features(x).mean((2, 3)))


def folded_state_dict(bn_features):
    """Plain VGG19 `features` weights (torchvision's indices) computing what the eval-mode vgg19_bn features do."""
    from torchvision.models.vgg import cfgs, make_layers

    plain = make_layers(cfgs["E"])  # as VGGFeatures builds it; every weight and bias is overwritten below
    plain_convs = [m for m in plain if isinstance(m, nn.Conv2d)]
    layers = list(bn_features)
    pairs = [(m, layers[i + 1]) for i, m in enumerate(layers) if isinstance(m, nn.Conv2d)]
    assert len(pairs) == len(plain_convs) == 16
    with torch.no_grad():
        for target, (conv, bn) in zip(plain_convs, pairs):
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # γ/σ, one per output channel
            target.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
            target.bias.copy_((conv.bias - bn.running_mean) * scale + bn.bias)
    return {f"features.{k}": v.clone() for k, v in plain.state_dict().items()}, plain


@torch.no_grad()
def accuracy(features, head, x, y, batch=500):
    correct = 0
    for i in range(0, len(x), batch):
        logits = head(features(normalise(x[i:i + batch])).mean((2, 3)))
        correct += (logits.argmax(1) == y[i:i + batch]).sum().item()
    return correct / len(x)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data_root", default=str(ROOT / "data" / "cifar10"), help="train/<class>/ and test/<class>/")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch_size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.05, help="peak of the one-cycle schedule (SGD, momentum 0.9)")
    p.add_argument("--max_steps", type=int, default=None, help="stop early (smoke tests)")
    p.add_argument("--out", default="cifar_vgg19.pth")
    args = p.parse_args(argv)

    from common.run import cpu_has_bf16

    torch.manual_seed(0)
    x, y, tx, ty = load_cifar(args.data_root)
    net = Net()
    steps = args.epochs * (len(x) // args.batch_size)
    opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=steps)
    bf16 = cpu_has_bf16()  # bf16 autocast: ~1.7x faster on CPUs with bf16 instructions
    g, step, start = torch.Generator().manual_seed(0), 0, time.time()
    print(f"{len(x)} training images, {len(tx)} test images; {steps} steps of {args.batch_size}; "
          f"{'bf16' if bf16 else 'fp32'}", flush=True)
    def batches():  # (epoch, indices): each epoch a new permutation, drawn when the epoch starts
        for epoch in range(args.epochs):
            yield from ((epoch, idx) for idx in torch.randperm(len(x), generator=g)[
                :steps // args.epochs * args.batch_size].split(args.batch_size))

    net.train()
    for epoch, idx in itertools.islice(batches(), args.max_steps or steps):
        with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(net(normalise(augment(x[idx], g))).float(), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        if step % 50 == 0:
            print(f"epoch {epoch + 1} step {step}/{steps} loss {loss.item():.3f} ({time.time() - start:.0f} s)",
                  flush=True)
    net.eval()
    state, plain = folded_state_dict(net.features)
    probe = normalise(tx[:64])
    with torch.no_grad():
        diff = (plain.eval()(probe) - net.features(probe)).abs().max().item()
    acc = accuracy(plain.eval(), net.head, tx, ty)
    torch.save(state, args.out)
    print(f"test accuracy {acc:.4f} ({len(tx)} images) through the folded VGG19; folded vs trained features: "
          f"max |diff| {diff:.2e}; {step} steps, {time.time() - start:.0f} s; saved {args.out}")


if __name__ == "__main__":
    main()
