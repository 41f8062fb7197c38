"""Chat messages -> training ids for supervised fine-tuning, loss on the response only.

How a record becomes training ids (`encode_for_sft`), with the tokenizer's chat template:
    prompt   = template(messages[:-1]) + the "assistant starts" header   -> labels -100
    response = the last assistant message + the end-of-turn token         -> labels = ids
-100 is the index `CrossEntropyLoss` ignores, so the model is graded only on what the
assistant says, including the end-of-turn token (that is how it learns to stop).
The prompt and the response are tokenized separately and joined, exactly as at generation
time, where the model continues from the tokenized prompt.  (The seed article sets
labels = input_ids: the model then also learns to write the user's questions.)

Too long?  If prompt + response exceed `max_length`, the end of the response is cut (the
prompt stays whole); if the prompt alone fills `max_length`, nothing of the response would
be trained, so the record is dropped.  `build_sft_dataset` prints how many of each.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError, DataError, ModelError
from .instructions import record_to_messages

__all__ = [
    "encode_for_sft",
    "build_sft_dataset",
    "SFTDataset",
    "SFTCollator",
    "show_masking",
    "MaskingView",
    "IGNORE_INDEX",
]

IGNORE_INDEX = -100  # the label value torch.nn.CrossEntropyLoss skips (its ignore_index default)


# ---------------------------------------------------------------------------------------
# Encoding: chat template -> input_ids / labels with the prompt masked
# ---------------------------------------------------------------------------------------
def encode_for_sft(tokenizer, messages: list, max_length: int) -> dict:
    """input_ids, attention_mask and labels (-100 on the prompt) for one conversation.

    Raises DataError if the prompt alone is too long for `max_length` (nothing to train).
    A response that does not fit is cut at the end, with a printed note.
    """
    encoded, status = _encode(tokenizer, messages, max_length)
    if status == "dropped":
        raise DataError(
            f"The prompt alone is {encoded} tokens, >= max_length={max_length}: no response token would be "
            "trained. Raise max_length or shorten the prompt."
        )
    if status == "cut":
        print(
            f"note: the response was cut to fit max_length={max_length}; "
            "the model won't see its end-of-turn token."
        )
    return encoded


def _encode(tokenizer, messages, max_length):
    """(encoded dict, "ok" | "cut") or (prompt length, "dropped")."""
    if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 2:
        raise ConfigError(f"max_length must be an integer >= 2, got {max_length!r}.")
    if not getattr(tokenizer, "chat_template", None):
        raise ModelError(
            "This tokenizer has no chat template. Use an instruct/chat model's tokenizer, "
            "or set tokenizer.chat_template to a Jinja template."
        )
    if not messages or messages[-1].get("role") != "assistant":
        raise DataError(
            "The conversation must end with an assistant message (the response to learn). "
            "Use to_messages(record)."
        )
    prompt_text, response_text = _render(tokenizer, messages)
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    response_ids = tokenizer(response_text, add_special_tokens=False)["input_ids"]
    status = "ok"
    if len(prompt_ids) >= max_length:
        return len(prompt_ids), "dropped"
    if len(prompt_ids) + len(response_ids) > max_length:
        response_ids = response_ids[: max_length - len(prompt_ids)]
        status = "cut"
    input_ids = list(prompt_ids) + list(response_ids)
    labels = [IGNORE_INDEX] * len(prompt_ids) + list(response_ids)
    if all(label == IGNORE_INDEX for label in labels):  # the classic bug: a record that teaches nothing
        raise DataError(
            "This conversation has no response token to train on. Check that the last message has content."
        )
    return {"input_ids": input_ids, "attention_mask": [1] * len(input_ids), "labels": labels}, status


def _render(tokenizer, messages) -> tuple[str, str]:
    """The template's text for the prompt, and for the trained part that follows it."""
    try:
        prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(messages, tokenize=False)
    except Exception as err:  # jinja2 raises its own errors, e.g. "roles must alternate"
        raise DataError(
            f"The chat template refused these messages: {err}. Check the roles and their order."
        ) from err
    if not full.startswith(prompt):
        raise ModelError(
            "This chat template renders the prompt differently inside the full conversation, so the "
            "prompt cannot be masked reliably. Use a template where template(messages[:-1], "
            "add_generation_prompt=True) is a prefix of template(messages)."
        )
    rest = full[len(prompt) :]
    content = messages[-1]["content"]
    eos = tokenizer.eos_token or ""
    if eos and eos in rest:
        return prompt, rest[
            : rest.rindex(eos) + len(eos)
        ]  # up to the end-of-turn token; drop the "\n" after it
    trimmed = rest.rstrip()
    if trimmed.endswith(
        content.strip()
    ):  # the template marks no end of turn: add eos so the model learns to stop
        return prompt, trimmed + eos
    return prompt, trimmed  # the template's own end-of-turn marker (e.g. "<end_of_turn>")


