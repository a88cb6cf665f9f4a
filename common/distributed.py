"""Training one run on several processes with torchrun: one process per GPU (or CPU process), one global batch.

    torchrun --nproc_per_node 8 dcgan/train.py --batch_size 128           # 8 GPUs, 16 images each
    torchrun --nnodes 2 --nproc_per_node 8 --rdzv_backend c10d --rdzv_endpoint HOST:29500 dcgan/train.py

It must behave identically in every folder, so it lives here; common/run.py calls it. A plain `python train.py`
has no process group and every function below is the identity (world size 1).

What a multi-process run keeps equal to a one-process run of the same global batch:
- Data: the (seed, epoch) order of common/data.py's EpochSampler is cut into global batches, and process r takes
  the r-th slice of each, so the union of the processes' batches at a step is the one-process batch.
- Noise: every process draws the *global* batch's noise from the same seeded generator and keeps its slice
  (`randn`, `rand`, `randint`), so the union of the latents, interpolation weights, ... is the one-process draw,
  and every process's random state stays identical (one checkpoint fits all, on any number of processes).
- Gradients: averaged over the processes after each backward (`average_gradients`), once per optimizer update,
  in one flat buffer: the mean of the per-process batch means is the global batch mean. NVlabs' stylegan2-ada and
  stylegan3 training loops do the same instead of DistributedDataParallel; here it is the one mechanism for every
  folder because DDP's backward hooks do not mix with the gradient penalties' double backward (wgan_gp, cgan,
  progan), and because a GAN step backpropagates G's loss through D, whose gradients DDP would all-reduce for
  nothing. The price: no overlap of the all-reduce with the backward pass.
- BatchNorm: per-process batch statistics unless --sync_bn (the papers' statistics are per-GPU batch statistics);
  with --sync_bn the statistics are those of the global batch: torch.nn.SyncBatchNorm on CUDA, and on CPU (gloo),
  which PyTorch's SyncBatchNorm does not support, `CPUSyncBatchNorm` below with the same arithmetic. The running
  statistics saved are process 0's.
What is not equal: anything computed over a process's own batch only: the relativistic losses' batch means,
ProGAN's minibatch-stddev groups, BatchNorm without --sync_bn, dropout masks.
"""
import os
import sys
import time
import traceback
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn

from common.errors import UserError

# Process 0 may score the generator (--eval_every) or write a checkpoint while the others wait in their next
# collective call; a CPU evaluation of 10,000 samples takes minutes, so the default 10-minute limit is too short.
TIMEOUT = timedelta(minutes=60)
_CONTROL = None  # the process group of the host-side agreements (stop flags, logged scalars)


def world():
    """(number of processes, this process's rank): (1, 0) without a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0


def launched():
    """(world size, rank, local rank) from torchrun's environment; (1, 0, 0) for a plain `python train.py`."""
    return (int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("RANK", 0)),
            int(os.environ.get("LOCAL_RANK", 0)))


def setup(device_flag):
    """Under torchrun with more than one process: join the process group (NCCL on CUDA, gloo on the CPU) and
    return this process's device; otherwise None (the caller picks the device as usual)."""
    size, rank, local_rank = launched()
    if size == 1:
        return None
    if device_flag == "mps":
        raise UserError("torchrun with --device mps: MPS has no multi-process backend; use --device cpu or one "
                        "process")
    cuda = torch.cuda.is_available() and device_flag in ("auto", "cuda")
    if device_flag == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda but no CUDA GPU is visible to torch; use --device auto or --device cpu")
    if cuda:
        if local_rank >= torch.cuda.device_count():
            raise UserError(f"process {rank} has LOCAL_RANK {local_rank} but this node shows "
                            f"{torch.cuda.device_count()} GPU(s); start at most that many with --nproc_per_node")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", timeout=TIMEOUT, device_id=device)
    else:
        device = torch.device("cpu")
        dist.init_process_group("gloo", timeout=TIMEOUT)
    global _CONTROL
    # Stop flags and logged scalars are host values: with NCCL they travel through a gloo group on the CPU, so
    # agreeing to stop costs no GPU synchronisation
    _CONTROL = dist.new_group(backend="gloo") if cuda else dist.group.WORLD
    if rank != 0:  # one process speaks: the others' prints, warnings and notes would repeat it N times; what
        # only this process knows (an unreadable image it met, a crash) still reaches the terminal through
        # sys.__stderr__ (common.run.main_guard, and the hook below)
        sys.stdout = sys.stderr = open(os.devnull, "w")
        sys.excepthook = _traceback_to_terminal
    return device


def _traceback_to_terminal(kind, value, tb):
    traceback.print_exception(kind, value, tb, file=sys.__stderr__)


def let_process_0_speak():
    """Before a process other than 0 exits on an error that every process meets (a bad flag), wait a moment: torchrun
    stops the other processes as soon as one exits, and process 0 is the one that prints the error line."""
    time.sleep(5)


def shutdown():
    """Leave the process group at the end of a run, together: a process that left while process 0 was still
    writing its checkpoint was seen to abort in gloo's teardown ("terminate called without an active exception")."""
    if dist.is_available() and dist.is_initialized():
        barrier()
        dist.destroy_process_group()


def local_batch(batch_size, what="--batch_size"):
    """This process's share of a global batch; one that the world size does not divide is a UserError."""
    size, _ = world()
    if batch_size % size:
        raise UserError(f"{what} {batch_size} is not divisible by the {size} processes that share it; pass a "
                        f"multiple of {size} (each process takes batch / processes images)")
    return batch_size // size


