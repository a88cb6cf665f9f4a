"""AC-GAN's input pipeline: (image at 32×32 in [-1, 1], class label) pairs."""
from common.data import ImageDataset, load_source, square_transform
from common.errors import DataError


def make_dataset(args, img_size):
    """`--dataset` under `--data_root` with its labels (MNIST digits, CIFAR-10 classes, or one sub-folder per
    class for `--dataset folder`); a dataset with a single class cannot condition anything."""
    source = load_source(args.dataset, args.data_root, args.channels)
    if source.classes < 2:
        raise DataError(f"{source.name} has no class labels; acgan needs them: use mnist/cifar10, or a folder with "
                        "one sub-folder of images per class")
    return ImageDataset(source, square_transform(img_size))
