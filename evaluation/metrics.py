"""Sample-quality metrics on feature-net features (evaluation/feature_nets.py), for evaluate.py and --eval_every.

The formulas are torch-fidelity's (the reference implementation, checked against the TensorFlow originals); this
module feeds them features, caches the reference features of a dataset, and names the results.

- FID (Heusel et al. 2017, arXiv 1706.08500): fit a Gaussian to each feature set (mean μ, covariance Σ) and take
  the Fréchet distance between the two: ‖μ_r − μ_g‖² + Tr(Σ_r + Σ_g − 2 (Σ_r Σ_g)^½). The trace of the matrix
  square root is the sum of the square roots of the eigenvalues of Σ_r Σ_g (torch-fidelity's
  `fid_statistics_to_metric`). With N ≤ D samples Σ is singular (rank < D) and FID is biased upwards.
- KID (Bińkowski et al. 2018, arXiv 1801.01401): the unbiased MMD² with the kernel k(x, y) = (xᵀy / D + 1)³,
  averaged over 100 random subsets of 1,000 (fewer where there are fewer images), ± its standard deviation.
  Unbiased at any N, so it stays meaningful where FID's N is small.
- Inception Score (Salimans et al. 2016): exp E_x KL(p(y|x) ‖ p(y)) over 10 splits, from the net's logits.
- Precision / recall (Kynkäänniemi et al. 2019, arXiv 1904.06991): the fraction of generated samples inside the
  real manifold (the union of balls reaching each real sample's 3rd nearest real neighbour), and of real samples
  inside the generated one.
"""
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

from common.checkpoint import atomic_save
from common.errors import UserError

METRICS = ("fid", "kid", "is", "pr")
KID_SUBSETS, KID_SUBSET_SIZE, IS_SPLITS, PR_NEIGHBOURS = 100, 1000, 10, 3  # the papers' / torch-fidelity's
CACHE_VERSION = 1  # bump when the way reference images are prepared changes


def to_uint8(images):
    """G's output in [-1, 1] → uint8, rounded exactly as a saved PNG of it (torchvision's save_image)."""
    return ((images.detach().float() + 1) * 127.5 + 0.5).clamp_(0, 255).to(torch.uint8)


@torch.no_grad()
def extract(net, batches, device, total=None, desc="features"):
    """(features, logits) as float64 on the CPU for an iterable of uint8 image batches (B, C, H, W); a tqdm bar
    counts the images (of `total`, when known)."""
    from tqdm import tqdm

    features, logits = [], []
    with tqdm(total=total, desc=desc, unit="image", file=sys.stderr, dynamic_ncols=True, leave=False) as bar:
        for images in batches:
            f, lg = net(images.to(device))
            features.append(f.double().cpu())
            logits.append(lg.double().cpu())
            bar.update(len(images))
    return torch.cat(features), torch.cat(logits)


# ----------------------------------------------------------------------------------------------- the metrics
def statistics(features):
    """{mu, sigma} of a feature set (N, D): FID's Gaussian."""
    from torch_fidelity.metric_fid import fid_features_to_statistics

    return fid_features_to_statistics(features.double())


def frechet_distance(stats_1, stats_2):
    """‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½) between two {mu, sigma}."""
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric

    return fid_statistics_to_metric(stats_1, stats_2, verbose=False)[KEY_METRIC_FID]


def kid(features_1, features_2, subsets=KID_SUBSETS, subset_size=KID_SUBSET_SIZE, seed=2020):
    """(mean, std) of the unbiased MMD² over `subsets` random subsets (of at most the smaller set's size)."""
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

    size = min(subset_size, len(features_1), len(features_2))
    out = kid_features_to_metric(features_1.double(), features_2.double(), kid_subsets=subsets,
                                 kid_subset_size=size, rng_seed=seed, verbose=False)
    return out[KEY_METRIC_KID_MEAN], out[KEY_METRIC_KID_STD], size


def inception_score(logits, splits=IS_SPLITS, seed=2020):
    """(mean, std, splits) over `splits` (at most one per image) of exp E KL(p(y|x) ‖ p(y)), p(y|x) = softmax."""
    from torch_fidelity.metric_isc import KEY_METRIC_ISC_MEAN, KEY_METRIC_ISC_STD, isc_features_to_metric

    splits = min(splits, len(logits))
    out = isc_features_to_metric(logits.double(), splits=splits, shuffle=True, rng_seed=seed)
    return out[KEY_METRIC_ISC_MEAN], out[KEY_METRIC_ISC_STD], splits


def precision_recall(fake, real, k=PR_NEIGHBOURS):
    """(precision, recall) of the generated features `fake` against the real features `real`, k-NN balls;
    (None, None) when a side has no k-th neighbour (k or fewer images)."""
    from torch_fidelity.metric_prc import KEY_METRIC_PRECISION, KEY_METRIC_RECALL, prc_features_to_metric

    if min(len(fake), len(real)) <= k:
        return None, None
    out = prc_features_to_metric(fake.float(), real.float(), prc_neighborhood=k, prc_batch_size=10000,
                                 save_cpu_ram=True, verbose=False)  # blocks of 10k rows: no N×N matrix in RAM
    return out[KEY_METRIC_PRECISION], out[KEY_METRIC_RECALL]


