"""A volunteer's units (issue 19): `units` one or more, `unit` the first, either accepted."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.events import VolunteerProfile
from schemas.vocabulary import Unit

BASE = {"volunteer_id": "v", "name": "n", "phone": "081234567890", "home_kelurahan_code": "35.71.03.1006"}


def test_unit_alone_units_alone_or_both() -> None:
    assert VolunteerProfile.model_validate({**BASE, "unit": "trc"}).units == [Unit.TRC]
    both = VolunteerProfile.model_validate({**BASE, "units": ["pbi_jkn", "psm", "pbi_jkn"]})
    assert (both.unit, both.units) == (Unit.PBI_JKN, [Unit.PBI_JKN, Unit.PSM])
    first = VolunteerProfile.model_validate({**BASE, "unit": "psm", "units": ["pbi_jkn", "psm"]})
    assert (first.unit, first.units) == (Unit.PSM, [Unit.PSM, Unit.PBI_JKN])  # `unit` is the first
    with pytest.raises(ValidationError, match="not one of units"):
        VolunteerProfile.model_validate({**BASE, "unit": "trc", "units": ["psm"]})
    with pytest.raises(ValidationError):
        VolunteerProfile.model_validate(BASE)  # no unit at all
    # the topic carries both, and an old record (unit only) reads back
    assert '"unit":"pbi_jkn","units":["pbi_jkn","psm"]' in both.model_dump_json()


@pytest.mark.parametrize("units", [[{}], [["tagana"]], "tagana", [1]])
def test_malformed_units_are_a_validation_error_not_a_crash(units: object) -> None:
    with pytest.raises(ValidationError):
        VolunteerProfile.model_validate({**BASE, "units": units})
    with pytest.raises(ValidationError):
        VolunteerProfile.model_validate({**BASE, "unit": {"x": 1}, "units": ["tagana"]})
