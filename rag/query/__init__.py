"""Stage 2, the question: validated, rewritten to stand alone (follow-ups), translated to English when
needed, then answered by retrieval with the k best paragraphs. Reads the index; never writes it."""
