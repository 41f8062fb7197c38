"""Check helpers for lesson 04's exercises (LoRA instruction tuning).

Each check works out the truth itself from what it is given (the LoRA model, the answers, the
two texts), prints one line (a hint, never the answer) and returns True or False, so the
solutions notebook can `assert` it. Built on `ftkit.lessons.exercise`.

    check_lora_count(answer, model)                  # trainable LoRA weights, counted by hand
    check_note_format(answer, "zh")                  # a safety note you wrote passes the checker
    check_rouge_l(answer, prediction, reference)     # ROUGE-L F1 worked out by hand
    check_format_share(answer, answers, "zh")        # format_ok of a list of answers, counted by you
"""

from __future__ import annotations

from .. import gen_eval  # not `from ... import check_safety_note`: check_* names here are the exercises'
from .exercise import close_to, feedback, unanswered

__all__ = ["check_format_share", "check_lora_count", "check_note_format", "check_rouge_l"]


def check_lora_count(answer, model) -> bool:
    """`answer`: the number of trainable weights LoRA added to `model` (a PEFT model), by hand."""
    truth = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return feedback(
        close_to(answer, truth, rel=0.0, abs_tol=0.5),
        right=f"{truth:,} trainable weights: r x (d_in + d_out) for every adapted matrix, in every block.",
        hint="each adapted d_out x d_in matrix adds r x (d_in + d_out); read hidden_size, intermediate_size, "
        "num_key_value_heads x head_dim in model.config, add up the adapted layers of one block, "
        "then multiply by num_hidden_layers.",
        answer=answer,
    )


def check_note_format(answer, lang: str = "en") -> bool:
    """`answer`: a safety note written by hand; right when `check_safety_note` accepts it."""
    if unanswered(answer) or not isinstance(answer, str):
        return feedback(
            False,
            right="",
            hint="`answer` should be a string of four lines, e.g. built with '\\n'.join([...]).",
            answer=None if unanswered(answer) else answer,
        )
    verdict = gen_eval.check_safety_note(answer, lang)
    return feedback(
        verdict.ok,
        right="four labelled lines in order, a valid risk level, nothing empty: the checker accepts it.",
        hint=f"the checker says: {verdict}. Compare your lines with a reference note of the set.",
        answer=answer,
    )


def check_rouge_l(answer, prediction: str, reference: str, lang: str | None = None) -> bool:
    """`answer`: the ROUGE-L F1 of `prediction` against `reference`, worked out by hand."""
    truth = gen_eval.rouge_l([prediction], [reference], lang)
    return feedback(
        close_to(answer, truth, rel=0.01, abs_tol=0.005),
        right=f"ROUGE-L F1 {truth:.3f}: LCS / length gives precision and recall, F1 is their harmonic mean.",
        hint="find the longest common subsequence of words (in order, gaps allowed); precision = LCS / "
        "words of the prediction, recall = LCS / words of the reference, F1 = 2PR / (P + R).",
        answer=answer,
    )


def check_format_share(answer, answers, lang: str | None = None) -> bool:
    """`answer`: the share (0 to 1) of `answers` that pass the safety-note check, counted by you."""
    truth = gen_eval.format_ok(answers, lang)
    return feedback(
        close_to(answer, truth, rel=0.0, abs_tol=0.005),
        right=f"format_ok {truth:.2f} over {len(answers)} answers.",
        hint="run check_safety_note on each answer (print its verdict), count the ok ones and divide by "
        f"the number of answers ({len(answers)}).",
        answer=answer,
    )
