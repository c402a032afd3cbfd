"""The `hindsight` sub-commands. `app/cli.py` parses the arguments; each module here does the
work of one command family and returns the process exit status."""
