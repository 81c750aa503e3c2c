"""The syllable inventory (hunspell-vi + loa/data/syllables-extra.txt)."""

from pathlib import Path

from loa.plan import syllables

PLANS = Path(__file__).resolve().parents[1] / "loa" / "data" / "plans"


def test_the_inventory_is_hunspell_vi_with_both_tone_placements():
    assert syllables.source() == "hunspell-vi"
    assert len(syllables.inventory()) > 6000
    for word in ("hòa", "hoà", "Thủy", "thuỷ", "người", "nghiêng", "sạc", "Zalo"):
        assert syllables.is_syllable(word), word
    for word in ("nhiệp", "truyên", "b", "tuyen", "nghanh"):
        assert not syllables.is_syllable(word), word


def test_variants_are_what_a_lost_mark_may_have_been():
    assert "phổ" in syllables.variants("phố")
    assert "phố" in syllables.variants("pho")
    assert "đường" in syllables.variants("duong")
    assert syllables.strip_marks("Đường") == "duong"
    assert syllables.variants("xyzq") == ()


def test_every_syllable_of_three_clean_plans_is_known():
    """The clean sample plans are the check: what is unknown in them is a typo or a letter."""
    for name in ("ba-vi-2026.txt", "hang-gon-2026.txt"):
        text = (PLANS / name).read_text(encoding="utf-8")
        unknown = {w.lower() for w in syllables.WORD.findall(text)
                   if len(w) > 1 and not w.isupper() and not syllables.is_syllable(w)}
        assert unknown <= {"infographic", "vneid", "ihanoi"}, unknown
