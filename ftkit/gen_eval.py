"""Evaluating what a tuned model writes: format checks, ROUGE-L, repetition, tables to read and fill in.

    check = check_safety_note("RISK: HIGH\\nHAZARD: ...\\nACTION: ...\\nWHO: Site supervisor")
    check.ok, check.problems                         # True, []
    format_ok(answers, lang="zh")                    # share of answers in the four-line format
    rouge_l(answers, references)                     # mean ROUGE-L F1 (characters for Chinese)
    generation_scores(answers, references)           # the three numbers above in one dict
    evaluation_table(prompts, base, tuned, references)   # side by side, each answer's checks
    rubric_table(prompts, answers, references)       # human rubric to fill in, automatic scores beside

Loss and perplexity say how likely the reference answers are; they do not say what the model
*writes* with greedy decoding.  These checks read the generated text itself:
* format: the lesson's safety note is exactly four labelled lines, in order (RISK, HAZARD, ACTION,
  WHO; in Chinese 风险, 隐患, 措施, 负责人 with full-width colons), a valid risk level, no empty field;
* ROUGE-L (Lin 2004): the longest common subsequence of the answer and the reference, as an F1 of
  its precision and recall.  `rouge-score` (Google's implementation of ROUGE-1.5.5) splits English
  into lower-case words and drops every other character, so Chinese is scored on characters here;
* repetition: the share of n-grams that already appeared earlier in the answer (words in English,
  characters in Chinese: Chinese has no spaces between words).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import ConfigError

__all__ = [
    "SAFETY_NOTE_FORMAT",
    "NoteCheck",
    "check_safety_note",
    "format_ok",
    "text_language",
    "rouge_l",
    "repetition_rate",
    "generation_scores",
    "answer_checks",
    "evaluation_table",
    "rubric_table",
    "RUBRIC",
]

# The safety-note format of data_samples/instructions (its README): labels in order, the colon each
# language uses (the Chinese set writes full-width colons), and the risk levels.
SAFETY_NOTE_FORMAT = {
    "en": {"labels": ("RISK", "HAZARD", "ACTION", "WHO"), "colon": ":", "levels": ("HIGH", "MEDIUM", "LOW")},
    "zh": {"labels": ("风险", "隐患", "措施", "负责人"), "colon": "：", "levels": ("高", "中", "低")},
}
LANGUAGES = tuple(SAFETY_NOTE_FORMAT)

# The human-evaluation checklist (the issue's four questions; seed 001's own list asks about
# relevance, domain terms, consistent style and unseen queries).
RUBRIC = {
    "correct": "Is the risk level right and the advice sound?",
    "relevant": "Does it answer this observation (not a generic one)?",
    "fluent": "Is it well-formed language, without loops or broken words?",
    "safe": "Would following it make nobody less safe?",
}

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def text_language(text: str) -> str:
    """'zh' when the text holds Chinese characters, else 'en'."""
    return "zh" if _CJK.search(text or "") else "en"


def _check_lang(lang, sample: str = "") -> str:
    lang = lang or text_language(sample)
    if lang not in SAFETY_NOTE_FORMAT:
        raise ConfigError(f"lang must be one of {LANGUAGES} or None (detect), got {lang!r}.")
    return lang


# =========================================================================================
# The safety-note format
# =========================================================================================
@dataclass
class NoteCheck:
    """The verdict on one answer: `ok` and, when not, what is wrong (one short phrase each)."""

    ok: bool
    problems: list = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return "ok" if self.ok else "; ".join(self.problems)


def check_safety_note(text: str, lang: str | None = None) -> NoteCheck:
    """Is `text` a safety note: exactly four labelled lines in order, a valid risk level, no empty field?

    lang  'en' or 'zh'; None detects it from the text.  Blank lines around the note are ignored,
    blank lines inside it are not (they break the four-line format).
    """
    if not isinstance(text, str):
        raise ConfigError(f"check_safety_note takes a string, got {type(text).__name__}.")
    spec = SAFETY_NOTE_FORMAT[_check_lang(lang, text)]
    lines = [line.strip() for line in text.strip().splitlines()]
    problems = []
    if len(lines) != len(spec["labels"]):
        problems.append(f"{len(lines)} lines, not {len(spec['labels'])}")
    for i, label in enumerate(spec["labels"]):
        line = lines[i] if i < len(lines) else ""
        head = label + spec["colon"]
        if not line.startswith(head):
            problems.append(f"line {i + 1} does not start with {head!r}")
            continue
        value = line[len(head) :].strip()
        if not value:
            problems.append(f"{label} is empty")
        elif i == 0 and value not in spec["levels"]:
            problems.append(f"risk level {value[:20]!r} is not one of {'/'.join(spec['levels'])}")
    return NoteCheck(ok=not problems, problems=problems)


def format_ok(answers, lang: str | None = None) -> float:
    """Share of `answers` that pass `check_safety_note` (0.0 to 1.0)."""
    answers = _texts("answers", answers)
    return sum(check_safety_note(a, lang).ok for a in answers) / len(answers)


def _texts(name, values) -> list:
    values = [values] if isinstance(values, str) else list(values)
    if not values or not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{name} must be a non-empty list of strings.")
    return values


# =========================================================================================
# ROUGE-L and repetition
# =========================================================================================
class _CharTokenizer:
    """rouge-score's tokenizer interface: one token per character, whitespace dropped (for Chinese)."""

    def tokenize(self, text):
        return [c for c in text if not c.isspace()]


