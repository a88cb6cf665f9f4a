"""Scoring generators (FID, KID, IS, precision/recall; SR PSNR/SSIM; the MNIST and CIFAR-10 classifiers): used by
evaluate.py and by a train.py only when --eval_every (or --eval_dir) asks for it."""
