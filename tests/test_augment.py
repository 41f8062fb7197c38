"""Text augmentation (ftkit/data/augment.py): seeded, label-keeping, input untouched, share honoured."""

import numpy as np
import pandas as pd
import pytest

from ftkit.data.augment import augment_text, augment_texts
from ftkit.errors import ConfigError, DataError

TWENTY = " ".join(f"w{i}" for i in range(20))


def frame():
    return pd.DataFrame(
        {"text": [TWENTY, "short one here", "好看又好用"], "label": [1, 0, 1], "kind": ["a", "b", "c"]}
    )


def test_same_seed_same_copies_other_seed_other_copies():
    a = augment_texts(frame(), share=0.3, seed=3)
    b = augment_texts(frame(), share=0.3, seed=3)
    c = augment_texts(frame(), share=0.3, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert a["text"].tolist() != c["text"].tolist()


def test_labels_and_other_columns_kept_originals_first():
    df = frame()
    out = augment_texts(df, copies=2, share=0.5)
    assert len(out) == 3 * len(df)
    assert out["label"].tolist() == df["label"].tolist() * 3
    assert out["kind"].tolist() == df["kind"].tolist() * 3
    assert out["augmented"].tolist() == [False] * 3 + [True] * 6
    assert out["text"][:3].tolist() == df["text"].tolist()


def test_input_frame_untouched():
    df = frame()
    before = df.copy()
    augment_texts(df, method="swap", share=0.5)
    augment_texts(df, method="delete", share=0.5)
    pd.testing.assert_frame_equal(df, before)


@pytest.mark.parametrize("share, masked", [(0.0, 0), (0.25, 5), (0.5, 10), (1.0, 20)])
def test_mask_masks_the_requested_share(share, masked):
    out = augment_text(TWENTY, "mask", share, np.random.default_rng(0), mask_token="[MASK]")
    words = out.split()
    assert len(words) == 20
    assert words.count("[MASK]") == masked
    kept = [w for w in words if w != "[MASK]"]
    assert set(kept) <= set(TWENTY.split())


def test_delete_and_swap():
    rng = np.random.default_rng(1)
    deleted = augment_text(TWENTY, "delete", 0.25, rng).split()
    assert len(deleted) == 15 and set(deleted) <= set(TWENTY.split())
    assert len(augment_text("one two", "delete", 1.0, rng).split()) == 1  # at least one word stays
    swapped = augment_text(TWENTY, "swap", 0.5, rng).split()
    assert sorted(swapped) == sorted(TWENTY.split()) and swapped != TWENTY.split()


def test_text_without_spaces_is_cut_into_characters():
    out = augment_text("好看又好用", "mask", 0.4, np.random.default_rng(0), mask_token="[MASK]")
    assert out.count("[MASK]") == 2 and len(out.replace("[MASK]", "")) == 3


@pytest.mark.parametrize("share", [-0.1, 1.5, "0.2", float("nan"), True])
def test_bad_share_is_one_line_config_error(share):
    with pytest.raises(ConfigError, match="share must be a number from 0 to 1") as err:
        augment_texts(frame(), share=share)
    assert "\n" not in str(err.value)


def test_other_bad_arguments():
    with pytest.raises(ConfigError, match="method"):
        augment_texts(frame(), method="backtranslate")
    with pytest.raises(ConfigError, match="copies"):
        augment_texts(frame(), copies=0)
    with pytest.raises(ConfigError, match="mask_token"):
        augment_texts(frame(), mask_token=None)
    with pytest.raises(DataError, match="'text' column"):
        augment_texts(pd.DataFrame({"sentence": ["a b"]}))
