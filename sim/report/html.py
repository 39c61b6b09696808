"""Building blocks of the self-contained HTML report (``cartsim report``): escaped text,
tables, numbers with their intervals, "–" with a reason for values that are not
estimable, and figures embedded as base64 PNG. No JavaScript, no external resources."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sim.io.parquet import METADATA_KEY
from sim.model.errors import InputError
from sim.outcomes.summary import DAYS_PER_MONTH

DASH = "–"  # en dash: a value that is not estimable or not given
#: keys under which a JSON object may explain why one of its values is null
REASON_KEYS = ("not_estimable", "reasons")

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:2em auto;max-width:72em;
padding:0 1.5em;color:#1a1a1a;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #ccc}
h3{font-size:1.05em;margin-top:1.3em}
p.lead{color:#444;margin-top:0}p.caption,figcaption{color:#333;font-size:.92em;max-width:60em}
table{border-collapse:collapse;margin:.6em 0 1em;font-size:.92em}
th,td{border-bottom:1px solid #ddd;padding:.25em .7em;text-align:right;vertical-align:top}
th{background:#f3f3f3;font-weight:600}
td.text,th.text{text-align:left}span.na{color:#777}span.why{color:#777;font-size:.85em;display:block}
table.prov td{text-align:left}table.prov td:first-child{color:#555;white-space:nowrap}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
code{font-size:.95em;background:#f6f6f6;padding:0 .2em}
"""


def esc(text: object) -> str:
    """Text as HTML (``<``, ``&``, quotes escaped)."""
    return html.escape(str(text), quote=True)


def reason(container: Mapping[str, Any] | None, key: str) -> str | None:
    """Why ``container[key]`` is null, if the JSON says: ``KEY_reason`` beside it, an entry
    of a ``not_estimable`` (or ``reasons``) object, a ``not_estimable`` string for the
    whole row, or the row's ``note``."""
    if not isinstance(container, Mapping):
        return None
    bare = key.removesuffix("_ci")
    for candidate in (container.get(f"{key}_reason"), container.get(f"{bare}_reason")):
        if isinstance(candidate, str):
            return candidate
    for name in REASON_KEYS:
        table = container.get(name)
        if isinstance(table, str):
            return table
        if isinstance(table, Mapping):
            for k in (key, bare):
                if isinstance(table.get(k), str):
                    return str(table[k])
    note = container.get("note")
    return note if isinstance(note, str) else None


def missing(why: str | None = None) -> str:
    """The dash shown for a value that is null, with its reason underneath."""
    return f'<span class="na">{DASH}</span>' + (f'<span class="why">{esc(why)}</span>' if why else "")


def number(x: Any, unit: str = "", why: str | None = None) -> str:
    """One value as HTML: percentages for probabilities, days (and months) for days;
    null as "–" with its reason."""
    if x is None:
        return missing(why)
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return esc(x)
    if unit in ("probability", "proportion"):
        return f"{100 * x:.1f}%"
    if unit == "days":
        return f"{x:,.0f} d ({x / DAYS_PER_MONTH:.1f} mo)"
    if unit == "count" or isinstance(x, int):
        return f"{x:,.0f}"
    return f"{x:.3g}"


def interval(lo: Any, hi: Any, unit: str = "", why: str | None = None, open_high: str = "") -> str:
    """``lo – hi`` (the same formatting as :func:`number`); both null: "–" with the reason.
    ``open_high``: the text for a null upper limit (e.g. "not reached")."""
    if lo is None and hi is None:
        return missing(why)
    low = number(lo, unit) if lo is not None else DASH
    high = number(hi, unit) if hi is not None else (esc(open_high) if open_high else DASH)
    return f"{low} to {high}"


def table(header: Iterable[str], rows: Iterable[Iterable[str]], cls: str = "", text_cols: int = 1) -> str:
    """An HTML table; header cells are escaped here, body cells must already be HTML.
    The first ``text_cols`` columns are text (left-aligned), the others numbers."""

    def cell(tag: str, k: int, content: str) -> str:
        return f'<{tag} class="text">{content}</{tag}>' if k < text_cols else f"<{tag}>{content}</{tag}>"

    head = "".join(cell("th", k, esc(h)) for k, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", k, c) for k, c in enumerate(row)) + "</tr>" for row in rows)
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def caption(text: str) -> str:
    return f'<p class="caption">{esc(text)}</p>'


def figure(path: Path, text: str) -> str:
    """A PNG embedded as base64 with its caption; "" when the file is absent."""
    if not path.is_file():
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img alt="{esc(path.name)}" src="data:image/png;base64,{data}">'
            f"<figcaption><b>{esc(path.name)}</b>: {esc(text)}</figcaption></figure>")


def provenance_table(items: Mapping[str, Any]) -> str:
    """Where the results came from: one row per item (null: "not recorded")."""
    rows = [[esc(k), (number(v) if isinstance(v, int) and not isinstance(v, bool) and k != "seed" else esc(v))
             if v is not None and v != "" else missing("not recorded")] for k, v in items.items()]
    return table(["provenance", ""], rows, "prov", text_cols=2)


def page(title: str, blocks: Iterable[tuple[str, str, list[str]]]) -> str:
    """The whole document (UTF-8, inline CSS, an empty favicon so that no request is
    made); each block is (heading, lead paragraph, sections of HTML)."""
    body = "".join(f'<h1>{esc(heading)}</h1><p class="lead">{esc(lead)}</p>{"".join(parts)}'
                   for heading, lead, parts in blocks)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<link rel=\"icon\" href=\"data:,\"><title>{esc(title)}</title><style>{CSS}</style></head>"
            f"<body>{body}</body></html>\n")


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object written by cartsim; a missing or malformed file is an InputError."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(str(path), "", "file not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(str(path), "", f"not valid JSON ({exc})", "a file written by cartsim") from None
    if not isinstance(doc, dict):
        raise InputError(str(path), "", "not a JSON object", "a file written by cartsim")
    return doc


def parquet_provenance(path: Path) -> dict[str, Any]:
    """The ``cartsim`` metadata of a Parquet file (its schema only: the rows are not read)."""
    if not path.is_file():
        return {}
    try:
        meta = pq.read_schema(path).metadata or {}
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(str(path), "", f"not a readable Parquet file ({exc})") from None
    raw = meta.get(METADATA_KEY)
    try:
        prov = json.loads(raw) if raw else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(str(path), "metadata.cartsim", "provenance metadata is not valid JSON") from None
    return prov if isinstance(prov, dict) else {}
