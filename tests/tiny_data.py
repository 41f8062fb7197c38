"""Small shared test inputs: the sentiment sample, a few safety-note records and prompts, and the
tiny random presets they run on (seconds on a CPU)."""

from pathlib import Path

from ftkit.infra.presets import load_causal_lm, load_text_classifier

SENTIMENT_CSV = Path(__file__).resolve().parents[1] / "data_samples" / "sentiment" / "sentiment_en.csv"

RECORDS = [  # a tiny repeated set: a few steps must lower the loss on it
    {
        "instruction": "Write a safety note.",
        "input": "A ladder is broken.",
        "output": "RISK: HIGH\nHAZARD: Falling.\nACTION: Remove the ladder.\nWHO: Site supervisor",
    },
    {
        "instruction": "Write a safety note.",
        "input": "A spill in the kitchen.",
        "output": "RISK: MEDIUM\nHAZARD: Slipping.\nACTION: Mop the floor.\nWHO: Kitchen manager",
    },
] * 2
PROMPTS = ["Write a safety note.\n\nA cable is frayed.", "Hello"]


def tiny_bert(data, seed=0):
    """The tiny random BERT classifier for the labels of `data` (a TextData)."""
    return load_text_classifier("tiny-bert", num_labels=2, id2label=data.id2label, seed=seed)


def tiny_qwen2():
    """The tiny random Qwen2 chat model."""
    return load_causal_lm("tiny-qwen2", seed=0)
