"""InfoGAN's input pipeline: MNIST at 28×28 in [-1, 1] to match G's Tanh."""
from common.data import ImageDataset, load_source, square_transform


def make_dataset(args, img_size):
    """`--dataset` under `--data_root` (common/data.py finds it), as (C, 28, 28) tensors in [-1, 1]."""
    source = load_source(args.dataset, args.data_root, args.channels)
    return ImageDataset(source, square_transform(img_size))
