"""Registry rules on tag lists (pure), no git needed."""

from datetime import UTC, datetime, timedelta

import pytest

from ratchet.core.errors import RatchetError
from ratchet.registry import events
from ratchet.registry.events import RawTag

T0 = datetime(2026, 1, 1, tzinfo=UTC)
STAGES = ["dev", "staging", "prod"]


def tags(*spec: tuple[str, str] | tuple[str, str, str]) -> list[events.Event]:
    """Events from (tag, commit[, message]) in creation order, a minute apart."""
    raw = [
        RawTag(name, commit, T0 + timedelta(minutes=i), message)
        for i, (name, commit, message) in enumerate((*s, "")[:3] for s in spec)
    ]
    return events.events(raw, "churn-model")


BASE = (
    ("churn-model@v1.0.0", "c1"),
    ("churn-model@v1.1.0", "c2"),
    ("other-model@v9.0.0", "c9"),
    ("release-2026", "c2"),
)


def test_versions_and_latest_ignore_other_artifacts_and_tags():
    evts = tags(*BASE)
    assert list(events.versions(evts)) == ["v1.0.0", "v1.1.0"]
    assert events.latest(evts) == "v1.1.0"


def test_stage_holder_is_the_latest_assignment_by_counter():
    evts = tags(
        *BASE,
        ("churn-model#prod#3", "c2"),
        ("churn-model#prod#2", "c1"),  # created later, but an earlier decision
    )
    assert events.holder(evts, "prod") == "v1.1.0"
    assert events.holder(evts, "staging") is None


def test_unassignment_empties_the_stage():
    evts = tags(*BASE, ("churn-model#prod#1", "c1"), ("churn-model#prod!#2", "c1"))
    assert events.holder(evts, "prod") is None


def test_deregistered_version_is_gone_and_its_number_is_not_reused():
    evts = tags(*BASE, ("churn-model@v1.1.0!", "c2"))
    assert list(events.versions(evts)) == ["v1.0.0"]
    assert events.next_version(evts, "minor", None) == "v1.2.0"


@pytest.mark.parametrize(
    ("bump", "expected"), [("major", "v2.0.0"), ("minor", "v1.2.0"), ("patch", "v1.1.1")]
)
def test_bumps(bump, expected):
    assert events.next_version(tags(*BASE), bump, None) == expected


def test_first_version_and_explicit_versions():
    assert events.next_version([], "minor", None) == "v1.0.0"
    evts = tags(*BASE)
    assert events.next_version(evts, None, "v3.0.0") == "v3.0.0"
    with pytest.raises(RatchetError, match="already exists"):
        events.next_version(evts, None, "v1.1.0")
    with pytest.raises(RatchetError, match="not above the newest"):
        events.next_version(evts, None, "v1.0.5")
    with pytest.raises(RatchetError, match=r"expected vMAJOR\.MINOR\.PATCH"):
        events.next_version(evts, None, "1.2")


def test_promotion_cannot_skip_a_stage():
    evts = tags(*BASE, ("churn-model#dev#1", "c2"))
    with pytest.raises(RatchetError, match="can't jump straight to prod"):
        events.check_promotion(evts, "v1.1.0", "prod", STAGES)
    events.check_promotion(evts, "v1.1.0", "staging", STAGES)
    with pytest.raises(RatchetError, match="never in dev"):
        events.check_promotion(evts, "v1.0.0", "staging", STAGES)
    with pytest.raises(RatchetError, match="already in dev"):
        events.check_promotion(evts, "v1.1.0", "dev", STAGES)
    with pytest.raises(RatchetError, match="unknown stage 'qa'"):
        events.check_promotion(evts, "v1.1.0", "qa", STAGES)
    with pytest.raises(RatchetError, match="not registered"):
        events.check_promotion(evts, "v7.0.0", "dev", STAGES)


def test_rollback_goes_to_the_version_held_before():
    evts = tags(*BASE, ("churn-model#prod#1", "c1"), ("churn-model#prod#2", "c2"))
    assert events.rollback_target(evts, "prod") == ("v1.1.0", "v1.0.0")
    after = tags(
        *BASE,
        ("churn-model#prod#1", "c1"),
        ("churn-model#prod#2", "c2"),
        ("churn-model#prod#3", "c1"),
    )
    assert events.holder(after, "prod") == "v1.0.0"
    with pytest.raises(RatchetError, match="holds no version"):
        events.rollback_target(evts, "staging")
    only = tags(*BASE, ("churn-model#prod#1", "c1"))
    with pytest.raises(RatchetError, match="never held another version"):
        events.rollback_target(only, "prod")


