"""The `docflow` command line."""
