"""Generate images with a trained StyleGAN: the EMA generator at the resolution (and fade-in alpha) where training
stands, with the truncation trick; or the paper's Figure 3, style mixing between two sets of latents.

    python stylegan/sample.py                            # 64 images, ψ = 0.7 on the first 8 layers → samples.png
    python stylegan/sample.py --truncation 1 --num 1000 --out fakes/   # no truncation, one PNG per image (FID)
    python stylegan/sample.py --mix --out mixing.png     # Figure 3: rows A, columns B, coarse/middle/fine from B
    python stylegan/sample.py --truncation_grid --out psi.png   # each row one z, ψ from 1 to −1 (Figure 8)
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(1, str(HERE.parent))

import torch

from common.checkpoint import load_checkpoint
from common.errors import UserError
from common.flags import non_negative_int, positive_int
from common.run import main_guard, pick_device
from common.sampling import net_from_checkpoint, noise, sample_parser, write_images
from model import Generator
from utils import parse_table, phases, value_at

# The paper's Figure 3: styles copied from source B at coarse (4²–8²), middle (16²–32²) and fine (64²–1024²)
# resolutions, as synthesis layer ranges (two layers per resolution)
STYLE_GROUPS = {"coarse": (0, 4), "middle": (4, 8), "fine": (8, None)}


def build(cfg):
    """The generator of a checkpoint's flags (`cfg` = its args)."""
    return Generator(cfg["max_resolution"], cfg["z_dim"], cfg["z_dim"], cfg["channels"], cfg["fmap_base"],
                     cfg["fmap_max"], cfg["mapping_layers"])


def draw(G, cfg, n, generator=None, level=None, alpha=1.0, psi=1.0, cutoff=8):
    """n images in [-1, 1] at resolution 4·2^level (default: the largest) with fade-in `alpha` and truncation ψ
    (1 = none, what FID is measured at), clamped as the grids are; noise inputs from `generator` too (evaluate.py
    and --eval_every pass their own)."""
    z = noise(n, cfg["z_dim"], like=G, generator=generator)  # (N, 512)
    fn = lambda *shape, device: torch.randn(*shape, device=device, generator=generator)  # noqa: E731
    level = G.max_level if level is None else level
    return G(z, level, alpha, psi=psi, cutoff=cutoff, noise_fn=fn).clamp(-1, 1)  # (N, C, R, R)


def where_training_stands(ck):
    """(level, alpha) of the checkpoint: the phase it is in and how far through a fade-in."""
    args = ck["args"]
    schedule = phases(args["max_resolution"].bit_length() - 3, args["start_resolution"].bit_length() - 3)
    if ck["epoch"] >= len(schedule):
        return schedule[-1][0], 1.0
    level, fading = schedule[ck["epoch"]]
    batch = value_at(4 * 2 ** level, parse_table(args["batch_sizes"], int, "--batch_sizes"))
    n_batches = round(args["kimg_per_phase"] * 1000) // batch
    return level, ck["batch_in_epoch"] / n_batches if fading else 1.0


def mixing_grid(G, cfg, rows, cols, level, alpha, psi, cutoff):
    """Figure 3: the top row B images, the left column A images; cell (group, i, j) is A_i with the styles of the
    group's layers taken from B_j. Fixed noise, so only the styles differ. Returns (images, images per row)."""
    z = noise(rows + cols, cfg["z_dim"], like=G)
    ws, _ = G.styles(z, psi=psi, cutoff=cutoff)  # (A + B, layers, 512)
    w_a, w_b = ws[:rows], ws[rows:]
    used = 2 * level + 2  # layers in use at this resolution: a group beyond them changes nothing
    groups = [(lo, hi) for lo, hi in STYLE_GROUPS.values() if lo < used]

    def image(w):
        return G.synthesis(w, level, alpha, noise_mode="const")

    blank = torch.full_like(image(w_b[:1]), -1.0)  # the top-left corner: black
    out = [blank, image(w_b)]
    for lo, hi in groups:
        for i in range(rows):
            mixed = w_a[i:i + 1].repeat(cols, 1, 1)  # (B, layers, 512)
            mixed[:, lo:hi] = w_b[:, lo:hi]
            out += [image(w_a[i:i + 1]), image(mixed)]
    return torch.cat(out).clamp(-1, 1), cols + 1


def truncation_grid(G, cfg, rows, level, alpha, cutoff, steps=(1.0, 0.7, 0.5, 0.0, -0.5, -1.0)):
    """Figure 8: each row one z, ψ from 1 (no truncation) through 0 (the mean image w̄) to −1 (the "anti-face")."""
    z = noise(rows, cfg["z_dim"], like=G)
    out = [G(z, level, alpha, psi=psi, cutoff=cutoff, noise_mode="const") for psi in steps]  # (rows, ...) each
    return torch.stack(out, dim=1).flatten(0, 1).clamp(-1, 1), len(steps)


@torch.no_grad()
def main(argv=None):
    p = sample_parser(__doc__.split("\n\n")[0], HERE)
    p.add_argument("--truncation", type=float, default=0.7,
                   help="ψ: w' = w̄ + ψ (w − w̄); 1 = none (FID), 0 = the mean image; paper's figures: 0.7")
    p.add_argument("--truncation_cutoff", type=non_negative_int, default=8,
                   help="truncate the first N synthesis layers only (paper: 8, the coarse and middle styles)")
    p.add_argument("--mix", action="store_true", help="draw Figure 3 (style mixing) instead of --num images")
    p.add_argument("--mix_rows", type=positive_int, default=3, help="--mix: source A images per style group")
    p.add_argument("--mix_cols", type=positive_int, default=5, help="--mix: source B images")
    p.add_argument("--truncation_grid", action="store_true", help="draw ψ = 1 … −1 for --num // 6 latents")
    p.add_argument("--resolution", type=positive_int, default=None,
                   help="draw at this (lower, fully faded-in) resolution instead")
    args = p.parse_args(argv)
    device = pick_device(args.device)
    ck = load_checkpoint(args.checkpoint, "stylegan")
    G = net_from_checkpoint(ck, "G_ema", build, args.checkpoint, device)
    level, alpha = where_training_stands(ck)
    if args.resolution is not None:
        wanted = args.resolution.bit_length() - 3
        if args.resolution & (args.resolution - 1) or not 0 <= wanted <= level:
            raise UserError(f"--resolution {args.resolution}: this checkpoint has reached {4 * 2 ** level}×"
                            f"{4 * 2 ** level}; pass a power of two from 4 up to that")
        level, alpha = wanted, 1.0
    torch.manual_seed(args.seed)
    print(f"{4 * 2 ** level}×{4 * 2 ** level}, alpha {alpha:.3f}, ψ {args.truncation} on the first "
          f"{args.truncation_cutoff} layers")
    psi, cutoff = args.truncation, args.truncation_cutoff
    if args.mix:
        images, nrow = mixing_grid(G, ck["args"], args.mix_rows, args.mix_cols, level, alpha, psi, cutoff)
        write_images(images, args.out, nrow=nrow)
    elif args.truncation_grid:
        images, nrow = truncation_grid(G, ck["args"], max(1, args.num // 6), level, alpha, cutoff)
        write_images(images, args.out, nrow=nrow)
    else:
        write_images(draw(G, ck["args"], args.num, level=level, alpha=alpha, psi=psi, cutoff=cutoff), args.out)


if __name__ == "__main__":
    main_guard(main)
