"""Train pix2pix (Isola et al. 2017, https://arxiv.org/abs/1611.07004) on aligned A|B image pairs.

    python pix2pix/train.py --direction BtoA                 # facades: label map → photo (downloaded to data/)
    python pix2pix/train.py --dataset maps                   # satellite photo → map
    python pix2pix/train.py --dataset folder --data_root my_pairs   # my_pairs/train/*.jpg, each A|B side by side
    python pix2pix/train.py --resume                         # continue from pix2pix/checkpoints/last.pt

Defaults are the paper's (Sections 3.3 and 6.2): batch 1, Adam lr 2e-4 β = (0.5, 0.999), λ_L1 = 100, random
jitter 286 → 256 and mirroring, 100 epochs at constant lr then 100 of linear decay to 0 (the facades setting).
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(1, str(HERE.parent))  # the repo root, for common/ (this folder stays first for model.py)

import torch

from common.distributed import average_gradients
from common.errors import UserError
from common.flags import (ArgumentParser, add_eval_args, add_run_args, non_negative_int, positive_float, positive_int,
                          unit_float)
from common.run import Run, main_guard
from dataset import DATASETS, make_datasets
from model import PatchDiscriminator, UNetGenerator, init_weights
from utils import d_loss, evaluate, g_adv_loss, l1_loss, lr_factor, save_samples, test_translations


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=positive_int, default=200, help="total epochs; paper (facades): 200")
    p.add_argument("--decay_epochs", type=non_negative_int, default=100,
                   help="the last N epochs decay the lr linearly to 0 (official code: 100 + 100)")
    p.add_argument("--batch_size", type=positive_int, default=1, help="paper: 1 (BatchNorm then acts as "
                   "instance normalisation)")
    p.add_argument("--lr", type=positive_float, default=2e-4, help="Adam learning rate; paper: 2e-4")
    p.add_argument("--beta1", type=unit_float, default=0.5, help="Adam β1; paper: 0.5")
    p.add_argument("--beta2", type=unit_float, default=0.999, help="Adam β2; paper: 0.999")
    p.add_argument("--lambda_L1", type=positive_float, default=100.0, help="weight of the L1 term; paper: 100")
    p.add_argument("--ngf", type=positive_int, default=64, help="G width: channels of the first encoder block")
    p.add_argument("--ndf", type=positive_int, default=64, help="D width: channels of the first D block")
    p.add_argument("--load_size", type=positive_int, default=286, help="resize to this before the random crop")
    p.add_argument("--crop_size", type=positive_int, default=256,
                   help="training crop and test size: a power of two >= 32 (U-Net depth = log2 of it)")
    p.add_argument("--direction", default="AtoB", choices=["AtoB", "BtoA"],
                   help="AtoB: the left half is the input; facades: BtoA (labels → photo)")
    p.add_argument("--dataset", default="facades", choices=DATASETS,
                   help="a paper dataset under <data_root>/<name>/ (downloaded if missing), or folder = "
                        "--data_root holds train/ (and test/) of A|B images")
    p.add_argument("--eval_dir", default=None,
                   help="A|B pairs scored after each epoch (L1, PSNR); default: <dataset>/test or /val; none = off")
    add_run_args(p, HERE, cuda_graphs=True)
    add_eval_args(p)
    args = p.parse_args(argv)
    return args


def check_sizes(args):
    side = args.crop_size
    if side < 32 or side & (side - 1):
        raise UserError(f"--crop_size {side}: the U-Net halves the image down to 1×1, so it needs a power of two "
                        ">= 32 (paper: 256)")
    if args.load_size < side:
        raise UserError(f"--load_size {args.load_size} is smaller than --crop_size {side}; the crop is taken from "
                        "the resized image: use --load_size >= --crop_size (paper: 286 and 256)")
    if args.decay_epochs > args.epochs:
        raise UserError(f"--decay_epochs {args.decay_epochs} is more than --epochs {args.epochs} (the total); "
                        "paper: --epochs 200 --decay_epochs 100")


def train_one_epoch(G, D, opt_G, opt_D, run, args):
    scaler = run.scaler  # --amp fp16 scales the losses against underflow; otherwise its calls pass straight through

    def step(x, y):  # x: (B, 3, 256, 256) input, y: (B, 3, 256, 256) ground truth, in [-1, 1]
        # (1) Update D: maximize log D(x, y) + log(1 − D(x, G(x))), divided by 2
        with run.autocast():
            fake = G(x)  # (B, 3, 256, 256)
            real_logits, fake_logits = D(x, y), D(x, fake.detach())  # (B, 1, 30, 30) each; detach: D step only
            loss_D = d_loss(real_logits, fake_logits)
        opt_D.zero_grad(set_to_none=True)
        scaler.scale(loss_D).backward()
        average_gradients(opt_D)  # torchrun: the mean of every process's gradients (nothing in one process)
        scaler.step(opt_D)

        # (2) Update G: maximize log D(x, G(x)) and minimize λ‖y − G(x)‖₁
        with run.autocast():
            loss_G_GAN = g_adv_loss(D(x, fake))
            loss_G_L1 = l1_loss(fake.float(), y)
            loss_G = loss_G_GAN + args.lambda_L1 * loss_G_L1
        opt_G.zero_grad(set_to_none=True)
        scaler.scale(loss_G).backward()
        average_gradients(opt_G)
        scaler.step(opt_G)
        return dict(loss_D=loss_D, loss_G=loss_G, loss_G_GAN=loss_G_GAN, loss_G_L1=loss_G_L1,
                    D_real=torch.sigmoid(real_logits).mean(), D_fake=torch.sigmoid(fake_logits).mean())

    step = run.graphed(step, opt_D, opt_G)  # --cuda_graphs: recorded once, replayed (batch 1 is launch-bound)
    for source, target in run.batches():
        scalars = step(source.to(run.device, non_blocking=True), target.to(run.device, non_blocking=True))
        scaler.update()  # once per step, after every optimizer stepped
        run.step_done(**scalars)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    check_sizes(args)
    run = Run(args, "pix2pix", argv)  # on --resume, args become the checkpoint's
    args = run.args
    with run.main_first():  # torchrun: one download, not one per process
        train_set, eval_set = make_datasets(args)

    G = UNetGenerator(3, 3, args.ngf, num_downs=args.crop_size.bit_length() - 1).to(run.device)
    D = PatchDiscriminator(6, args.ndf).to(run.device)
    G.apply(init_weights)
    D.apply(init_weights)
    betas = (args.beta1, args.beta2)
    opt_G = torch.optim.Adam(G.parameters(), lr=args.lr, betas=betas, fused=run.fused)
    opt_D = torch.optim.Adam(D.parameters(), lr=args.lr, betas=betas, fused=run.fused)
    run.track(nets={"G": G, "D": D}, optimizers={"G": opt_G, "D": opt_D})
    run.summary(train_set.name, len(train_set))
    run.restore()

    run.make_loader(train_set, args.batch_size)
    shown = eval_set or train_set  # the same 4 pairs in every epoch's grid, without augmentation if possible
    fixed = [torch.stack(t).to(run.device) for t in zip(*(shown[i] for i in range(min(4, len(shown)))))]
    eval_loader = (torch.utils.data.DataLoader(eval_set, batch_size=1, num_workers=args.num_workers)
                   if eval_set else None)  # batch 1: BatchNorm on each test image's own statistics (the paper)
    if args.eval_every:  # FID (or KID) of G(test inputs) against the test targets every N epochs, best.pt kept
        from evaluation.scoring import TranslationEvaluation  # the scoring modules load only when asked for
        if eval_loader is None:
            raise UserError("--eval_every scores the translated test pairs, but there are none: pass --eval_dir")
        run.evaluate_with(TranslationEvaluation(args, run.device, [G], lambda: test_translations(
            G, eval_loader, run.device, args.direction)))
    for epoch in run.epochs():
        run.set_lr(args.lr * lr_factor(epoch, args.epochs, args.decay_epochs))
        train_one_epoch(G, D, opt_G, opt_D, run, args)
        save_samples(G, *fixed, run, f"epoch_{epoch + 1:03d}")
        if eval_loader is not None and run.epoch_finished():
            scores = run.log(**evaluate(G, eval_loader, run.device), lr=opt_G.param_groups[0]["lr"])
            print(f"epoch {epoch + 1}: L1 {scores['eval_L1']:.4f}, PSNR {scores['eval_PSNR']:.2f} dB "
                  f"on {len(eval_set)} pairs", flush=True)


if __name__ == "__main__":
    main_guard(main)
