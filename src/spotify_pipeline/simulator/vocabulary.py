"""The simulated catalog's data tables (markets, genres, the words names are made of, labels) and
the names made of them.

Read by ``catalog.py`` while it generates, drawing from its ``random.Random``: changing a table or
the order of draws changes every catalog.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

# ISO 3166-1 alpha-2 markets, as in the recorded fixtures' available_markets (a subset of the ~185
# real ones is enough: the pipeline only stores the list).
MARKETS: tuple[str, ...] = (
    "AD", "AR", "AT", "AU", "BE", "BG", "BO", "BR", "CA", "CH", "CL", "CO", "CR", "CY", "CZ", "DE",
    "DK", "DO", "EC", "EE", "ES", "FI", "FR", "GB", "GR", "GT", "HK", "HN", "HU", "ID", "IE", "IL",
    "IN", "IS", "IT", "JP", "LI", "LT", "LU", "LV", "MC", "MT", "MX", "MY", "NI", "NL", "NO", "NZ",
    "PA", "PE", "PH", "PL", "PT", "PY", "SE", "SG", "SK", "SV", "TR", "TW", "US", "UY", "ZA",
)  # fmt: skip

GENRES: tuple[str, ...] = (
    "indie rock", "indie pop", "dream pop", "shoegaze", "post-punk", "synthpop", "electropop",
    "alternative rock", "art rock", "garage rock", "britpop", "folk", "indie folk", "singer-songwriter",
    "chamber pop", "hip hop", "conscious hip hop", "trap", "r&b", "neo soul", "soul", "funk", "disco",
    "house", "deep house", "techno", "drum and bass", "ambient", "downtempo", "trip hop", "jazz",
    "jazz fusion", "bossa nova", "classical", "modern classical", "metal", "post-rock", "emo",
    "pop punk", "country", "americana", "k-pop", "latin pop", "reggaeton", "afrobeats", "dancehall",
)  # fmt: skip

ADJ = (
    "Golden", "Silent", "Electric", "Broken", "Velvet", "Neon", "Hollow", "Wild", "Paper", "Crystal",
    "Midnight", "Lonely", "Bright", "Cold", "Burning", "Quiet", "Distant", "Sweet", "Savage", "Gentle",
    "Northern", "Crimson", "Lucky", "Strange", "Faded", "Endless", "Little", "Secret", "Blue", "Glass",
)  # fmt: skip
NOUN = (
    "Heart", "River", "Summer", "Window", "Ocean", "Shadow", "Garden", "Mirror", "Highway", "Fire",
    "Dream", "Echo", "Island", "Letter", "Moon", "Storm", "Honey", "Signal", "Harbor", "Ghost",
    "Sky", "Stone", "Wave", "Light", "Morning", "City", "Rain", "Satellite", "Machine", "Parade",
)  # fmt: skip
PLURAL = (
    "Wolves", "Lovers", "Strangers", "Kings", "Sisters", "Machines", "Tigers", "Saints", "Pilots",
    "Foxes", "Ghosts", "Horses", "Rivers", "Comets", "Doves", "Giants", "Bandits", "Echoes",
)  # fmt: skip
FIRST = (
    "Mara", "Jonah", "Lena", "Theo", "Ada", "Felix", "Nina", "Oscar", "Iris", "Milo", "Zoe", "Elias",
    "Clara", "Hugo", "Yara", "Leon", "Maya", "Noah", "Ines", "Arlo", "Sofia", "Ravi", "Kaito", "Amara",
)  # fmt: skip
LAST = (
    "Vale", "Hart", "Moreno", "Lindqvist", "Okafor", "Brooks", "Tanaka", "Keller", "Rivers", "Novak",
    "Sato", "Quinn", "Delacroix", "Fischer", "Mendes", "Holm", "Adeyemi", "Park", "Costa", "Reyes",
)  # fmt: skip
VERB = ("Running", "Falling", "Waiting", "Dancing", "Drifting", "Coming", "Holding", "Calling", "Burning")
PREP = ("to", "from", "through", "under", "over", "into", "after", "without")
LABELS: tuple[tuple[str, str, str], ...] = (
    # (label, ISRC country, ISRC registrant code)
    ("Northbound Records", "GB", "NBR"),
    ("Paper Lantern Music", "US", "PLM"),
    ("Kaleidoscope Sound", "DE", "KSD"),
    ("Harbor Lights Recordings", "SE", "HLR"),
    ("Blue Static", "US", "BST"),
    ("Moth & Flame", "GB", "MFL"),
    ("Copperline", "NL", "CPL"),
    ("Sunday Tapes", "FR", "SUT"),
    ("Glasshouse Audio", "AU", "GHA"),
    ("Independent", "US", "IND"),
)
SHOW_TOPICS = ("History", "Science", "Crime", "Design", "Football", "Money", "Cooking", "Film", "Tech")
SHOW_FORMS = ("Hour", "Weekly", "Podcast", "Show", "Talk", "Files", "Club", "Diaries")


def _unique_name(make: Sequence[str], taken: set[str]) -> str:
    for name in make:
        if name not in taken:
            taken.add(name)
            return name
    raise AssertionError("unreachable: the last candidate is always unique")


def artist_name(rng: random.Random, i: int, taken: set[str]) -> str:
    """A new artist name (never one in ``taken``, which it joins); ``i`` makes the last resort unique."""
    candidates = []
    for _ in range(6):
        style = rng.random()
        if style < 0.35:
            candidates.append(f"{rng.choice(FIRST)} {rng.choice(LAST)}")
        elif style < 0.6:
            candidates.append(f"The {rng.choice(ADJ)} {rng.choice(PLURAL)}")
        elif style < 0.8:
            candidates.append(f"{rng.choice(ADJ)} {rng.choice(NOUN)}")
        else:
            candidates.append(f"{rng.choice(NOUN)}{rng.choice(('', 's', ' Club', ' Society', ' Union'))}")
    candidates.append(f"{rng.choice(ADJ)} {rng.choice(NOUN)} {i}")
    return _unique_name(candidates, taken)


def title(rng: random.Random) -> str:
    """A track, album or single title."""
    style = rng.random()
    if style < 0.3:
        return f"{rng.choice(ADJ)} {rng.choice(NOUN)}"
    if style < 0.5:
        return f"{rng.choice(VERB)} {rng.choice(PREP)} the {rng.choice(NOUN)}"
    if style < 0.7:
        return rng.choice(NOUN) + rng.choice(("", "s", " Song", " Again"))
    if style < 0.85:
        return f"{rng.choice(NOUN)} of {rng.choice(NOUN)}s"
    return f"{rng.choice(ADJ)} {rng.choice(NOUN)} ({rng.choice(('Live', 'Acoustic', 'Demo', 'Reprise'))})"
