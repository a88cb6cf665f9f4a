"""Train BigGAN (Brock et al. 2019, https://arxiv.org/abs/1809.11096): a class-conditional GAN.

    python biggan/train.py --config imagenet128 --data_root data/imagenet/train    # the paper's 128×128 model
    python biggan/train.py --config cifar32 --data_root data/cifar10               # 32×32, trains on a CPU
    python biggan/train.py --resume        # continue from biggan/checkpoints/last.pt

Defaults are the paper's (Appendix B and C): hinge loss, spectral norm in G and D, orthogonal initialisation,
Adam β = (0, 0.999) with lr 5e-5 in G and 2e-4 in D, two D steps per G step, orthogonal regularisation β 1e-4 on
G, G's EMA (decay 0.9999) drawing the samples, with standing BatchNorm statistics for sample.py and the
evaluations. --config picks the architecture: imagenet128 (ch 96, hierarchical z of 120 dims, a shared 128-d
class embedding, attention at 64×64, batch 256) or cifar32 (BigGAN-PyTorch's 32×32 layout at ch 64, no attention).
A "step" is one D step: G steps every --d_steps of them, on a batch of its own noise and classes.
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(1, str(HERE.parent))  # the repo root, for common/ (this folder stays first for model.py)

import torch

from common.data import DATASETS
from common.distributed import average_gradients
from common.errors import UserError
from common.flags import (ArgumentParser, add_eval_args, add_run_args, non_negative_float, non_negative_int,
                          positive_float, positive_int, unit_float)
from common.run import Run, main_guard
from dataset import make_dataset
from model import D_ARCH, G_ARCH, Discriminator, Generator
from sample import draw, prepare
from utils import (CONFIGS, class_rows, d_hinge, ema_update, g_hinge, make_ema, orthogonal_regulariser,
                   regularised_weights, save_samples)


def parse_args(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    first = ArgumentParser(add_help=False)
    first.add_argument("--config", default="imagenet128", choices=list(CONFIGS))
    config = first.parse_known_args(argv)[0].config
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="imagenet128", choices=list(CONFIGS),
                   help="imagenet128: the paper's 128×128 model (ch 96); cifar32: the 32×32 layout, for CIFAR-10")
    p.add_argument("--epochs", type=positive_int, default=100, help="passes over the data")
    p.add_argument("--resolution", type=int, choices=sorted(D_ARCH), help="image size (default: the config's)")
    p.add_argument("--ch", type=positive_int, help="width multiplier: 96 in the paper's 128 model")
    p.add_argument("--dim_z", type=positive_int, help="z dims, split in (blocks + 1) chunks: 120 at 128×128")
    p.add_argument("--shared_dim", type=positive_int, help="the shared class embedding's dims: 128")
    p.add_argument("--attention", type=non_negative_int,
                   help="resolution of the self-attention block (0 = none): 64 at 128×128")
    p.add_argument("--batch_size", type=positive_int, help="paper: 2048 on a TPU pod (here: 256 by default)")
    p.add_argument("--lr_G", type=positive_float, default=5e-5, help="G's Adam learning rate; paper: 5e-5")
    p.add_argument("--lr_D", type=positive_float, default=2e-4, help="D's Adam learning rate; paper: 2e-4")
    p.add_argument("--beta1", type=unit_float, default=0.0, help="Adam β1; paper: 0")
    p.add_argument("--beta2", type=unit_float, default=0.999, help="Adam β2; paper: 0.999")
    p.add_argument("--adam_eps", type=positive_float, default=1e-6,
                   help="Adam ε; BigGAN-PyTorch's scripts: 1e-6 (the paper gives none)")
    p.add_argument("--d_steps", type=positive_int, default=2, help="D steps per G step; paper: 2")
    p.add_argument("--ortho", type=non_negative_float, default=1e-4,
                   help="β of the orthogonal regularisation on G; paper: 1e-4 (0 = off)")
    p.add_argument("--ema_decay", type=unit_float, default=0.9999, help="decay of G's EMA; paper: 0.9999")
    p.add_argument("--ema_start", type=non_negative_int,
                   help="G steps before the EMA starts averaging (it copies G until then)")
    p.add_argument("--init", default="ortho", choices=["ortho", "N02", "xavier"], help="weight init; paper: ortho")
    p.add_argument("--dataset", choices=DATASETS,
                   help="cifar10, or folder = one sub-folder of images per class under --data_root")
    add_run_args(p, HERE)
    add_eval_args(p)
    p.set_defaults(**{k: v for k, v in CONFIGS[config].items()})
    return p.parse_args(argv)


def check_args(args):
    if args.dim_z % (len(G_ARCH[args.resolution][0]) + 1):
        raise UserError(f"--dim_z {args.dim_z} must split into equal chunks, one per G block plus one (BigGAN's "
                        "hierarchical latents); e.g. 120 at 128×128, 128 at 32×32")
    if args.attention and args.attention not in [8 * 2 ** i for i in range(8)]:
        raise UserError(f"--attention {args.attention}: pass a resolution the nets pass through (a power of two "
                        "from 8), or 0 for none")


def train_one_epoch(G, D, G_ema, opt_G, opt_D, run, args):
    scaler = run.scaler  # --amp fp16 scales the losses against underflow; otherwise its calls pass straight through
    stats = {}
    for real, labels in run.batches():
        real = real.to(run.device, non_blocking=True)  # (B, 3, R, R) in [-1, 1]
        labels = labels.to(run.device, non_blocking=True)  # (B,) the real images' classes
        B = real.shape[0]

        # (1) Update D: minimize E[max(0, 1 − D(x, y))] + E[max(0, 1 + D(G(z, y'), y'))]
        z, fake_labels = run.randn(B, args.dim_z), run.randint(G.n_classes, (B,))  # y' uniform over classes
        with run.autocast():
            with torch.no_grad():
                fake = G(z, fake_labels)  # (B, 3, R, R); no graph: this step trains D only
            real_logits, fake_logits = D(real, labels).float(), D(fake, fake_labels).float()
            loss_D = d_hinge(real_logits, fake_logits)
        opt_D.zero_grad(set_to_none=True)
        scaler.scale(loss_D).backward()
        average_gradients(opt_D)  # torchrun: the mean of every process's gradients (nothing in one process)
        scaler.step(opt_D)

        # (2) Every --d_steps D steps, update G: minimize −E[D(G(z, y'), y')] + R_β(W) (orthogonal regulariser)
        if (run.step + 1) % args.d_steps == 0:
            z, fake_labels = run.randn(B, args.dim_z), run.randint(G.n_classes, (B,))
            with run.autocast():
                stats["loss_G"] = g_hinge(D(G(z, fake_labels), fake_labels).float())
            ortho = orthogonal_regulariser(regularised_weights(G), args.ortho) if args.ortho else 0.0  # fp32
            opt_G.zero_grad(set_to_none=True)
            scaler.scale(stats["loss_G"] + ortho).backward()
            average_gradients(opt_G)
            scaler.step(opt_G)
            stats["ortho"] = ortho
            ema_update(G_ema, G, args.ema_decay, (run.step + 1) // args.d_steps, args.ema_start)

        scaler.update()  # once per step, after every optimizer stepped
        run.step_done(loss_D=loss_D, D_real=real_logits.mean(), D_fake=fake_logits.mean(), **stats)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    check_args(args)
    run = Run(args, "biggan", argv)  # on --resume, args become the checkpoint's
    args = run.args
    with run.main_first():  # torchrun: one download, not one per process
        dataset = make_dataset(args)
    args.num_classes = dataset.source.classes  # resolved, so sample.py and --resume rebuild the same nets
    args.channels = 3  # RGB (grey images are converted), what evaluate.py reads the reference data as

    try:
        G = Generator(args.resolution, args.ch, args.dim_z, args.shared_dim, args.num_classes, args.attention,
                      init=args.init).to(run.device)
        D = Discriminator(args.resolution, args.ch, args.num_classes, args.attention, init=args.init).to(run.device)
    except ValueError as e:  # a width the attention block cannot reduce
        raise UserError(f"{e}; raise --ch or pass --attention 0") from None
    G_ema = make_ema(G)
    adam = dict(betas=(args.beta1, args.beta2), eps=args.adam_eps, fused=run.fused)
    opt_G = torch.optim.Adam(G.parameters(), lr=args.lr_G, **adam)
    opt_D = torch.optim.Adam(D.parameters(), lr=args.lr_D, **adam)
    run.track(nets={"G": G, "D": D, "G_ema": G_ema}, optimizers={"G": opt_G, "D": opt_D}, compile_nets=["G", "D"])
    run.summary(dataset.source.name, len(dataset))
    run.restore()
    if args.eval_every:  # FID (or KID) of G_ema with standing statistics, classes as the data's frequencies
        from evaluation.scoring import SampleEvaluation  # the scoring modules load only when asked for

        def evaluation_draw():  # once per evaluation: a copy of G_ema with standing statistics, which then draws
            G_eval = prepare(G_ema, vars(args), torch.Generator(device=run.device).manual_seed(args.seed))
            return lambda labels, generator: draw(G_eval, vars(args), labels, generator)

        run.evaluate_with(SampleEvaluation(args, run.device, [G_ema], None, dataset.source, conditional=True,
                                           prepare=evaluation_draw))

    run.make_loader(dataset, args.batch_size)
    g = torch.Generator().manual_seed(args.seed)  # the same grid every epoch: one row per class, z fixed per column
    fixed = tuple(t.to(run.device) for t in class_rows(args.num_classes, 8, args.dim_z, generator=g))
    for epoch in run.epochs():
        train_one_epoch(G, D, G_ema, opt_G, opt_D, run, args)
        save_samples(G_ema, fixed, run, f"epoch_{epoch + 1:03d}")


if __name__ == "__main__":
    main_guard(main)
