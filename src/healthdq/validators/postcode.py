"""UK postcode format, including GIR 0AA and the NHS ZZ99 pseudo-postcodes.

Format (BS 7666 / the government's published postcode pattern, as in the Cabinet Office
e-GIF BS7666 PostCodeType schema and Royal Mail's format notes):
- outward code A9, A99, AA9, AA99, A9A or AA9A, then an optional single space, then the inward
  code 9AA;
- first position: any letter but Q, V, X; second position (of AA.. codes): not I, J, Z;
- third position of A9A: only A B C D E F G H J K P S T U W (the 2010 e-GIF schema leaves out
  P; we keep it, as Royal Mail's list does, so old W1P-style codes are not failed);
- fourth position of AA9A: only A B E H M N P R V W X Y;
- inward unit letters never C I K M O V.
- GIR 0AA (Girobank) is the one historic exception.

NHS pseudo-postcodes (NHS Data Dictionary, POSTCODE OF USUAL ADDRESS; HES 'homeadd'): 'ZZ99'
then a digit, a letter and 'Z', e.g. ZZ99 3VZ no fixed abode, ZZ99 3WZ not known, ZZ99 3CZ
England/UK not otherwise stated, ZZ99 3GZ Wales, ZZ99 1WZ Scotland, ZZ99 2WZ Northern Ireland,
and ZZ99 <digit><letter>Z country codes for overseas residents (NHS Postcode Directory). They
break the letter rules above (Z second, C/V in the unit), so they get their own branch.

Accepted: any letter case, with exactly one space or none; lower case or a missing space is a
format finding of its own (postcode_format), not an invalid postcode. Not accepted: the
fixed-width 8-character HES form that pads the outward code with extra spaces (e.g.
'M1  1AE'), BFPO numbers and overseas territories' codes.
"""

from __future__ import annotations

import re
from typing import cast

from sqlglot import exp

from healthdq.validators._sql import full_match
from healthdq.validators.base import Validator, register

_OUTWARD = (
    "[A-PR-UWYZ]"  # not Q V X
    "(?:[0-9][0-9]?"  # A9, A99
    "|[A-HK-Y][0-9][0-9]?"  # AA9, AA99 (second letter not I J Z)
    "|[0-9][A-HJKPSTUW]"  # A9A
    "|[A-HK-Y][0-9][ABEHMNPRVWXY])"  # AA9A
)
_INWARD = "[0-9][ABD-HJLNP-UW-Z]{2}"  # unit letters never C I K M O V
PATTERN = f"GIR ?0AA|ZZ99 ?[0-9][A-Z]Z|{_OUTWARD} ?{_INWARD}"
_FORMAT = re.compile(PATTERN)


def postcode_is_valid(value: str) -> bool:
    """Pure-Python reference: the pattern, in any letter case."""
    return _FORMAT.fullmatch(value.upper()) is not None


def build(col: exp.Expression) -> exp.Expression:
    # Lower case is a format finding (postcode_format), not an invalid postcode.
    return full_match(exp.Upper(this=col.copy()), PATTERN)


def build_format(col: exp.Expression) -> exp.Expression:
    """Passes unless the value is a postcode written other than as published."""
    # Upper case with a space passes at once (nearly every row, no regex); anything else is a
    # finding only if it is a postcode at all (the postcode validator judges the rest).
    canonical_looking = exp.and_(
        exp.EQ(this=col.copy(), expression=exp.Upper(this=col.copy())),
        exp.Like(this=col.copy(), expression=exp.Literal.string("% %")),
    )
    return cast(
        exp.Expression,
        exp.Case().when(canonical_looking, exp.true()).else_(exp.Not(this=build(col))),
    )


VALIDATOR = register(
    Validator(
        name="postcode",
        description=(
            "UK postcode (any letter case, one optional space), GIR 0AA, or NHS "
            "pseudo-postcode ZZ99 <digit><letter>Z"
        ),
        source=(
            "BS 7666 postcode pattern (Cabinet Office e-GIF BS7666 v2.0 PostCodeType; Royal Mail "
            "postcode format rules); NHS Data Dictionary POSTCODE / POSTCODE OF USUAL ADDRESS "
            "and HES 'homeadd' for ZZ99 pseudo-postcodes"
        ),
        build=build,
    )
)

FORMAT_VALIDATOR = register(
    Validator(
        name="postcode_format",
        description="Postcode written as published: upper case, one space (format finding)",
        source="Royal Mail postcode format; BS 7666 PostCodeType (upper case, single space)",
        build=build_format,
        kind="finding",
    )
)
