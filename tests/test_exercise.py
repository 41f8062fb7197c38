"""The shared answer machinery of the exercises: one printed line, a hint, never an exception."""

from ftkit.lessons.exercise import close_to, feedback, one_of, unanswered


def test_feedback_right_wrong_and_unanswered(capsys):
    assert feedback(True, right="depth 2 adds layer3", hint="count blocks", answer=2) is True
    assert capsys.readouterr().out.startswith("Right: depth 2")
    assert feedback(False, right="x", hint="count the blocks from the top", answer=3) is False
    assert capsys.readouterr().out.strip() == "Not yet: count the blocks from the top"
    assert feedback(False, right="x", hint="look at the table", answer=None) is False
    assert "No answer yet" in capsys.readouterr().out
    assert unanswered(...) and unanswered(None) and not unanswered(0)


def test_close_to_and_one_of():
    assert close_to(0.93, 0.94, rel=0.02) and not close_to(0.5, 0.94) and not close_to("abc", 1.0)
    assert close_to("12", 12) and close_to(0.0, 0.01, abs_tol=0.02)
    assert one_of("  Overfitting ", ["underfitting", "overfitting"]) == "overfitting"
    assert one_of("both", ["underfitting", "overfitting"]) is None and one_of(3, ["a"]) is None
