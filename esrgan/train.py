"""Train ESRGAN (Wang et al. 2018, https://arxiv.org/abs/1809.00219): 4× super-resolution in two phases.

    python esrgan/train.py --phase psnr --data_root data/DIV2K_train_HR --eval_dir data/Set14   # RRDBNet, L1
    python esrgan/train.py --phase gan --data_root data/DIV2K_train_HR --eval_dir data/Set14    # + perceptual + RaGAN
    python esrgan/sample.py photo.png --interp_alpha 0.8       # network interpolation between the two phases

Defaults are the paper's (Section 4.1): 128×128 HR crops (32×32 LR), batch 16, Adam β = (0.9, 0.999); PSNR phase
L1 at lr 2e-4 halved every 2·10⁵ of 10⁶ iterations; GAN phase from the PSNR model, lr 1e-4 halved at 50k, 100k,
200k and 300k of 400k iterations, L_G = L_percep + 5·10⁻³ L_G^Ra + 10⁻² L1. (--iterations sets the count;
--epochs overrides it; the lr steps happen at the first epoch boundary past each milestone.)
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(1, str(HERE.parent))  # the repo root, for common/ (this folder stays first for model.py)

import torch

from common.distributed import average_gradients
from common.flags import ArgumentParser, add_run_args, positive_float, positive_int, unit_float
from common.run import Run, main_guard
from common.super_resolution import (epochs_for, load_pretrained,
                                     make_perceptual, phase_paths)
from dataset import make_dataset
from model import Discriminator, RRDBNet
from utils import d_loss_ra, g_loss_ra, l1_loss, lr_factor, perceptual_loss, save_samples

CONV54_BEFORE_RELU = 34  # torchvision vgg19.features index of conv5_4 itself: features before activation
MILESTONES = {"psnr": (200_000, 400_000, 600_000, 800_000), "gan": (50_000, 100_000, 200_000, 300_000)}


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--phase", default="psnr", choices=["psnr", "gan"], help="psnr: RRDBNet with L1; gan: ESRGAN")
    p.add_argument("--iterations", type=positive_int, default=None, help="paper: 1,000,000 (psnr), 400,000 (gan)")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="passes over the HR images (overrides --iterations)")
    p.add_argument("--batch_size", type=positive_int, default=16, help="paper: 16")
    p.add_argument("--lr", type=positive_float, default=None, help="Adam learning rate; paper: 2e-4 (psnr), 1e-4 (gan)")
    p.add_argument("--beta1", type=unit_float, default=0.9, help="Adam β1; paper: 0.9")
    p.add_argument("--hr_size", type=positive_int, default=128, help="HR crop side; paper: 128")
    p.add_argument("--scale", type=int, default=4, choices=[2, 4, 8], help="upscaling factor; paper: 4")
    p.add_argument("--n_blocks", type=positive_int, default=23, help="RRDB blocks; paper: 23")
    p.add_argument("--nf", type=positive_int, default=64, help="RRDBNet width; paper: 64")
    p.add_argument("--gc", type=positive_int, default=32, help="dense-block growth channels; paper: 32")
    p.add_argument("--ndf", type=positive_int, default=64, help="D width: channels of its first conv")
    p.add_argument("--adv_weight", type=positive_float, default=5e-3, help="λ of L_G^Ra; paper: 5e-3")
    p.add_argument("--l1_weight", type=positive_float, default=1e-2, help="η of the L1 term; paper: 1e-2")
    p.add_argument("--perceptual", default="vgg19", choices=["vgg19", "efficientnet-lite0"],
                   help="the perceptual loss's feature network: vgg19 (the paper's) or efficientnet-lite0 "
                        "(ImageNet weights that install offline; not the paper's loss)")
    p.add_argument("--vgg_weights", default=None,
                   help="VGG19 state_dict for the perceptual loss (default: torchvision's); none = untrained (tests)")
    p.add_argument("--pretrained", default=None, help="gan phase: the PSNR checkpoint to start from "
                   "(default: esrgan/checkpoints/psnr/last.pt); none = random")
    p.add_argument("--crops_per_image", type=positive_int, default=1,
                   help="random crops of each HR image per epoch (for small HR sets)")
    p.add_argument("--eval_dir", default=None, help="HR images scored (PSNR/SSIM on Y vs bicubic) after epochs")
    p.add_argument("--eval_every", type=positive_int, default=10, help="epochs between evaluations (and the last)")
    add_run_args(p, HERE, cuda_graphs=True)
    p.set_defaults(data_root=str(HERE.parent / "data" / "DIV2K_train_HR"))
    args = p.parse_args(argv)
    args.iterations = args.iterations or (1_000_000 if args.phase == "psnr" else 400_000)
    args.lr = args.lr or (2e-4 if args.phase == "psnr" else 1e-4)
    phase_paths(args, HERE)
    return args


def train_one_epoch(G, D, vgg, opt_G, opt_D, run, args):
    scaler = run.scaler  # --amp fp16 scales the losses against underflow; otherwise its calls pass straight through

    def psnr_step(lr_img, hr):  # PSNR-oriented RRDBNet: minimize L1
        with run.autocast():
            loss_G = l1_loss(G(lr_img).float(), hr)
        opt_G.zero_grad(set_to_none=True)
        scaler.scale(loss_G).backward()
        average_gradients(opt_G)  # torchrun: the mean of every process's gradients (nothing in one process)
        scaler.step(opt_G)
        return dict(loss_G_L1=loss_G)

    def gan_step(lr_img, hr):  # lr_img: (B, 3, 32, 32), hr: (B, 3, 128, 128), in [0, 1]
        # (1) Update D: relativistic average, real should look more real than the average fake and vice versa
        with run.autocast():
            sr = G(lr_img)  # (B, 3, 128, 128)
            real_scores, fake_scores = D(hr).float(), D(sr.detach()).float()
            loss_D = d_loss_ra(real_scores, fake_scores)
        opt_D.zero_grad(set_to_none=True)
        scaler.scale(loss_D).backward()
        average_gradients(opt_D)
        scaler.step(opt_D)

        # (2) Update G: L_percep + λ L_G^Ra + η L1; the real images scored again by the updated D, detached (the
        # official code's G step sees the current D on both sides of the relativistic loss)
        with run.autocast():
            with torch.no_grad():
                hr_features = vgg(hr)
                real_scores_now = D(hr).float()
            loss_percep = perceptual_loss(vgg(sr).float(), hr_features.float())
            loss_adv = g_loss_ra(real_scores_now, D(sr).float())
            loss_l1 = l1_loss(sr.float(), hr)
            loss_G = loss_percep + args.adv_weight * loss_adv + args.l1_weight * loss_l1
        opt_G.zero_grad(set_to_none=True)
        scaler.scale(loss_G).backward()
        average_gradients(opt_G)
        scaler.step(opt_G)
        return dict(loss_D=loss_D, loss_G=loss_G, loss_percep=loss_percep, loss_adv=loss_adv, loss_l1=loss_l1)

    # --cuda_graphs: recorded once, replayed (the step is launch-bound at batch 16 on small crops)
    step = run.graphed(psnr_step, opt_G) if args.phase == "psnr" else run.graphed(gan_step, opt_D, opt_G)
    for lr_img, hr in run.batches():
        scalars = step(lr_img.to(run.device, non_blocking=True), hr.to(run.device, non_blocking=True))
        scaler.update()  # once per step, after every optimizer stepped
        run.step_done(**scalars)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    run = Run(args, "esrgan", argv)  # on --resume, args become the checkpoint's
    args = run.args
    with run.main_first():  # torchrun: one download, not one per process
        dataset = make_dataset(args)
    epochs_for(args, len(dataset))
    eval_files = None
    if args.eval_dir:  # PSNR/SSIM against bicubic every --eval_every epochs; the scoring code loads only then
        from evaluation.super_resolution import eval_images, evaluate_after_epoch
        eval_files = eval_images(args.eval_dir)

    G = RRDBNet(args.n_blocks, args.nf, args.gc, args.scale).to(run.device)
    betas = (args.beta1, 0.999)
    opt_G = torch.optim.Adam(G.parameters(), lr=args.lr, betas=betas, fused=run.fused)
    nets, optimizers, D, opt_D, vgg = {"G": G}, {"G": opt_G}, None, None, None
    if args.phase == "gan":
        if not args.resume:
            load_pretrained(G, args.pretrained, "esrgan")
        D = Discriminator(args.ndf).to(run.device)
        opt_D = torch.optim.Adam(D.parameters(), lr=args.lr, betas=betas, fused=run.fused)
        nets["D"], optimizers["D"] = D, opt_D
        vgg = make_perceptual(args.perceptual, CONV54_BEFORE_RELU, args.vgg_weights, run.device)
    run.track(nets=nets, optimizers=optimizers)
    run.summary(dataset.name, len(dataset))
    run.restore()

    run.make_loader(dataset, args.batch_size)
    fixed = [torch.stack(t).to(run.device) for t in zip(*(dataset[(i, i)] for i in range(min(4, len(dataset)))))]
    for epoch in run.epochs():
        factor = lr_factor(epoch * run.n_batches, MILESTONES[args.phase])
        run.set_lr(args.lr * factor)
        train_one_epoch(G, D, vgg, opt_G, opt_D, run, args)
        save_samples(G, *fixed, run, f"epoch_{epoch + 1:04d}")
        if eval_files:
            evaluate_after_epoch(G, eval_files, args, run, epoch, lr=args.lr * factor)


if __name__ == "__main__":
    main_guard(main)
