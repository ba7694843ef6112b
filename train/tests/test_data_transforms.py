"""TrainTransform keeps image and label aligned; collate produces the trainer's tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dense_ood_train.data.labels import IGNORE_INDEX
from dense_ood_train.data.transforms import TrainTransform, collate, color_jitter, random_crop


def _coded_pair(h: int = 60, w: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """An image whose blocks' colours encode their label, so alignment can be checked."""
    label = np.zeros((h, w), np.uint8)
    for i, (y, x) in enumerate([(0, 0), (0, 40), (30, 0), (30, 40)]):
        label[y : y + 30, x : x + 40] = i * 3
    label[10:20, 50:70] = 18
    image = np.repeat((label * 12 + 20)[..., None], 3, axis=2).astype(np.uint8)
    return image, label


def test_output_shapes_dtypes_and_value_set():
    image, label = _coded_pair()
    t = TrainTransform((48, 64), jitter=None)
    rng = np.random.default_rng(0)
    for _ in range(20):
        img, lab = t(image, label, rng=rng)
        assert img.shape == (48, 64, 3) and img.dtype == np.uint8
        assert lab.shape == (48, 64) and lab.dtype == np.uint8
        assert set(np.unique(lab).tolist()) <= {0, 3, 6, 9, 18, IGNORE_INDEX}


def test_geometry_keeps_image_and_label_aligned():
    """Without colour jitter, every labelled pixel's colour still decodes to its label
    (bilinear blending only at block borders, so require near-exact agreement inside)."""
    image, label = _coded_pair()
    t = TrainTransform((48, 64), scale=(0.5, 2.0), jitter=None)
    rng = np.random.default_rng(1)
    for _ in range(30):
        img, lab = t(image, label, rng=rng)
        valid = lab != IGNORE_INDEX
        decoded = np.round((img[..., 0].astype(float) - 20) / 12)
        agree = (decoded == lab)[valid].mean() if valid.any() else 1.0
        assert agree > 0.9, agree
        assert np.all(img[~valid] == 0)  # padding: black image, ignore label


def test_small_images_are_padded_with_ignore():
    image, label = _coded_pair(20, 30)
    _, lab = TrainTransform((48, 64), scale=(1.0, 1.0), flip=False, jitter=None)(
        image, label, rng=np.random.default_rng(2)
    )
    assert (lab == IGNORE_INDEX).sum() == 48 * 64 - 20 * 30
    assert (lab != IGNORE_INDEX).sum() == 20 * 30


def test_flip_happens_and_is_applied_to_both():
    image, label = _coded_pair()
    t = TrainTransform((60, 80), scale=(1.0, 1.0), flip=True, jitter=None)
    rng = np.random.default_rng(3)
    outcomes = set()
    for _ in range(12):
        img, lab = t(image, label, rng=rng)
        flipped = np.array_equal(lab, label[:, ::-1])
        assert flipped or np.array_equal(lab, label)
        assert np.array_equal(img, image[:, ::-1] if flipped else image)
        outcomes.add(flipped)
    assert outcomes == {True, False}


def test_scale_range_is_used():
    image, label = _coded_pair()
    rng = np.random.default_rng(4)
    t = TrainTransform((60, 80), scale=(2.0, 2.0), flip=False, jitter=None)
    _, lab = t(image, label, rng=rng)
    # at 2x, a crop of 60x80 sees at most 2 of the 4 blocks' full heights
    assert (lab == 18).sum() in range(0, 20 * 40 + 1)
    counts = np.bincount(lab.ravel(), minlength=256)
    assert counts.max() >= 60 * 80 / 4


def test_color_jitter_changes_colours_not_shape():
    image, _ = _coded_pair()
    rng = np.random.default_rng(5)
    out = color_jitter(image.copy(), rng, 0.4, 0.4, 0.4, 0.05)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert not np.array_equal(out, image)
    assert np.array_equal(color_jitter(image, rng), image)  # all zero: identity


def test_default_rng_follows_torch_seed():
    image, label = _coded_pair()
    t = TrainTransform((32, 32))
    torch.manual_seed(7)
    a = t(image, label)
    torch.manual_seed(7)
    b = t(image, label)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_random_crop_rejects_mismatched_pair():
    image, label = _coded_pair()
    with pytest.raises(ValueError, match="differ"):
        TrainTransform((8, 8))(image, label[:10])
    _, lab = random_crop(image, label, np.random.default_rng(0), (60, 80))
    assert np.array_equal(lab, label)


def test_collate():
    image, label = _coded_pair()
    images, labels = collate([(image, label), (image[:, ::-1], label[:, ::-1])])
    assert images.shape == (2, 3, 60, 80) and images.dtype == torch.uint8
    assert labels.shape == (2, 60, 80) and labels.dtype == torch.int64
    assert torch.equal(images[0].permute(1, 2, 0), torch.from_numpy(image))
    assert labels[0, 15, 55].item() == 18
    with pytest.raises(ValueError):
        collate([])
