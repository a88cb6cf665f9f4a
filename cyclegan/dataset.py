"""CycleGAN's input pipeline: two unpaired image sets X and Y in the layout of the paper's datasets,
<root>/trainA, trainB (and testA, testB for evaluation).

An epoch walks max(|X|, |Y|) steps; step k pairs X image i_k (a shuffled order) with a Y image drawn at random,
as the official code, so which y meets which x changes every epoch. Training augmentation is the paper's
(Appendix 7.1, the official `resize_and_crop`): resize to 286×286, random 256×256 crop, random mirroring, drawn
separately for the two images (they are unpaired).
"""
from torch.utils.data import Dataset

from common.data import image_files, named_dataset_root, read_image

# The paper's datasets as the authors host them (one .zip each, unpacking to <name>/trainA, trainB, testA, testB)
URL = "https://efrosgans.eecs.berkeley.edu/cyclegan/datasets/{}.zip"
DATASETS = ("horse2zebra", "apple2orange", "summer2winter_yosemite", "monet2photo", "cezanne2photo",
            "ukiyoe2photo", "vangogh2photo", "maps", "cityscapes", "facades", "iphone2dslr_flower", "folder")


def find_root(args):
    """<data_root>/<dataset> (downloaded when missing), or `--data_root` itself for `--dataset folder`."""
    return named_dataset_root(args.data_root, args.dataset, URL, "trainA", "CycleGAN",
                              "{root}/trainA/ and {root}/trainB/ hold the two image sets")


def transform(load_size, crop_size, train):
    """Training: resize to load_size, random crop_size crop, random flip. Test: resize to crop_size.
    Both end in [-1, 1] (the generators end in Tanh), CHW."""
    import albumentations as A
    import cv2
    from albumentations.pytorch import ToTensorV2

    resize = load_size if train else crop_size
    steps = [A.Resize(resize, resize, interpolation=cv2.INTER_CUBIC)]  # bicubic, as the official code
    if train:
        steps += [A.RandomCrop(crop_size, crop_size), A.HorizontalFlip(p=0.5)]
    return A.Compose(steps + [A.Normalize(mean=0.5, std=0.5, max_pixel_value=255.0), ToTensorV2()])


class UnpairedDataset(Dataset):
    """(x, y) with x from folder_a, y from folder_b; indexed by the sampler's (i, j, aug_seed) when training."""

    def __init__(self, folder_a, folder_b, transform):
        self.files_a = image_files(folder_a, "the training images of domain X (A)")
        self.files_b = image_files(folder_b, "the training images of domain Y (B)")
        self.name = f"unpaired {folder_a} ({len(self.files_a)}) ↔ {folder_b} ({len(self.files_b)})"
        self.transform = transform
        self.n_b = len(self.files_b)  # the sampler draws j in [0, n_b) for each step (common/data.py)
        self.random_augment = True  # and a seed for each sample's crop and flip
        read_image(self.files_a[0], 3), read_image(self.files_b[0], 3)  # unreadable files fail before the model

    def __len__(self):
        return max(len(self.files_a), len(self.files_b))

    def __getitem__(self, index):
        i, j, aug_seed = index if isinstance(index, tuple) else (index, index % self.n_b, 0)
        self.transform.set_random_seed(aug_seed)
        x = self.transform(image=read_image(self.files_a[i % len(self.files_a)], 3))["image"]
        self.transform.set_random_seed(aug_seed + 1)  # y gets its own crop and flip
        y = self.transform(image=read_image(self.files_b[j], 3))["image"]
        return x, y  # (3, 256, 256) each, in [-1, 1]


class FolderDataset(Dataset):
    """The images of one folder, resized to crop_size (evaluation and sample grids)."""

    def __init__(self, folder, transform, what):
        self.files, self.transform = image_files(folder, what), transform

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        return self.transform(image=read_image(self.files[i], 3))["image"]


def make_datasets(args):
    """(training pairs, (test X, test Y) or None). The test sets come from testA/testB when both exist."""
    root = find_root(args)
    train = UnpairedDataset(root / "trainA", root / "trainB", transform(args.load_size, args.crop_size, True))
    if not ((root / "testA").is_dir() and (root / "testB").is_dir()):
        print(f"note: no {root}/testA and testB, so no evaluation (sample grids use training images)", flush=True)
        return train, None
    test = transform(args.load_size, args.crop_size, False)
    return train, (FolderDataset(root / "testA", test, "test images of domain X"),
                   FolderDataset(root / "testB", test, "test images of domain Y"))
