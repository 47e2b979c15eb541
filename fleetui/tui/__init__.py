"""The console. The only package that imports Textual."""
