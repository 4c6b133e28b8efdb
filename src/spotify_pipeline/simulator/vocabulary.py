"""The simulated catalog's data tables: markets, genres, the words names are made of, labels.

Plain tuples, read by ``catalog.py`` while it generates; changing one changes every catalog.
"""

from __future__ import annotations

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
