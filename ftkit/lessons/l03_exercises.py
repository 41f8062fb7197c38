"""Lesson 03's exercise checks: each computes the truth from what it is given (the tokenizer and
texts, the model, the held-out split), prints one line and returns True/False.

    check_padding_share(answer, tokenizer, data.train["text"])    # share of [PAD] at max_length=512
    check_head_size(answer, model)                                # weights of the new classifier
    check_trainable(answer, peft_model)                           # what a PEFT method trains
    check_test_f1(answer, model, tokenizer, data.test)            # your model's held-out macro F1
"""

from __future__ import annotations

import numpy as np

from .exercise import close_to, feedback

__all__ = [
    "padding_share",
    "head_size",
    "check_padding_share",
    "check_head_size",
    "check_trainable",
    "check_test_f1",
]


def padding_share(tokenizer, texts, max_length: int = 512) -> float:
    """Share of the tokens that are [PAD] when every text is padded (and cut) to `max_length`."""
    lengths = [min(len(ids), max_length) for ids in tokenizer([str(t) for t in texts])["input_ids"]]
    return 1 - float(np.mean(lengths)) / max_length


def head_size(model) -> int:
    """Weights (and biases) of the classifier head: the part `from_pretrained` initialises anew."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    head = getattr(base, "classifier", None) or getattr(base, "score", None)
    if head is None:
        return 0
    head = getattr(head, "original_module", head)  # PEFT wraps a trained head with a copy: count one
    return sum(p.numel() for p in head.parameters())


def check_padding_share(answer, tokenizer, texts, max_length: int = 512) -> bool:
    """The share of [PAD] tokens (0-1) if every text were padded to `max_length`, within 0.01."""
    truth = padding_share(tokenizer, texts, max_length)
    return feedback(
        close_to(answer, truth, rel=0, abs_tol=0.01),
        right=f"almost all of a {max_length}-token batch is padding here: the model computes on it all",
        hint="tokenize the texts without padding, average their lengths (in tokens, [CLS] and [SEP] "
        f"included), and compare with {max_length}; give a share between 0 and 1",
        answer=answer,
    )


def check_head_size(answer, model) -> bool:
    """The number of weights (weight matrix + bias) of the model's new classifier head."""
    truth = head_size(model)
    return feedback(
        truth > 0 and close_to(answer, truth, rel=0),
        right="hidden size x classes + one bias per class: that is all the random part there is",
        hint="the head is one Linear from the encoder's hidden size (model.config.hidden_size) to "
        "the number of classes; count its weight matrix and its bias",
        answer=answer,
    )


def check_trainable(answer, model) -> bool:
    """The number of trainable parameters of `model` (e.g. a PEFT model), counted exactly."""
    truth = sum(p.numel() for p in model.parameters() if p.requires_grad) if model is not None else 0
    return feedback(
        truth > 0 and close_to(answer, truth, rel=0),
        right="counted by hand, confirmed by the model: you know what the method trains",
        hint="prefix tuning learns one key and one value vector (hidden size each) per virtual token "
        "in every layer; PEFT also trains the new classifier head (weight and bias)",
        answer=answer,
    )


def check_test_f1(answer, model, tokenizer, test) -> bool:
    """The macro F1 of `model` on the held-out split `test` (text and label columns), within 0.01."""
    from ..metrics import f1_macro
    from ..textcls import predict_proba

    if model is None:
        print("No model yet: train one in the cell above (set `my_model`), then measure its F1.")
        return False
    pred = predict_proba(model, tokenizer, test["text"]).argmax(axis=1)
    truth = f1_macro(pred, np.asarray(test["label"]))
    return feedback(
        close_to(answer, truth, rel=0, abs_tol=0.01),
        right="measured on the held-out split, never used for training or for picking an epoch",
        hint="predict the held-out split with ftkit.predict_proba, take the argmax, and compare with "
        "data.test['label'] using the macro F1 (the lesson's tables use it too)",
        answer=answer,
    )
