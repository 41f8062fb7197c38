"""`python -m ftkit ...` is the `ftkit` command (`ftkit --help` lists its sub-commands)."""

from .infra.cli import main

raise SystemExit(main())
