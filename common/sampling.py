"""What every sample.py shares: its flags, loading a checkpoint for inference, writing a grid or image files."""
from pathlib import Path

import torch

from common.checkpoint import load_checkpoint, load_state
from common.errors import UserError
from common.flags import ArgumentParser, positive_int
from common.run import pick_device


def sample_parser(description, folder):
    p = ArgumentParser(description=description)
    p.add_argument("--checkpoint", default=str(Path(folder) / "checkpoints" / "last.pt"), help="a train.py checkpoint")
    p.add_argument("--num", type=positive_int, default=64, help="how many images")
    p.add_argument("--out", default=str(Path(folder) / "samples.png"),
                   help="a .png/.jpg path for one grid, or a folder for one file per image")
    p.add_argument("--seed", type=int, default=0, help="seeds the noise: the same seed gives the same images")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    return p


def load_net(args, arch, name, build):
    """Checkpoint → `build(ckpt_args)` with the trained weights, in eval mode on the chosen device."""
    device = pick_device(args.device)
    ckpt = load_checkpoint(args.checkpoint, arch)
    net = net_from_checkpoint(ckpt, name, build, args.checkpoint, device)
    torch.manual_seed(args.seed)
    return net, ckpt["args"], device


def net_from_checkpoint(ckpt, name, build, path, device):
    """`build(ckpt["args"])` with the weights of net `name` of a loaded checkpoint, in eval mode on `device`."""
    net = build(ckpt["args"])
    load_state(net, ckpt["nets"][name], name, path)
    return net.to(device).eval()


def noise(n, *shape, like, generator=None, uniform=False):
    """(n, *shape) noise, N(0, 1) (or with `uniform` U(−1, 1)), on the device of the net `like`, from `generator`
    if given (evaluate.py and --eval_every pass their own, so sampling never moves the training run's stream)."""
    device = next(like.parameters()).device
    if uniform:
        return torch.rand(n, *shape, device=device, generator=generator) * 2 - 1
    return torch.randn(n, *shape, device=device, generator=generator)


def write_images(images, out, nrow=None):
    """Images in [-1, 1] (B, C, H, W): one grid if `out` is an image path, else `out`/000000.png, ..."""
    from torchvision.utils import save_image

    out = Path(out)
    images = (images.detach().float().cpu() + 1) / 2  # [-1, 1] → [0, 1]
    if out.suffix.lower() in {".png", ".jpg", ".jpeg"}:
        if out.parent.exists() and not out.parent.is_dir():
            raise UserError(f"{out.parent} is a file; pass --out in a folder")
        out.parent.mkdir(parents=True, exist_ok=True)
        save_image(images, out, nrow=nrow or max(1, int(len(images) ** 0.5)))
        print(f"wrote a grid of {len(images)} images to {out}")
    else:
        if out.exists() and not out.is_dir():
            raise UserError(f"--out {out} is a file without an image extension; pass a .png path or a folder")
        out.mkdir(parents=True, exist_ok=True)
        for i, img in enumerate(images):
            save_image(img, out / f"{i:06d}.png")
        print(f"wrote {len(images)} images to {out}/")


def translate_parser(description, folder):
    """Flags of the sample.py files that transform a user's images (pix2pix, cyclegan, srgan, esrgan)."""
    p = ArgumentParser(description=description)
    p.add_argument("input", help="an image file, or a folder of images")
    p.add_argument("--checkpoint", default=str(Path(folder) / "checkpoints" / "last.pt"), help="a train.py checkpoint")
    p.add_argument("--out", default=str(Path(folder) / "outputs"),
                   help="folder for the results (same file names, .png)")
    p.add_argument("--seed", type=int, default=0, help="seeds any randomness (pix2pix's dropout)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    return p


def input_images(path):
    """[(file, uint8 (H, W, 3))] for an image file or every image in a folder; one-line errors otherwise."""
    from common.data import IMAGE_EXTS, find_images, read_image

    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist; pass an image file or a folder of images")
    files = find_images(path) if path.is_dir() else [path]
    if not files:
        raise UserError(f"no images ({' '.join(sorted(IMAGE_EXTS))}) in {path}")
    return [(f, read_image(f, 3)) for f in files]


def to_tensor(image, device):
    """uint8 (H, W, 3) → float (1, 3, H, W) in [-1, 1] on `device`."""
    x = torch.tensor(image).permute(2, 0, 1).float().div(127.5).sub(1)  # a copy: PIL arrays are read-only
    return x.unsqueeze(0).to(device)


def write_image(image, out_dir, name):
    """(1 or 3, H, W) in [-1, 1] → out_dir/<name>.png"""
    from torchvision.utils import save_image

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out {out_dir} is a file; pass a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    save_image((image.detach().float().cpu() + 1) / 2, out_dir / f"{Path(name).stem}.png")
