"""The sector a recording client's record is filed in."""

from __future__ import annotations

import pytest

from service.access.permissions import NotPermitted, RecordingPermit

ROAD_AND_TAXI = RecordingPermit(frozenset({"A"}), frozenset({"road_transport", "taxi"}))


def test_a_sector_named_must_be_granted():
    assert ROAD_AND_TAXI.sector_for("taxi", ["road_transport"]) == "taxi"  # the domain checks
    with pytest.raises(NotPermitted, match="waterway_transport"):
        ROAD_AND_TAXI.sector_for("waterway_transport", ["waterway_transport"])


@pytest.mark.parametrize(
    ("subject_sectors", "filed"),
    [
        (["road_transport", "waterway_transport"], "road_transport"),  # one shared
        (["road_transport", "taxi"], None),  # two shared: no guess
        (["waterway_transport"], None),  # none shared
    ],
)
def test_a_record_naming_no_sector_is_filed_in_the_one_shared(subject_sectors, filed):
    assert ROAD_AND_TAXI.sector_for(None, subject_sectors) == filed
