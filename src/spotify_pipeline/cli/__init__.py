"""The command-line face: parses input, builds Settings, calls jobs, prints. No logic of its own."""