def rolled_back(n: int, commit: str, stage: str, current: str, target: str) -> tuple:
    return (f"churn-model#{stage}#{n}", commit, events.rollback_message(stage, current, target))


THREE = (*BASE, ("churn-model@v1.2.0", "c3"))


def test_rollback_never_returns_to_a_version_rolled_back_from():
    evts = tags(
        *THREE,
        ("churn-model#prod#1", "c1"),
        ("churn-model#prod#2", "c2"),
        ("churn-model#prod#3", "c3"),
        rolled_back(4, "c2", "prod", "v1.2.0", "v1.1.0"),
    )
    assert events.is_rollback(evts[-1]) and not events.is_rollback(evts[-2])
    assert events.rollback_target(evts, "prod") == ("v1.1.0", "v1.0.0")
    evts = tags(
        *THREE,
        ("churn-model#prod#1", "c1"),
        ("churn-model#prod#2", "c2"),
        ("churn-model#prod#3", "c3"),
        rolled_back(4, "c2", "prod", "v1.2.0", "v1.1.0"),
        rolled_back(5, "c1", "prod", "v1.1.0", "v1.0.0"),
    )
    with pytest.raises(RatchetError) as refused:
        events.rollback_target(evts, "prod")
    assert str(refused.value) == (
        "stage 'prod': no version to roll back to from v1.0.0 (v1.1.0 was rolled back from by "
        "churn-model#prod#5; v1.2.0 was rolled back from by churn-model#prod#4); a version "
        "that left prod returns only through `ratchet model promote`"
    )


def test_promotion_clears_a_rollback_and_unassigned_or_deregistered_versions_are_skipped():
    evts = tags(
        *THREE,
        ("churn-model#prod#1", "c1"),
        ("churn-model#prod#2", "c2"),
        rolled_back(3, "c1", "prod", "v1.1.0", "v1.0.0"),
        ("churn-model#prod#4", "c2", "Promote v1.1.0 to prod"),  # deliberately back
        ("churn-model#prod#5", "c3"),
    )
    assert events.rollback_target(evts, "prod") == ("v1.2.0", "v1.1.0")
    unassigned = (
        ("churn-model#prod#1", "c1"),
        ("churn-model#prod#2", "c2"),
        ("churn-model#prod!#3", "c2"),
        ("churn-model#prod#4", "c3"),
    )
    assert events.rollback_target(tags(*THREE, *unassigned), "prod") == ("v1.2.0", "v1.0.0")
    gone = tags(*THREE, *unassigned, ("churn-model@v1.0.0!", "c1"))
    with pytest.raises(
        RatchetError,
        match=r"\(v1\.1\.0 was unassigned by churn-model#prod!#3; v1\.0\.0 is deregistered\)",
    ):
        events.rollback_target(gone, "prod")


def test_a_rollback_message_marks_only_the_assignment_it_describes():
    evts = tags(
        *BASE,
        ("churn-model#prod#1", "c1", "Roll back staging from v1.1.0 to v1.0.0"),
        ("churn-model#prod#2", "c2", "Roll back prod from v1.0.0 to v1.0.0"),
        ("churn-model#prod!#3", "c2", "Roll back prod from v1.1.0 to v1.1.0"),
    )
    assert not any(events.is_rollback(e) for e in evts)


def test_promotion_needs_the_version_in_the_previous_stage_now():
    evts = tags(
        *THREE,
        ("churn-model#dev#1", "c1"),
        ("churn-model#staging#2", "c1"),
        ("churn-model#staging!#3", "c1"),
    )
    with pytest.raises(RatchetError, match=r"no longer in staging \(unassigned by .*#staging!#3\)"):
        events.check_promotion(evts, "v1.0.0", "prod", STAGES)
    evts = tags(
        *THREE,
        ("churn-model#dev#1", "c1"),
        ("churn-model#staging#2", "c1"),
        ("churn-model#dev#3", "c2"),
        ("churn-model#staging#4", "c2"),
    )
    with pytest.raises(RatchetError, match=r"\(replaced by v1\.1\.0, churn-model#staging#4\)"):
        events.check_promotion(evts, "v1.0.0", "prod", STAGES)
    events.check_promotion(evts, "v1.1.0", "prod", STAGES)