class SFTDataset:
    """A list of encoded examples (a map-style torch Dataset) plus how they were made."""

    def __init__(self, examples: list, max_length: int, n_cut: int = 0, n_dropped: int = 0):
        self.examples = examples
        self.max_length = max_length  # the cap used to encode
        self.n_cut = n_cut  # records whose response was cut at the end
        self.n_dropped = n_dropped  # records whose prompt alone filled max_length

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i) -> dict:
        return self.examples[i]

    @property
    def lengths(self) -> list:
        return [len(e["input_ids"]) for e in self.examples]

    def __repr__(self) -> str:
        return (
            f"SFTDataset({len(self)} examples, max_length={self.max_length}, "
            f"cut={self.n_cut}, dropped={self.n_dropped})"
        )


def build_sft_dataset(tokenizer, records: list, max_length: int, system: str | None = None) -> SFTDataset:
    """Encode records (message lists, or raw alpaca/chat dicts) for the HF Trainer.

    Use it with `data_collator=SFTCollator(tokenizer)`: the Trainer's default collator
    would not pad `labels` with -100.
    """
    examples, n_cut, n_dropped = [], 0, 0
    longest_prompt = 0
    for i, record in enumerate(records):
        messages = record if isinstance(record, list) else record_to_messages(record, system, f"record {i}")
        encoded, status = _encode(tokenizer, messages, max_length)
        if status == "dropped":
            n_dropped += 1
            longest_prompt = max(longest_prompt, encoded)
            continue
        n_cut += status == "cut"
        examples.append(encoded)
    if not examples:
        raise DataError(
            f"Every one of the {len(records)} records has a prompt of max_length={max_length} tokens or more "
            f"(longest {longest_prompt}). Raise max_length."
        )
    lengths = sorted(len(e["input_ids"]) for e in examples)
    line = (
        f"SFT examples: {len(examples):,} of {len(records):,} records, "
        f"{lengths[len(lengths) // 2]} tokens median, {lengths[-1]} max"
    )
    if n_cut or n_dropped:
        line += (
            f"; longer than max_length={max_length}: {n_cut} responses cut at the end, "
            f"{n_dropped} dropped (prompt alone too long). Raise max_length to keep them whole."
        )
    print(line)
    return SFTDataset(examples, max_length, n_cut, n_dropped)