def singular_warning(n, dim, what):
    """The loud line for an FID whose covariance is singular (N ≤ D), or None."""
    if n > dim:
        return None
    return (f"WARNING: FID of {what} from {n:,} images with {dim}-d features: the covariance is singular (rank "
            f"< {dim}), so FID is biased upwards and comparable only with FIDs from the same count; KID is "
            "unbiased at any count")


def score(metrics, fake, fake_logits, real):
    """{metric: value} for `metrics` ⊆ METRICS between generated (fake) and real features."""
    out = {}
    if "fid" in metrics:
        out["fid"] = frechet_distance(statistics(fake), statistics(real))
    if "kid" in metrics:
        out["kid"], out["kid_std"], out["kid_subset_size"] = kid(fake, real)
    if "is" in metrics:
        out["is"], out["is_std"], out["is_splits"] = inception_score(fake_logits)
    if "pr" in metrics:
        out["precision"], out["recall"] = precision_recall(fake, real)
    return out


def intra_class_fid(fake, fake_labels, real, real_labels, dim):
    """Mean over classes of the FID between the class's generated and real features (Miyato & Koyama 2018's
    intra-FID), and the per-class values by class index ("0", ...); None where a class has ≤ dim images on
    either side."""
    per_class = {}
    for c in sorted(set(real_labels.tolist())):
        f, r = fake[fake_labels == c], real[real_labels == c]
        per_class[str(int(c))] = frechet_distance(statistics(f), statistics(r)) if min(len(f), len(r)) > dim else None
    done = [v for v in per_class.values() if v is not None]
    return (sum(done) / len(done) if len(done) == len(per_class) else None), per_class


# ----------------------------------------------------------------------------------------------- reference data
def source_fingerprint(source):
    """A hash of what an ImageSource holds: its pixels (in-memory arrays) or its files' paths, sizes and mtimes."""
    h = hashlib.sha256(f"{source.name}|{len(source)}|{source.channels}".encode())
    h.update(np.ascontiguousarray(source.labels).tobytes())
    if source.array is not None:
        h.update(np.ascontiguousarray(source.array).tobytes())
    else:
        for f in source.files:
            st = os.stat(f)
            h.update(f"{f}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def reference_images(source, resolution, n, batch_size):
    """uint8 batches of `n` images of `source` (a fixed random subset when n < len), each prepared as training
    prepares it: shorter side to `resolution`, centre crop (common/data.py's square_transform), quantised back
    to uint8; and their labels."""
    from common.data import square_transform

    order = torch.randperm(len(source), generator=torch.Generator().manual_seed(0))[:n].sort().values
    transform = square_transform(resolution)

    def batches():
        for chunk in order.split(batch_size):
            images = torch.stack([transform(image=source.image(int(i)))["image"] for i in chunk])
            yield to_uint8(images)

    return batches(), torch.as_tensor(source.labels)[order]


def default_cache_dir():
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gans" / "reference_features"


def reference_features(source, resolution, net, n, device, cache_dir=None, cache_file=None, batch_size=100):
    """(features, logits, labels) of `n` images of `source` at `resolution` through `net`, computed once and
    cached. The cache key holds the data (source_fingerprint), resolution, channels, feature net (its weights'
    hash), image count and preparation version: a changed dataset or net never reuses a stale file.
    `cache_file`: this exact file (written if missing); one from other data or another net is an error."""
    from evaluation.feature_nets import fingerprint

    key = {"data": source_fingerprint(source), "dataset": source.name, "resolution": resolution,
           "channels": source.channels, "feature_net": net.name, "weights": fingerprint(net), "images": n,
           "version": CACHE_VERSION}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    path = Path(cache_file) if cache_file else Path(cache_dir or default_cache_dir()) / (
        f"{net.name}_{resolution}px_{n}_{digest}.pt")
    if path.is_file():
        try:
            cached = torch.load(path, map_location="cpu", weights_only=True)
            stored = cached["key"]
        except Exception:
            raise UserError(f"cannot read the reference-feature cache {path}; delete it (it is rebuilt)") from None
        if stored == key:
            return cached["features"].double(), cached["logits"].double(), cached["labels"]
        if cache_file:  # the user named this file: say why it does not fit instead of overwriting it
            field = next(k for k in ("feature_net", "weights", "dataset", "data", "resolution", "channels",
                                     "images", "version") if stored.get(k) != key[k])
            raise UserError(f"--ref_cache {path} holds reference features of another {field.replace('_', ' ')} "
                            f"({stored.get(field)}, not {key[field]}); delete it or pass another file")
    print(f"reference: {n:,} images of {source.name} at {resolution}×{resolution} through {net.name} "
          f"(cached in {path})", file=sys.stderr, flush=True)
    batches, labels = reference_images(source, resolution, n, batch_size)
    features, logits = extract(net, batches, device, n, "reference images")
    atomic_save(path, {"key": key, "features": features.float(), "logits": logits.float(), "labels": labels})
    return features, logits, labels


def class_counts(labels, n, classes=0):
    """How many of `n` samples each of (at least `classes`) classes gets so the counts follow the frequencies in
    `labels` (largest remainder): the labels a conditional G is asked for."""
    freq = torch.bincount(torch.as_tensor(labels), minlength=classes).double()
    exact = freq / freq.sum() * n
    counts = exact.floor().long()
    counts[torch.argsort(exact - counts, descending=True)[:n - int(counts.sum())]] += 1
    return counts
