"""BigGAN's input pipeline: (image at the model's resolution in [-1, 1], class label) pairs: CIFAR-10's classes, or
one sub-folder of images per class (ImageNet's train/ layout) for `--dataset folder`."""
from common.data import ImageDataset, load_source, square_transform
from common.errors import DataError


def make_dataset(args):
    """`--dataset` under `--data_root` with its labels, resized (shorter side) and centre-cropped to
    --resolution; a dataset with a single class cannot condition anything."""
    source = load_source(args.dataset, args.data_root, 3)
    if source.classes < 2:
        raise DataError(f"{source.name} has no class labels; biggan needs them: use cifar10, or a folder with one "
                        "sub-folder of images per class (ImageNet's train/ layout)")
    return ImageDataset(source, square_transform(args.resolution))
