"""The embedded local platform: a daemon with an HTTP control plane, SQLite state,
detached job supervisors, and (later) serving. ``client`` is how everything else talks to it."""