# ----------------------------------------------------------------------------------------------- noise
def shard(x):
    """This process's rows of a global batch `x` (B, ...): rows r·B/N .. (r+1)·B/N."""
    size, rank = world()
    if size == 1:
        return x
    n = x.shape[0] // size
    return x[rank * n:(rank + 1) * n]


def _global(shape):
    size, _ = world()
    return (shape[0] * size, *shape[1:])


def randn(*shape, device=None):
    """torch.randn of the local batch shape (B/N, ...), cut from the global batch's draw (see the module doc)."""
    return shard(torch.randn(*_global(shape), device=device))


def rand(*shape, device=None):
    """torch.rand of the local batch shape (B/N, ...), cut from the global batch's draw."""
    return shard(torch.rand(*_global(shape), device=device))


def randint(high, shape, device=None):
    """torch.randint(high, shape) of the local batch shape, cut from the global batch's draw."""
    return shard(torch.randint(high, _global(shape), device=device))


def all_gather_batch(x):
    """The global batch from every process's rows (N·B/N, ...), in rank order: the inverse of `shard`."""
    size, _ = world()
    if size == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(size)]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


# ----------------------------------------------------------------------------------------------- collectives
def average_gradients(optimizer):
    """Average the gradients of `optimizer`'s parameters over the processes: one all-reduce of one flat buffer
    per dtype (a no-op in one process)."""
    size, _ = world()
    if size == 1:
        return
    grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    for dtype in {g.dtype for g in grads}:
        same = [g for g in grads if g.dtype == dtype]
        flat = torch.cat([g.reshape(-1) for g in same])
        dist.all_reduce(flat)
        flat.div_(size)
        offset = 0
        for g in same:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()


def agree(*flags):
    """Each flag true on any process → true on all (one small all-reduce on the CPU); the flags as is in one."""
    size, _ = world()
    if size == 1:
        return flags
    t = torch.tensor([float(bool(f)) for f in flags])
    dist.all_reduce(t, op=dist.ReduceOp.MAX, group=_CONTROL)
    return tuple(bool(v) for v in t.tolist())


def mean_over_processes(values):
    """{name: float} → the same names with each value averaged over the processes (the logged losses then are
    the global batch's)."""
    size, _ = world()
    if size == 1 or not values:
        return values
    t = torch.tensor(list(values.values()), dtype=torch.float64)
    dist.all_reduce(t, group=_CONTROL)
    return dict(zip(values, (t / size).tolist()))


def broadcast_nets(nets):
    """Copy process 0's parameters and buffers to every process (they start equal by seed; this makes sure)."""
    size, _ = world()
    if size == 1:
        return
    with torch.no_grad():
        for net in nets:
            for t in [*net.parameters(), *net.buffers()]:
                dist.broadcast(t.data, src=0)


def barrier():
    if world()[0] > 1:
        dist.barrier(group=_CONTROL)


# ----------------------------------------------------------------------------------------------- --sync_bn
class CPUSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm over the global batch for processes on the CPU (gloo): torch.nn.SyncBatchNorm's arithmetic, which
    PyTorch runs on GPUs only. In training, the mean and the (biased) variance that normalise are those of every
    process's batch together, computed in two passes of differentiable all-reduces (so each process's gradient
    also carries the other processes' losses through the statistics); the running statistics follow the global
    batch (unbiased variance), as one process with the whole batch would."""

    def _check_input_dim(self, x):
        if x.dim() < 2:
            raise ValueError(f"expected a (B, C, ...) input, got {x.dim()} dimensions")

    def forward(self, x):  # x: (B/N, C, ...) on each process
        if not self.training or world()[0] == 1:
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce  # differentiable: its backward all-reduces too

        dims = [0, *range(2, x.dim())]  # every dimension but the channels
        shape = (1, -1, *([1] * (x.dim() - 2)))
        count = all_reduce(x.new_tensor(float(x.numel() // x.shape[1])))
        mean = all_reduce(x.sum(dims)) / count  # (C,)
        var = all_reduce(((x - mean.view(shape)) ** 2).sum(dims)) / count  # (C,) biased, as BatchNorm normalises
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = self.momentum if self.momentum is not None else 1 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(m * mean)
                self.running_var.mul_(1 - m).add_(m * var * count / (count - 1))
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


def sync_batchnorm(net, device):
    """`net` with every BatchNorm made to use the global batch's statistics (same parameters, buffers and
    state_dict keys: checkpoints stay interchangeable). Returns the number of layers converted."""
    if device.type == "cuda":
        converted = nn.SyncBatchNorm.convert_sync_batchnorm(net)
        assert converted is net or not isinstance(net, nn.modules.batchnorm._BatchNorm)
        return sum(isinstance(m, nn.SyncBatchNorm) for m in net.modules())
    count = 0
    for parent in list(net.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm) and not isinstance(child, CPUSyncBatchNorm):
                sync = CPUSyncBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                        child.track_running_stats)
                sync.to(child.running_mean.device if child.track_running_stats else device)
                sync.load_state_dict(child.state_dict())  # copies; then share the Parameters the optimizer holds
                if child.affine:
                    sync.weight, sync.bias = child.weight, child.bias
                sync.train(child.training)
                setattr(parent, name, sync)
                count += 1
    return count