# ---------------------------------------------------------------------------------------
# Batching and inspection
# ---------------------------------------------------------------------------------------
@dataclass
class SFTCollator:
    """Pads a list of encoded examples into a batch of tensors (on the right).

    input_ids get the pad id, labels get -100 (so padding is never trained), and the
    attention mask is 0 there (so padding is never attended to).
    """

    tokenizer: object = field(
        default=None, repr=False, metadata={"help": "gives the pad id (pad_token_id, else eos_token_id)"}
    )
    pad_token_id: int | None = field(default=None, metadata={"help": "overrides the tokenizer's pad id"})
    pad_to_multiple_of: int | None = field(
        default=None, metadata={"help": "8 helps GPU tensor cores; None (no rounding) on CPU"}
    )

    def __post_init__(self):
        if self.pad_token_id is None and self.tokenizer is not None:
            self.pad_token_id = self.tokenizer.pad_token_id
            if self.pad_token_id is None:
                self.pad_token_id = self.tokenizer.eos_token_id  # masked anyway, so any real id works
        if self.pad_token_id is None:
            raise ConfigError(
                "SFTCollator needs a pad id: pass a tokenizer with a pad or eos token, or pad_token_id=."
            )
        if self.pad_to_multiple_of is not None and self.pad_to_multiple_of < 1:
            raise ConfigError(
                f"pad_to_multiple_of must be a positive integer or None, got {self.pad_to_multiple_of!r}."
            )

    def __call__(self, features: list) -> dict:
        import torch

        longest = max(len(f["input_ids"]) for f in features)
        if self.pad_to_multiple_of:
            longest = -(-longest // self.pad_to_multiple_of) * self.pad_to_multiple_of
        batch = {"input_ids": [], "attention_mask": [], "labels": []}
        for f in features:
            ids = list(f["input_ids"])
            pad = longest - len(ids)
            batch["input_ids"].append(ids + [self.pad_token_id] * pad)
            batch["attention_mask"].append(list(f.get("attention_mask", [1] * len(ids))) + [0] * pad)
            batch["labels"].append(list(f["labels"]) + [IGNORE_INDEX] * pad)
        return {key: torch.tensor(value, dtype=torch.long) for key, value in batch.items()}


@dataclass
class MaskingView:
    """What the model reads without loss (prompt) and what it is graded on (trained)."""

    prompt: str  # decoded tokens whose label is -100
    trained: str  # decoded tokens that carry a label: the loss is computed only here
    n_prompt: int
    n_trained: int
    n_padding: int
    tokens: list = field(default_factory=list, repr=False)  # (position, id, token text, trained?)

    def table(self):
        """One row per token: position, id, token, trained (a pandas DataFrame)."""
        import pandas as pd

        return pd.DataFrame(self.tokens, columns=["position", "id", "token", "trained"])

    def __str__(self) -> str:
        lines = [
            f"NOT TRAINED (label -100), {self.n_prompt} tokens:",
            self.prompt,
            "",
            f"TRAINED (loss computed here), {self.n_trained} tokens:",
            self.trained,
        ]
        if self.n_padding:
            lines += ["", f"(+ {self.n_padding} padding tokens, masked)"]
        return "\n".join(lines)

    __repr__ = __str__


def show_masking(tokenizer, example: dict) -> MaskingView:
    """Decode the prompt part and the trained part of one example separately.

    `example` is one item of `build_sft_dataset` / `encode_for_sft`, or one row of a
    collated batch (padding is counted and left out).  `print(...)` it, or call `.table()`.
    """
    ids = [int(i) for i in _as_list(example["input_ids"])]
    labels = [int(i) for i in _as_list(example["labels"])]
    mask = [int(i) for i in _as_list(example.get("attention_mask", [1] * len(ids)))]
    real = [m == 1 for m in mask]
    trained = [label != IGNORE_INDEX for label in labels]
    # input_ids, attention_mask and labels of one example always have one entry per position
    prompt_ids = [i for i, r, t in zip(ids, real, trained, strict=True) if r and not t]
    trained_ids = [i for i, r, t in zip(ids, real, trained, strict=True) if r and t]
    tokens = [
        (p, i, tokenizer.decode([i]), t)
        for p, (i, r, t) in enumerate(zip(ids, real, trained, strict=True))
        if r
    ]
    return MaskingView(
        prompt=tokenizer.decode(prompt_ids),
        trained=tokenizer.decode(trained_ids),
        n_prompt=len(prompt_ids),
        n_trained=len(trained_ids),
        n_padding=len(ids) - sum(real),
        tokens=tokens,
    )


def _as_list(values) -> list:
    return values.tolist() if hasattr(values, "tolist") else list(values)
