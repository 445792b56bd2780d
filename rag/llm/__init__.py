"""LLM backends behind one streaming interface; ``make_llm`` picks one by config string."""

from rag.llm.base import LLM, Message, TextStream, Usage
from rag.llm.factory import LLMChoice, make_llm

__all__ = ["LLM", "LLMChoice", "Message", "TextStream", "Usage", "make_llm"]
