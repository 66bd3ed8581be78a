"""The console: docflow watched and steered from a browser (docflow serve's /console, docflow console)."""