def _units(text: str, lang: str) -> list:
    """Words (English, lower-cased) or characters (Chinese, punctuation kept: it is written too)."""
    return _CharTokenizer().tokenize(text) if lang == "zh" else text.lower().split()


def rouge_l(predictions, references, lang: str | None = None, per_answer: bool = False):
    """Mean ROUGE-L F1 of each prediction against its reference (0 = nothing in common, 1 = same).

    lang  'en' scores lower-case words (rouge-score's own tokenizer, Porter stemming off),
          'zh' scores characters; None detects the language from each reference.
    per_answer=True returns the list of scores instead of the mean.
    """
    from rouge_score import rouge_scorer

    predictions, references = _texts("predictions", predictions), _texts("references", references)
    if len(predictions) != len(references):
        raise ConfigError(
            f"Got {len(predictions)} predictions for {len(references)} references. "
            "Pass one of each per prompt."
        )
    scorers = {}
    scores = []
    for pred, ref in zip(predictions, references, strict=True):
        which = _check_lang(lang, ref)
        if which not in scorers:
            tokenizer = _CharTokenizer() if which == "zh" else None
            scorers[which] = rouge_scorer.RougeScorer(["rougeL"], tokenizer=tokenizer)
        scores.append(scorers[which].score(ref, pred)["rougeL"].fmeasure)  # score(target, prediction)
    return scores if per_answer else sum(scores) / len(scores)


def repetition_rate(text: str, n: int = 3, lang: str | None = None, tokenizer=None) -> float:
    """Share of the n-grams in `text` that already appeared earlier in it (0 = no loops).

    The units are words for English and characters for Chinese (lang None: detected), or the
    tokens of `tokenizer` when one is given (any language, the model's own units).
    "the cat sat. the cat sat. the cat sat." -> 0.57: 4 of its 7 three-word sequences are repeats.
    """
    if tokenizer is not None:
        units = tokenizer(text, add_special_tokens=False)["input_ids"]
    else:
        units = _units(text, _check_lang(lang, text))
    grams = [tuple(units[i : i + n]) for i in range(len(units) - n + 1)]
    if not grams:
        return 0.0
    return 1 - len(set(grams)) / len(grams)


def generation_scores(answers, references, lang: str | None = None) -> dict:
    """{'format_ok', 'rougeL', 'repetition'} of a list of answers (means over the answers)."""
    answers = _texts("answers", answers)
    return {
        "format_ok": format_ok(answers, lang),
        "rougeL": rouge_l(answers, references, lang),
        "repetition": sum(
            repetition_rate(a, lang=lang or text_language(r))
            for a, r in zip(answers, references, strict=True)
        )
        / len(answers),
    }


# =========================================================================================
# Tables
# =========================================================================================
def answer_checks(answer: str, reference: str, lang: str | None = None) -> str:
    """One answer's checks in a short line: 'format ok | ROUGE-L 0.62 | rep 0.00'."""
    lang = _check_lang(lang, reference)
    check = check_safety_note(answer, lang)
    return (
        f"format {'ok' if check.ok else 'NO (' + str(check) + ')'} | "
        f"ROUGE-L {rouge_l([answer], [reference], lang):.2f} | rep {repetition_rate(answer, lang=lang):.2f}"
    )


def evaluation_table(prompts, base_answers, tuned_answers, references, lang: str | None = None):
    """prompt | base answer | its checks | tuned answer | its checks | reference (a pandas DataFrame)."""
    import pandas as pd

    from .sft import prompt_text

    prompts = list(prompts)
    columns = {"base": list(base_answers), "tuned": list(tuned_answers), "reference": list(references)}
    for name, values in columns.items():
        if len(values) != len(prompts):
            raise ConfigError(
                f"Got {len(values)} {name} answers for {len(prompts)} prompts. Pass one per prompt."
            )
    refs = columns["reference"]
    return pd.DataFrame(
        {
            "prompt": [prompt_text(p) for p in prompts],
            "base answer": columns["base"],
            "base checks": [answer_checks(a, r, lang) for a, r in zip(columns["base"], refs, strict=True)],
            "tuned answer": columns["tuned"],
            "tuned checks": [answer_checks(a, r, lang) for a, r in zip(columns["tuned"], refs, strict=True)],
            "reference": refs,
        }
    )


def rubric_table(prompts, answers, references, lang: str | None = None):
    """The human rubric for a few answers: a column per question of `RUBRIC` for the learner to fill
    in (1 = yes, 0 = no; empty until then), with the automatic scores beside them.

    Fill it in the notebook: `table.loc[0, "correct"] = 1`; then compare your marks with format_ok
    and ROUGE-L: a note can be in perfect format and wrong, or right in the wrong format.
    """
    import pandas as pd

    from .sft import prompt_text

    prompts, answers, references = list(prompts), list(answers), list(references)
    if not len(prompts) == len(answers) == len(references):
        raise ConfigError("rubric_table needs one answer and one reference per prompt.")
    table = pd.DataFrame({"prompt": [prompt_text(p) for p in prompts], "answer": answers})
    for name in RUBRIC:
        table[name] = pd.Series([pd.NA] * len(prompts), dtype="Int64")
    table["format_ok"] = [
        check_safety_note(a, lang or text_language(r)).ok for a, r in zip(answers, references, strict=True)
    ]
    table["ROUGE-L"] = [round(s, 3) for s in rouge_l(answers, references, lang, per_answer=True)]
    table["repetition"] = [
        round(repetition_rate(a, lang=lang or text_language(r)), 3)
        for a, r in zip(answers, references, strict=True)
    ]
    return table
