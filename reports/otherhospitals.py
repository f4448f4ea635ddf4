"""What a hospital reads of other hospitals in a hit about its own claim: that there was another
hospital, never which one. A rule about two stays (an overlapping stay, a transfer, a readmission after a
death elsewhere) names the other stay's claim, hospital code and hospital name in its message and facts;
in every view a hospital account reads (its case page, its findings, its feedback letter) they become
他院结算清单 and 他院, as the stays timeline already showed them. What makes the evidence (dates, grade,
diagnosis category) stays.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session

from drgaudit.casebook import queries

OTHER_HOSPITAL_CLAIM = "他院结算清单"
OTHER_HOSPITAL = "他院"


@dataclass(frozen=True)
class OtherHospitals:
    """The related claims settled by other hospitals than `hospital_id`, and those hospitals' codes and names."""

    hospital_id: str
    own_name: str
    claims: tuple[str, ...]  # longest first: an id that holds another is replaced before it
    codes: tuple[str, ...]
    names: tuple[str, ...]

    @classmethod
    def of(cls, *, session: Session, hospital_id: str, related: Iterable[str]) -> OtherHospitals:
        """What to hide from `hospital_id` of the `related` claims (a claim not stored counts as another's)."""
        related = sorted(set(related))
        known = queries.hospitals_of_claims(session=session, claim_ids=related)
        claims = [r for r in related if known.get(r) != hospital_id]
        wanted = sorted({h for h in known.values() if h != hospital_id} | {hospital_id})
        names = queries.hospital_names(session=session, hospital_ids=wanted)
        codes = [code for code in wanted if code != hospital_id]
        return cls(
            hospital_id=hospital_id,
            own_name=names.get(hospital_id, ""),
            claims=tuple(sorted(claims, key=len, reverse=True)),
            codes=tuple(sorted(codes, key=len, reverse=True)),
            names=tuple(sorted({names[c] for c in codes if names.get(c)}, key=len, reverse=True)),
        )

    def is_other(self, claim_id: str) -> bool:
        """Whether the claim is another hospital's (or not stored)."""
        return claim_id in self.claims

    def hide(self, text: str) -> str:
        """The text with other hospitals' claim ids, codes and names replaced."""
        if not (self.claims or self.codes) or not text:
            return text
        for claim_id in self.claims:
            text = text.replace(claim_id, OTHER_HOSPITAL_CLAIM)
        for code in self.codes:
            # A whole code only: H1 is not hidden inside H10 or the own hospital's H1A.
            text = re.sub(rf"(?<![0-9A-Za-z]){re.escape(code)}(?![0-9A-Za-z])", OTHER_HOSPITAL, text)
        if self.names:
            # One pass over every name, longest first at each place, the own name among them: the own
            # name is kept where it stands alone, and another's name that holds it is still replaced.
            names = sorted({*self.names, self.own_name} - {""}, key=len, reverse=True)
            pattern = re.compile("|".join(map(re.escape, names)))
            text = pattern.sub(lambda m: m.group(0) if m.group(0) == self.own_name else OTHER_HOSPITAL, text)
        return text
