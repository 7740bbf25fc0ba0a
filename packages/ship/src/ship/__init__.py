"""Ship: the runtime inside every sandbox (python, shell, files)."""
