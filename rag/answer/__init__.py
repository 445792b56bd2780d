"""Stage 3, the answer: the prompt over numbered sources, then the model's text parsed into claims whose
``[n]`` markers are checked against their sources, and a refusal when the evidence does not cover the question."""
