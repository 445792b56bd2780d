"""What users run: the ``rag`` command line, the status the UI shows, and uploads into the corpus."""
