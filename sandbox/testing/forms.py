"""Just enough HTML form parsing to submit the consent and login pages like a browser."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Form:
    id: str | None
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: dict[str, list[str]] = field(default_factory=dict)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.ids: set[str] = set()
        self._current: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if "id" in attributes:
            self.ids.add(attributes["id"])
        if tag == "form":
            self._current = Form(
                id=attributes.get("id"),
                action=attributes.get("action", ""),
                method=attributes.get("method", "get").lower(),
            )
            self.forms.append(self._current)
        elif self._current is not None and "name" in attributes:
            if tag == "input" and attributes.get("type", "text") not in {"submit", "button", "checkbox"}:
                self._current.fields[attributes["name"]] = attributes.get("value", "")
            elif tag == "button" or (tag == "input" and attributes.get("type") == "submit"):
                self._current.buttons.setdefault(attributes["name"], []).append(attributes.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


@dataclass
class Page:
    forms: list[Form]
    ids: set[str]
    text: str

    def form(self, form_id: str | None = None) -> Form | None:
        for form in self.forms:
            if form_id is None or form.id == form_id:
                return form
        return None


def parse_page(html: str) -> Page:
    parser = _FormParser()
    parser.feed(html)
    return Page(forms=parser.forms, ids=parser.ids, text=html)
