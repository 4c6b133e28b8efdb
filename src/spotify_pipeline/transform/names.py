"""Names as people type them, reduced to what compares: one normaliser for every name match.

Used where only names tie two records together: export records to warehouse plays
(``exports/matching.py``), a search answer to the track an export names (``spotify/search.py``),
and the read side's groupings by name.
"""

from __future__ import annotations

import re
import unicodedata

_FEAT = re.compile(
    r"[\(\[]\s*(feat\.?|ft\.?|featuring|with)\s[^\)\]]*[\)\]]|\s-\s(feat\.?|ft\.?|featuring)\s.*$", re.I
)
_FEAT_BARE = re.compile(r"\s(feat\.?|ft\.?|featuring)\s.*$", re.I)
_NOT_WORD = re.compile(r"[^\w]+")


def normalise_name(value: str | None) -> str:
    """Casefold, strip accents, drop "feat." parts and punctuation, collapse spaces.

    ``"Beyoncé - Drunk in Love (feat. JAY-Z)"`` -> ``"beyonce drunk in love"``.
    """
    if not value:
        return ""
    text = _FEAT.sub(" ", value)
    text = _FEAT_BARE.sub(" ", text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    return " ".join(_NOT_WORD.sub(" ", text).replace("_", " ").split())


def name_key(artist: str | None, track: str | None) -> tuple[str, str]:
    """The (artist, track) pair as matching compares it."""
    return normalise_name(artist), normalise_name(track)
