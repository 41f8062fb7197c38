"""`python -m ftkit ...` is the `ftkit` command (doctor, samples, lessons, refresh, warmup, serve)."""

from .infra.cli import main

raise SystemExit(main())
