"""The Gradio chat over the reports (built on rag.Pipeline; see the UI issue)."""
