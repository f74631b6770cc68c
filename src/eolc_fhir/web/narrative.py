"""A section narrative (generated XHTML) read back into plain text runs, bold or not.

The $wishes narratives are XHTML the server wrote from escaped text. The page
does not paste them in as markup: it reads their text and emphasis back out
and lets the template engine escape it again, so no markup from a record can
reach the page whatever the narrative holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

__all__ = ["Run", "Paragraph", "paragraphs_of"]

_STRONG = {"b", "strong"}


@dataclass(frozen=True)
class Run:
    text: str
    strong: bool


Paragraph = tuple[Run, ...]


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[list[Run]] = []
        self.depth = 0  # inside how many <b>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "p":
            self.paragraphs.append([])
        elif tag in _STRONG:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _STRONG:
            self.depth = max(0, self.depth - 1)

    def handle_data(self, data: str) -> None:
        if not data:
            return
        if not self.paragraphs:
            self.paragraphs.append([])
        runs = self.paragraphs[-1]
        strong = self.depth > 0
        if runs and runs[-1].strong == strong:
            runs[-1] = Run(runs[-1].text + data, strong)
        else:
            runs.append(Run(data, strong))


def paragraphs_of(div: str) -> list[Paragraph]:
    """The paragraphs of an XHTML narrative as text runs (tags other than p and b dropped)."""
    reader = _Reader()
    reader.feed(div)
    reader.close()
    return [tuple(p) for p in reader.paragraphs if any(r.text.strip() for r in p)]
