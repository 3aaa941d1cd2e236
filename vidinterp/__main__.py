"""`python -m vidinterp` runs the command-line interface."""

from vidinterp.cli import main

if __name__ == "__main__":
    main()
