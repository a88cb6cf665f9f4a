"""LSGAN's input pipeline, DCGAN's: the dataset at 64×64, scaled to [-1, 1] to match G's Tanh output."""
from common.data import ImageDataset, load_source, square_transform


def make_dataset(args, img_size):
    """`--dataset` under `--data_root` (common/data.py finds it), as (C, 64, 64) tensors in [-1, 1]."""
    source = load_source(args.dataset, args.data_root, args.channels)
    return ImageDataset(source, square_transform(img_size))
