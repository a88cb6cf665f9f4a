"""Scoring generators: what evaluate.py and every train.py's --eval_every share.

    score_samples(draw, n, source, net, ...)   a noise-driven G (its folder's sample.draw) against training data
    score_translations(pairs, net, ...)        translated test images against the target domain's test images
    SampleEvaluation / TranslationEvaluation   the same, run by common.run.Run every --eval_every epochs

Sampling draws its noise from its own torch.Generator, and a training-time evaluation runs inside fork_rng (the
global generators are restored after it, whatever a DataLoader or a feature net's constructor drew) with the
generator in eval mode under no_grad and its mode restored after: a run with --eval_every trains exactly as one
without (tested).
"""
import sys

import torch

from common.errors import UserError
from evaluation.feature_nets import make_feature_net
from evaluation.metrics import (class_counts, extract, intra_class_fid, reference_features, score, singular_warning,
                                to_uint8)

REF_NUM = 50_000  # reference images at most: the papers' 50k (CIFAR-10's whole training set)


def check_count(n, net, metrics, what="--num"):
    """FID from n ≤ D generated images has a singular covariance: refuse, saying what to do instead."""
    if "fid" in metrics and n <= net.dim:
        raise UserError(f"{what} {n} is not above the {net.dim} feature dimensions of {net.name}: the covariance "
                        f"is singular and FID meaningless; pass {what} {net.dim + 1} or more, or score KID (unbiased "
                        "at any count)")


def warn(line):
    if line:
        print(line, file=sys.stderr, flush=True)


def score_samples(draw, n, source, net, metrics, device, ref_num=REF_NUM, conditional=False, batch_size=100,
                  seed=0, cache_dir=None, cache_file=None):
    """Scores of `n` images of `draw` (k → k images; for a conditional G: labels (k,) → images, the labels
    following the classes' frequencies in `source`) against `source`'s images at the samples' resolution.
    Returns (scores, info)."""
    generator = torch.Generator(device=device).manual_seed(seed)
    if conditional:
        counts = class_counts(source.labels, n, source.classes)  # a class absent from the data gets none
        labels = torch.repeat_interleave(torch.arange(len(counts)), counts)
        chunks = list(labels.to(device).split(batch_size))
    else:
        labels, chunks = None, [min(batch_size, n - i) for i in range(0, n, batch_size)]
    first = draw(chunks[0], generator)  # its shape tells the resolution the reference is prepared at
    resolution = first.shape[-1]
    ref_n = min(ref_num, len(source))
    real, _, real_labels = reference_features(source, resolution, net, ref_n, device, cache_dir, cache_file)
    if "fid" in metrics:
        warn(singular_warning(ref_n, net.dim, f"the {ref_n:,} reference images"))

    def batches():
        yield to_uint8(first)
        for chunk in chunks[1:]:
            yield to_uint8(draw(chunk, generator))

    fake, fake_logits = extract(net, batches(), device, n, "samples")
    scores = score(metrics, fake, fake_logits, real)
    if conditional and "fid" in metrics:
        scores["intra_fid"], scores["intra_fid_per_class"] = intra_class_fid(fake, labels, real, real_labels, net.dim)
        if scores["intra_fid"] is None:
            warn(f"note: intra-class FID needs more than {net.dim} images of every class on both sides "
                 f"({n:,} samples give {n // source.classes:,} per class); not computed")
    info = {"samples": n, "reference": source.name, "reference_images": ref_n, "resolution": resolution}
    return scores, info


def score_translations(pairs, net, metrics, device):
    """{name: scores} for {name: (generated uint8 batches, target-domain uint8 batches)}: each direction's
    translated test images against the real test images of the domain it translates into."""
    out = {}
    for name, (fakes, reals) in pairs.items():
        fake, fake_logits = extract(net, fakes, device)
        real, _ = extract(net, reals, device)
        if "fid" in metrics:
            warn(singular_warning(len(fake), net.dim, f"{name}'s test translations"))
        out[name] = {**score(metrics, fake, fake_logits, real), "images": len(fake), "target_images": len(real)}
    return out


class Evaluation:
    """Called by Run after every --eval_every epochs: {name: value}, the value of `args.eval_metric` under its
    own name (what best.pt follows), and `key` (what makes two scores comparable)."""

    def __init__(self, args, device, nets):
        self.metric, self.device, self.nets = args.eval_metric, device, nets
        self.net = make_feature_net(args.eval_backbone, args.backbone_weights, device)  # fails now, not later
        self.key = {"metric": self.metric, "feature_net": self.net.name, "num": args.eval_num}

    def __call__(self):
        modes = [net.training for net in self.nets]
        for net in self.nets:
            net.eval()
        devices = [self.device] if self.device.type == "cuda" else []
        try:
            with torch.no_grad(), torch.random.fork_rng(devices=devices):
                return self.scores()
        finally:
            for net, mode in zip(self.nets, modes):
                net.train(mode)


class SampleEvaluation(Evaluation):
    """A noise-driven G: `draw(k or labels, generator)` → images, scored against the training `source`. Or
    `prepare()` → such a draw, called once at the start of each evaluation (BigGAN: a copy of G_ema with
    standing BatchNorm statistics)."""

    def __init__(self, args, device, nets, draw, source, conditional=False, prepare=None):
        super().__init__(args, device, nets)
        check_count(args.eval_num, self.net, [self.metric], "--eval_num")
        self.draw, self.source, self.conditional, self.num = draw, source, conditional, args.eval_num
        self.prepare = prepare

    def scores(self):
        draw = self.prepare() if self.prepare else self.draw
        scores, info = score_samples(draw, self.num, self.source, self.net, [self.metric], self.device,
                                     conditional=self.conditional)
        self.key = {**self.key, "resolution": info["resolution"]}  # progan: a new resolution starts anew
        return {k: v for k, v in scores.items() if isinstance(v, float)}


class TranslationEvaluation(Evaluation):
    """pix2pix / CycleGAN: `pairs()` → {direction: (generated batches, target batches)}; the tracked value is
    the mean over the directions."""

    def __init__(self, args, device, nets, pairs):
        super().__init__(args, device, nets)
        self.pairs = pairs

    def scores(self):
        per_direction = score_translations(self.pairs(), self.net, [self.metric], self.device)
        values = {f"{self.metric}_{name}": s[self.metric] for name, s in per_direction.items()}
        values[self.metric] = sum(values.values()) / len(values)
        return values
