"""spotify_pipeline: a complete, self-hosted record of what you listen to on Spotify."""

__version__ = "0.1.0"
