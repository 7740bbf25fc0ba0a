"""`python -m bay`: the same as the `bay` command."""

from bay.cli import main

if __name__ == "__main__":
    main()
