"""One TLP 2.0 type: its order, what is confidential, and the handling-marking spelling."""

from __future__ import annotations

from prereview.core.markings import CONFIDENTIAL, TLP, Tlp, loosens


def test_labels_are_ordered_from_the_loosest_to_the_strictest() -> None:
    assert [label.rank for label in Tlp] == [0, 1, 2, 3, 4]
    assert loosens("CLEAR", "AMBER+STRICT")
    assert not loosens("RED", "AMBER")
    assert not loosens("AMBER", "AMBER")


def test_amber_and_stricter_are_confidential() -> None:
    assert CONFIDENTIAL == (Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED)
    assert not Tlp.GREEN.confidential


def test_each_label_is_the_same_as_its_handling_marking() -> None:
    for label, marking in zip(Tlp, TLP, strict=True):
        assert label.marking is marking
        assert Tlp.of_marking(marking) is label
