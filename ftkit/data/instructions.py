"""Instruction data for supervised fine-tuning (SFT) of a chat model, loss on the response only.

    data = load_instructions("alpaca_en_demo.json")          # -> InstructionData
    train_ds = build_sft_dataset(tokenizer, data.train, max_length=256)
    print(show_masking(tokenizer, train_ds[0]))              # what is trained, what is not
    Trainer(..., train_dataset=train_ds, data_collator=SFTCollator(tokenizer))

Records come in two formats, and both become a list of chat messages:
    alpaca  {"instruction": ..., "input": ... (optional), "output": ...}
            (optional "system" string and "history" list of [user, assistant] pairs)
    chat    {"messages": [{"role": "system"|"user"|"assistant", "content": ...}, ...]}

Turning the messages into training ids, with the prompt masked, is `ftkit.data.sft_encoding`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError

__all__ = ["InstructionData", "load_instructions", "to_messages"]

ROLES = ("system", "user", "assistant")


@dataclass
class InstructionData:
    """Records normalised to chat messages, split into train and eval."""

    train: list  # each item: [{"role": ..., "content": ...}, ...] ending with the assistant
    eval: list
    path: str = ""  # the file they came from
    format: str = ""  # "alpaca", "chat" or "alpaca+chat"

    def __repr__(self) -> str:
        return (
            f"InstructionData(train={len(self.train)}, eval={len(self.eval)}, "
            f"format={self.format!r}, path={self.path!r})"
        )


# ---------------------------------------------------------------------------------------
# Loading and normalising records
# ---------------------------------------------------------------------------------------
def load_instructions(
    path, max_records: int | None = None, seed: int = 0, eval_fraction: float = 0.1, system: str | None = None
) -> InstructionData:
    """Read alpaca or chat records from JSON (a list) or JSONL; split off an eval set.

    max_records    use at most this many records of the file (seeded sample, taken before
                   the split so both parts stay small in the smoke profile); None = all.
    eval_fraction  share of records held out for evaluation (at least one when > 0).
    system         a system prompt added to every record that has none.
    """
    if max_records is not None and (
        not isinstance(max_records, int) or isinstance(max_records, bool) or max_records < 1
    ):
        raise ConfigError(f"max_records must be a positive integer or None, got {max_records!r}.")
    if not 0 <= eval_fraction < 1:
        raise ConfigError(
            f"eval_fraction must be in [0, 1), got {eval_fraction!r}. 0.1 keeps a tenth for evaluation."
        )
    path = Path(path)
    records, lines = _read_records(path)
    formats = set()
    normalised = []
    for i, record in enumerate(records):
        where = f"{path.name} record {i}" + (f" (line {lines[i]})" if lines else " (counting from 0)")
        normalised.append(record_to_messages(record, system, where))
        formats.add("chat" if "messages" in record else "alpaca")
    if not normalised:
        raise DataError(f"{path} holds no records. Check that it is the right file.")

    rng = np.random.default_rng(seed)
    order = np.arange(len(normalised))
    if max_records is not None and max_records < len(order):
        order = np.sort(rng.choice(order, size=max_records, replace=False))
    n_eval = int(round(len(order) * eval_fraction))
    if eval_fraction > 0 and len(order) >= 2:
        n_eval = min(max(n_eval, 1), len(order) - 1)  # keep at least one record on each side
    held_out = set(rng.permutation(order)[:n_eval].tolist())
    train = [normalised[i] for i in order if i not in held_out]
    evaluation = [normalised[i] for i in order if i in held_out]
    fmt = "+".join(sorted(formats))
    print(
        f"{path.name}: {len(records):,} records ({fmt} format); "
        f"using train {len(train):,} / eval {len(evaluation):,} (seed {seed})"
    )
    return InstructionData(train=train, eval=evaluation, path=str(path), format=fmt)


def _read_records(path: Path) -> tuple[list, list]:
    """Records and, for JSON Lines, each record's line number (else an empty list)."""
    if not path.is_file():
        where = "a folder, not a file" if path.is_dir() else "not found"
        raise DataError(f"Instruction file {where}: {path}. Check DATA_FILE.")
    try:
        content = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"{path} is not UTF-8 (byte {err.start}). Re-save it as UTF-8.") from None
    if not content.strip():
        raise DataError(f"{path} is empty. Check the path.")
    nonempty = [line for line in content.splitlines() if line.strip()]
    json_lines = path.suffix.lower() in (".jsonl", ".ndjson") or (
        len(nonempty) > 1 and _is_json_object(nonempty[0])
    )
    if content.lstrip().startswith("[") or not json_lines:
        try:
            data = json.loads(content)
        except json.JSONDecodeError as err:
            raise DataError(
                f"{path} is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}. "
                "Fix the file there."
            ) from None
        if not isinstance(data, list):
            keys = f" with keys {', '.join(map(str, list(data)[:6]))}" if isinstance(data, dict) else ""
            raise DataError(
                f"{path}: the top level is a {_kind(data)}{keys}, expected a list of records [{{...}}, ...]. "
                "Put the records in a JSON list, or use JSON Lines (one record per line)."
            )
        return data, []
    # JSON Lines: one record per line
    records, lines = [], []
    for lineno, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise DataError(
                f"{path} line {lineno}, column {err.colno}: not valid JSON ({err.msg}). "
                "JSON Lines needs one complete record per line."
            ) from None
        lines.append(lineno)
    return records, lines


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except json.JSONDecodeError:
        return False


