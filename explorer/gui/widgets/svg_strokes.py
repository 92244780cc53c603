"""SVG that every renderer draws alike: hairlines moved out of their huge transforms.

Qt's SVG generator writes a plot's curve as its data points inside a group whose ``transform`` maps data to the
page (a scale of 3 000 000 for a learning rate, of 1/64 000 for iterations), and keeps the pen thin with
``vector-effect="non-scaling-stroke"``. Browsers honour that; rsvg-convert (SVG Tiny's rules aside), ImageMagick
and many editors do not, and drew thin curves and dotted lr lines five times too thick, a landscape as a solid
blob. Here each such shape's coordinates are mapped to the page and the shape put in a group of the same style
without the transform (the siblings before and after it keep theirs, in the same order), so its stroke is in
page units for every renderer. Pure XML: no Qt.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

SVG = "http://www.w3.org/2000/svg"
NON_SCALING = "non-scaling-stroke"
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
ET.register_namespace("", SVG)
ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")

Matrix = tuple[float, float, float, float, float, float]


def _matrix(text: str | None) -> Matrix:
    found = re.fullmatch(r"\s*matrix\(([^)]*)\)\s*", text or "")
    if not found:
        return (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    values = [float(v) for v in re.findall(_NUMBER, found.group(1))]
    return tuple(values) if len(values) == 6 else (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def _times(m: Matrix, n: Matrix) -> Matrix:
    a, b, c, d, e, f = m
    p, q, r, s, t, u = n
    return (a * p + c * q, b * p + d * q, a * r + c * s, b * r + d * s, a * t + c * u + e, b * t + d * u + f)


def _point(m: Matrix, x: float, y: float) -> str:
    a, b, c, d, e, f = m
    return f"{a * x + c * y + e:.3f},{b * x + d * y + f:.3f}"


def _pairs(text: str) -> list[tuple[float, float]]:
    numbers = [float(v) for v in re.findall(_NUMBER, text)]
    return list(zip(numbers[0::2], numbers[1::2]))


def _mapped_path(d: str, m: Matrix) -> str:
    """A path of absolute M, L, C, Q and Z commands (what Qt writes) with every point mapped by ``m``."""
    out = []
    for command, args in re.findall(r"([MLCQZmlcqz])([^MLCQZmlcqz]*)", d):
        if command.islower():
            raise ValueError("relative path commands")  # Qt writes none; leave such a path as it is
        out.append(command + " ".join(_point(m, x, y) for x, y in _pairs(args)))
    return " ".join(out)


def _as_page_shape(element: ET.Element, m: Matrix) -> ET.Element:
    """``element`` (path, polyline, polygon, line or rect) with its points in page units."""
    tag = element.tag.rpartition("}")[2]
    shape = ET.Element(element.tag, {k: v for k, v in element.attrib.items() if k not in ("vector-effect",
                                                                                          "transform")})
    m = _times(m, _matrix(element.get("transform")))
    if tag == "path":
        shape.set("d", _mapped_path(element.get("d", ""), m))
    elif tag in ("polyline", "polygon"):
        shape.set("points", " ".join(_point(m, x, y) for x, y in _pairs(element.get("points", ""))))
    elif tag == "line":
        ends = [_point(m, float(element.get(f"x{i}", 0)), float(element.get(f"y{i}", 0))) for i in (1, 2)]
        shape.tag = f"{{{SVG}}}polyline"
        for key in ("x1", "y1", "x2", "y2"):
            shape.attrib.pop(key, None)
        shape.set("points", " ".join(ends))
    elif tag == "rect":
        x, y = float(element.get("x", 0)), float(element.get("y", 0))
        w, h = float(element.get("width", 0)), float(element.get("height", 0))
        shape = ET.Element(f"{{{SVG}}}path", {k: v for k, v in shape.attrib.items()
                                               if k not in ("x", "y", "width", "height")})
        corners = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
        shape.set("d", "M" + " L".join(_point(m, *c) for c in corners) + " Z")
    else:
        raise ValueError(tag)
    return shape


def _split(group: ET.Element) -> list[ET.Element] | None:
    """The group as a run of groups in the same order: its hairline shapes each in a group of the same style
    without the transform, its other children in groups that keep it. None when it has no hairline shape."""
    if group.get("transform") is None or not any(child.get("vector-effect") == NON_SCALING for child in group):
        return None
    m = _matrix(group.get("transform"))
    style = {k: v for k, v in group.attrib.items() if k != "transform"}
    pieces: list[ET.Element] = []
    kept: ET.Element | None = None
    for child in list(group):
        try:
            shape = _as_page_shape(child, m) if child.get("vector-effect") == NON_SCALING else None
        except ValueError:
            shape = None
        if shape is None:
            if kept is None:
                kept = ET.Element(group.tag, dict(group.attrib))
                kept.text = group.text
                pieces.append(kept)
            kept.append(child)
            continue
        page = ET.Element(group.tag, style)
        page.text = group.text
        page.append(shape)
        pieces.append(page)
        kept = None
    for piece in pieces:
        piece.tail = group.tail
    return pieces


def _walk(parent: ET.Element) -> None:
    for index in range(len(parent) - 1, -1, -1):
        child = parent[index]
        if child.tag == f"{{{SVG}}}g":
            _walk(child)
            pieces = _split(child)
            if pieces is not None:
                parent[index:index + 1] = pieces


def flatten_hairlines(svg: bytes) -> bytes:
    """``svg`` with every non-scaling-stroke shape mapped out of its group's transform (see the module)."""
    root = ET.fromstring(svg)
    _walk(root)
    return b'<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n' + ET.tostring(root, encoding="utf-8",
                                                                                     xml_declaration=False)
