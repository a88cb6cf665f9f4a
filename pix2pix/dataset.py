"""pix2pix's input pipeline: aligned pairs stored side by side (A | B) in one image, the layout of the paper's
datasets (facades, maps, edges2shoes, cityscapes, night2day), split into train/ and test/ (or val/).

Training augmentation is the paper's "random jitter" (Section 6.2): resize both halves to 286×286, take the same
random 256×256 crop of both, and mirror both or neither. The same crop and flip on the two images matters: a
shifted target would teach G to blur. albumentations applies one random draw to `image` and its `target`.
"""
from pathlib import Path

from torch.utils.data import Dataset

from common.data import IMAGE_EXTS, find_images, image_files, named_dataset_root, read_image
from common.errors import DataError

# The paper's datasets, as the authors host them (one .tar.gz each, unpacking to <name>/train, test, val)
URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/{}.tar.gz"
DATASETS = ("facades", "maps", "edges2shoes", "edges2handbags", "cityscapes", "night2day", "folder")


def find_pairs(args):
    """The folder of AB images: `--data_root` itself for `--dataset folder`, else <data_root>/<dataset>
    (downloaded there when missing)."""
    return named_dataset_root(args.data_root, args.dataset, URL, "train", "pix2pix",
                              "{root}/train/ holds the side-by-side A|B images")


def split_dir(root, split):
    """root/<split>/ if present; for training, root/ itself when it holds the images directly."""
    if (root / split).is_dir() or split != "train":
        return root / split
    if find_images(root):
        return root
    return root / split  # missing: image_files() reports it


def paired_transform(load_size, crop_size, train):
    """Training: resize to load_size, one random crop_size crop and flip applied to both images of the pair.
    Test: resize to crop_size. Both end in [-1, 1] (G ends in Tanh), CHW."""
    import albumentations as A
    import cv2
    from albumentations.pytorch import ToTensorV2

    resize = load_size if train else crop_size
    steps = [A.Resize(resize, resize, interpolation=cv2.INTER_CUBIC)]  # bicubic, as the official code
    if train:
        steps += [A.RandomCrop(crop_size, crop_size), A.HorizontalFlip(p=0.5)]
    steps += [A.Normalize(mean=0.5, std=0.5, max_pixel_value=255.0), ToTensorV2()]
    return A.Compose(steps, additional_targets={"target": "image"})


class PairedDataset(Dataset):
    """(input, target) tensors from A|B files; `direction` AtoB takes the left half as input, BtoA the right."""

    def __init__(self, folder, direction, transform):
        self.files = image_files(folder, f"side-by-side A|B training pairs ({' '.join(sorted(IMAGE_EXTS))})")
        self.name, self.direction, self.transform = f"A|B pairs ({folder})", direction, transform
        self.random_augment = True  # ask the sampler for a per-sample augmentation seed (common/data.py)
        self.split(self.files[0])  # a wrong layout fails before the model is built

    def __len__(self):
        return len(self.files)

    def split(self, path):
        ab = read_image(path, 3)  # (H, 2W, 3) uint8
        h, w2 = ab.shape[:2]
        if w2 % 2 or w2 < h:
            raise DataError(f"{path} is {w2}×{h}; pix2pix needs the input and target side by side (width = 2 × "
                            "height, e.g. 512×256), as in the paper's datasets")
        a, b = ab[:, :w2 // 2], ab[:, w2 // 2:]
        return (a, b) if self.direction == "AtoB" else (b, a)

    def __getitem__(self, index):
        i, aug_seed = index if isinstance(index, tuple) else (index, 0)  # the sampler's (i, seed) when training
        source, target = self.split(self.files[i])
        self.transform.set_random_seed(aug_seed)  # crop and flip depend on (seed, epoch, position) only
        out = self.transform(image=source, target=target)
        return out["image"], out["target"]  # (3, 256, 256) each, in [-1, 1]


def make_datasets(args):
    """(train dataset, eval dataset or None). Eval pairs come from `--eval_dir`, default <root>/test or /val."""
    root = find_pairs(args)
    train = PairedDataset(split_dir(root, "train"), args.direction,
                          paired_transform(args.load_size, args.crop_size, train=True))
    if args.eval_dir == "none":
        return train, None
    if args.eval_dir:
        folder = Path(args.eval_dir)
    else:
        folder = next((root / s for s in ("test", "val") if (root / s).is_dir()), None)
        if folder is None:
            print(f"note: no {root}/test or {root}/val, so no evaluation; pass --eval_dir for one", flush=True)
            return train, None
    return train, PairedDataset(folder, args.direction, paired_transform(args.load_size, args.crop_size, False))