def _kind(value) -> str:
    return {dict: "JSON object", list: "list", str: "string"}.get(type(value), type(value).__name__)


def to_messages(record: dict, system: str | None = None) -> list:
    """One alpaca or chat record -> a list of {"role", "content"} messages.

    alpaca: [system?] + history turns + user (instruction, plus "\\n\\n" + input if any)
    + assistant (output).  `system` is used when the record has no system prompt.
    """
    return record_to_messages(record, system, "record")


def record_to_messages(record, system, where: str) -> list:
    if not isinstance(record, dict):
        raise DataError(
            f'{where} is a {_kind(record)}, expected an object like {{"instruction": ..., "output": ...}}.'
        )
    keys = ", ".join(map(str, record)) or "none"
    if "messages" in record:
        return _check_chat(record["messages"], system, where)
    for key in ("instruction", "output"):
        if key not in record:
            raise DataError(
                f"{where} has no {key!r} (keys present: {keys}). "
                f"Add {key!r} to that record or remove it (alpaca records need 'instruction' and "
                "'output'; chat records need 'messages')."
            )
    for key in ("instruction", "input", "output", "system"):
        if record.get(key) is not None and not isinstance(record[key], str):
            raise DataError(
                f"{where}: {key!r} is a {_kind(record[key])}, expected a string. Fix that value in the file."
            )
    if not record["output"].strip():
        raise DataError(
            f"{where} has an empty 'output': there is no response to learn. Fill it in or remove the record."
        )
    if not record["instruction"].strip() and not (record.get("input") or "").strip():
        raise DataError(
            f"{where} has an empty 'instruction' and 'input': there is no prompt. "
            "Fill it in or remove the record."
        )
    messages = []
    system_text = record.get("system") or system
    if system_text:
        messages.append({"role": "system", "content": system_text})
    for turn in record.get("history") or []:
        if not (isinstance(turn, (list, tuple)) and len(turn) == 2 and all(isinstance(t, str) for t in turn)):
            raise DataError(f"{where}: 'history' must be a list of [user, assistant] string pairs.")
        messages += [{"role": "user", "content": turn[0]}, {"role": "assistant", "content": turn[1]}]
    user = record["instruction"]
    if (record.get("input") or "").strip():
        user = f"{user}\n\n{record['input']}" if user.strip() else record["input"]
    messages += [{"role": "user", "content": user}, {"role": "assistant", "content": record["output"]}]
    return messages


def _check_chat(messages, system, where: str) -> list:
    if not isinstance(messages, list) or not messages:
        raise DataError(f'{where}: \'messages\' must be a non-empty list of {{"role", "content"}} objects.')
    out = []
    for j, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise DataError(f"{where}: message {j} needs 'role' and 'content' (got {message!r:.60}).")
        if message["role"] not in ROLES:
            raise DataError(
                f"{where}: message {j} has unknown role {message['role']!r}. Use one of: {', '.join(ROLES)}."
            )
        if not isinstance(message["content"], str):
            raise DataError(
                f"{where}: message {j} content is a {_kind(message['content'])}, expected a string."
            )
        out.append({"role": message["role"], "content": message["content"]})
    if out[-1]["role"] != "assistant":
        raise DataError(
            f"{where}: the last message is from {out[-1]['role']!r}; "
            "it must be the assistant's response to learn."
        )
    if not out[-1]["content"].strip():
        raise DataError(
            f"{where} has an empty assistant response: there is nothing to learn. "
            "Fill it in or remove the record."
        )
    if not any(m["role"] == "user" for m in out):
        raise DataError(f"{where} has no user message. Add the question the assistant answers.")
    if system and out[0]["role"] != "system":
        out.insert(0, {"role": "system", "content": system})
    return out
