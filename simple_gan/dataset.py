"""The simple GAN's input pipeline: images at img_size × img_size (28 for MNIST) in [-1, 1] to match G's Tanh;
D flattens them itself."""
from common.data import ImageDataset, load_source, square_transform


def make_dataset(args, img_size):
    """`--dataset` under `--data_root` (common/data.py finds it), as (C, 28, 28) tensors in [-1, 1]."""
    source = load_source(args.dataset, args.data_root, args.channels)
    return ImageDataset(source, square_transform(img_size))
