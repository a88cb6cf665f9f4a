"""StyleGAN's input pipeline, ProGAN's (progan/dataset.py): any image source at --max_resolution in [-1, 1]; lower
resolutions are made from each batch on the device by average pooling (utils.real_at), as the official code's
multi-resolution dataset holds 2×2-averaged copies; mirroring (--mirror) happens on the device too (train.py).
Training is counted in images shown, not epochs: a phase of K thousand images walks a shuffled order of the
dataset repeated as often as needed."""
from torch.utils.data import Dataset

from common.data import ImageDataset, load_source, square_transform


class Repeated(Dataset):
    """`length` items cycling through `dataset`; with the EpochSampler's shuffled order over `length` each image
    appears length / len(dataset) times per phase, in an order fixed by (seed, phase)."""

    def __init__(self, dataset, length):
        self.dataset, self.length = dataset, length

    def __len__(self):
        return self.length

    def __getitem__(self, i):
        return self.dataset[i % len(self.dataset)]


def make_dataset(args):
    source = load_source(args.dataset, args.data_root, args.channels)
    return ImageDataset(source, square_transform(args.max_resolution))
