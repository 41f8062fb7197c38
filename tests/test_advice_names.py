"""Every `Name(keyword=value)` that diagnose's advice tells a learner to type must work where it is typed.

The advice is read by people who copy it: `TrainConfig(...)` into ftkit's `fit`, `train_sft(...)` in
lesson 04, `TrainingArguments(...)` into a Hugging Face Trainer (lesson 03). A name that one of them
does not accept (as `TrainingArguments(warmup_ratio=...)` in transformers 5) must fail this test.
"""

import ast
import inspect
import re

import pytest

import ftkit
from ftkit.diagnose import ADVICE

CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\(([a-z_]+)=([^()]+?)\)")


def _advice_calls():
    calls = []
    for verdict, lines in ADVICE.items():
        for line in lines:
            for name, keyword, value in CALL.findall(line):
                calls.append((verdict, name, keyword, ast.literal_eval(value.strip())))
    return calls


def test_every_keyword_in_the_advice_says_where_it_goes():
    """A bare `warmup_ratio=0.1` does not say whether it belongs to TrainConfig or TrainingArguments."""
    for verdict, lines in ADVICE.items():
        for line in lines:
            inside = [m.span() for m in CALL.finditer(line)]
            for keyword in re.finditer(r"\b[a-z_]+=", line):
                assert any(a <= keyword.start() < b for a, b in inside), (verdict, line)


def test_advice_names_some_calls():
    names = {name for _, name, _, _ in _advice_calls()}
    assert {"TrainConfig", "TrainingArguments", "train_sft"} <= names


@pytest.mark.parametrize("verdict,name,keyword,value", _advice_calls())
def test_advice_call_is_accepted_where_it_is_typed(verdict, name, keyword, value, tmp_path):
    if name == "TrainConfig":
        config = ftkit.TrainConfig(**{keyword: value})
        assert getattr(config, keyword) == value
    elif name == "TrainingArguments":
        from ftkit import ensure_torchvision

        ensure_torchvision()  # transformers imports torchvision (see ftkit/infra/compat.py)
        from transformers import TrainingArguments

        args = TrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True, **{keyword: value})
        assert getattr(args, keyword) == value
    elif name == "train_sft":
        assert keyword in inspect.signature(ftkit.train_sft).parameters
    else:
        pytest.fail(
            f"advice for {verdict!r} names {name}({keyword}=...): add a check for {name} to this test"
        )
