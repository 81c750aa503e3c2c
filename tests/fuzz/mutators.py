"""Mutators: each takes a seeded random.Random and the seed bytes, returns new bytes.

YAML ones work on lines, so comments, line numbers and the spots they touch stay readable
in a reproducer; byte ones break encodings and structure; DOCX/PDF ones break the container,
the XML, the numbering, or inflate.
"""

from __future__ import annotations

import io
import random
import re
import zipfile
import zlib

KV = re.compile(r"^(\s*(?:- )?)([A-Za-z_][\w-]*):(\s+)(\S.*)?$")
TOP = re.compile(r"^[A-Za-z_][\w-]*:(\s|$)")  # a top-level key, with or without a value

LONG = "x" * 100_000
VALUES = {
    "types": ["123", "-1", "0", "1e308", "-1e308", "99999999999999999999999", "[]", "{}",
              "[a, b]", "{a: 1}", '""', "~", "null", "true", "yes", "no", "0x1F", "0o17",
              "1_000", "3.5"],
    "nan": [".nan", ".inf", "-.inf", ".NaN"],
    "negative": ["-1", "-0.5", "-99999", "0"],
    "long": [LONG, "Đài " * 20_000, "[" + ", ".join(["a"] * 50_000) + "]"],
    "unicode": ["\u202eđảo ngược", "a\u200bb", "🔊📢", "Ｔ２", "e\u0301\u0301\u0301", "\ufeffx",
                "\ud7ff", "ǅ", "\u2028x"],
    "control": ['"a\\x07b"', "a\x07b", "a\x1b[31mb", '"\\x00"', "a\x00b", "a\x0bb", '"a\\u0085b"'],
    "tags": ["!!int abc", "!!bool maybe", "!!map [1]", "!!seq {a: 1}", "!!float x",
             "!!python/object/apply:os.system ['touch /tmp/loa-fuzz-pwned']",
             "!!python/name:os.system", "!!binary AAA", "!!timestamp 2026-13-45",
             "!<tag:yaml.org,2002:int> x", "!custom x", "!!str", "!!null x", "!!set {a}"],
    "times": ["17:00", "25:61", "6:30", "24:00", "-1:00", '"17:00:99"', '"6h30"', "1020",
              '"21:00-05:30"', '"05:30-21:00"', '"00:00-00:00"', '"21:00"'],
    "days": ["T6-T2", "T2-T8", "CN-T2", "T2-T2", "[T9]", "[]", "Thứ Hai", "[T2, T2]", "T2-",
             "-", "[CN-T7]"],
    "dates": ["2026-02-30", "2026-13-01", "0000-01-01", "9999-12-31", "2026-04-01T25:00",
              '"01/04/2026"', "1", "2026-12-31"],
    "paths": ["../../etc/passwd", "/etc/passwd", "/", ".", "/dev/zero", "/dev/null",
              "/proc/self/mem", "bulletins", "nonexistent.yaml", "x" * 5000 + ".yaml",
              "ba-vi.yaml", "~/x.yaml", "bulletins/../../../../../../etc/shadow", '"a\\x00b.yaml"'],
    "syntax": ["*undefined", "&a x", '"unterminated', "'a''", "{", "[", "}", "- - -", ":",
               "? x", "|", ">", "@x", "`x", "%x", "a: b: c", "[a, {b]", "'", "#", "&", "*"],
}
KEY_POOLS = {
    "time": ["times"], "quiet_hours": ["times"], "days": ["days"],
    "max_session_minutes": ["nan", "negative", "types"], "speed": ["nan", "negative"],
    "volume": ["nan", "negative", "types"], "per_session": ["negative", "nan", "types"],
    "priority": ["negative", "nan", "types"], "chars_per_second": ["nan", "negative"],
    "max_minutes": ["nan", "negative"], "duration": ["times", "negative", "nan"],
    "from": ["dates"], "until": ["dates"], "approved_at": ["dates"], "year": ["negative", "dates"],
    "bulletins": ["paths"], "lexicon": ["paths"], "source": ["paths"], "template": ["paths"],
    "engines": ["types"], "zones": ["types"], "sessions": ["types"], "device": ["paths", "types"],
    "status": ["types"], "voice": ["types", "unicode"], "id": ["unicode", "control", "types"],
}
TEMPLATE_VALUES = ["{", "}", "{station.__class__.__mro__}", "{station!r:>99999999}", "{0}",
                   "{unknown}", "{station:{station}}", "{{", "%s %d", "{topic.__init__.__globals__}",
                   "{station[0]}", "{issuer.upper}", "{part:>1000000000}", "{parts!s:99999999999}",
                   "{station.__doc__}"]


def _lines(data: bytes) -> list[str]:
    return data.decode("utf-8", "surrogateescape").split("\n")


def _join(lines: list[str]) -> bytes:
    return "\n".join(lines).encode("utf-8", "surrogateescape")


def _kv_lines(lines: list[str], key: str | None = None) -> list[int]:
    out = []
    for i, line in enumerate(lines):
        m = KV.match(line)
        if m and (key is None or m.group(2) == key):
            out.append(i)
    return out


def _set_value(lines: list[str], i: int, value: str) -> None:
    """Replace the value on line i; a block scalar (`>-`, `|`) goes with its lines."""
    m = KV.match(lines[i])
    if (m.group(4) or "")[:1] in (">", "|"):
        indent = len(lines[i]) - len(lines[i].lstrip()) + (2 if m.group(1).strip() else 0)
        while i + 1 < len(lines) and lines[i + 1].strip() and \
                len(lines[i + 1]) - len(lines[i + 1].lstrip()) > indent:
            del lines[i + 1]
    lines[i] = f"{m.group(1)}{m.group(2)}: {value}"


# --- YAML-aware ---------------------------------------------------------------------------

def yaml_value(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """Replace one value: by the key's kind half the time, else from any pool."""
    lines = _lines(data)
    idx = _kv_lines(lines)
    i = rng.choice(idx)
    key = KV.match(lines[i]).group(2)
    pools = KEY_POOLS.get(key) if rng.random() < 0.6 else None
    pool = rng.choice(pools or list(VALUES))
    _set_value(lines, i, rng.choice(VALUES[pool]))
    return _join(lines), f"value:{key}:{pool}"


def yaml_key_value(key: str, value: str, last: bool = False):
    """A targeted change: `key: value` on one line holding the key (the last such line when
    `last`: in the seed schedule that is the 17:00 session)."""
    def mutate(rng: random.Random, data: bytes) -> tuple[bytes, str]:
        lines = _lines(data)
        idx = _kv_lines(lines, key)
        if not idx:
            return yaml_value(rng, data)
        _set_value(lines, idx[-1] if last else rng.choice(idx), value)
        return _join(lines), f"set:{key}={value}"
    mutate.__name__ = f"set_{key}"
    return mutate


def yaml_structure(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """Delete, duplicate or swap lines/blocks, rename a key, shift indentation."""
    lines = _lines(data)
    idx = _kv_lines(lines)
    op = rng.choice(["delete", "duplicate", "swap", "rename", "indent", "dup_block",
                     "delete_block", "tabs"])
    i = rng.choice(idx)
    if op == "delete":
        del lines[i]
    elif op == "duplicate":
        lines.insert(i + 1, lines[i])
    elif op == "swap":
        j = rng.choice(idx)
        lines[i], lines[j] = lines[j], lines[i]
    elif op == "rename":
        m = KV.match(lines[i])
        key = m.group(2)
        new = rng.choice([key[:-1], key + "s", key.upper(), "", "123", "<<", "?", key + " x"])
        lines[i] = f"{m.group(1)}{new}:{m.group(3)}{m.group(4) or ''}"
    elif op == "indent":
        lines[i] = rng.choice([" ", "   ", "  " * 3]) + lines[i] if rng.random() < 0.6 \
            else lines[i].lstrip()
    elif op == "tabs":
        lines[i] = "\t" + lines[i].lstrip()
    else:  # a list item with everything indented under it
        starts = [k for k, line in enumerate(lines) if line.lstrip().startswith("- ")]
        if not starts:
            return yaml_value(rng, data)
        s = rng.choice(starts)
        ind = len(lines[s]) - len(lines[s].lstrip())
        e = s + 1
        while e < len(lines) and lines[e].strip() and (len(lines[e]) - len(lines[e].lstrip()) > ind):
            e += 1
        block = lines[s:e]
        if op == "dup_block":
            lines[e:e] = block * rng.choice([1, 1, 2, 50])
        else:
            del lines[s:e]
    return _join(lines), f"structure:{op}"


def yaml_bomb(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """Billion laughs: nine levels of nine aliases, one value pointing at the top."""
    lines = _lines(data)
    depth = rng.choice([6, 8, 9])
    bomb = ["x-bomb:", '  - &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for k in range(1, depth + 1):
        bomb.append(f"  - &a{k} [" + ",".join([f"*a{k - 1}"] * 9) + "]")
    first = next(k for k, line in enumerate(lines) if TOP.match(line))
    lines[first:first] = bomb
    idx = [k for k in _kv_lines(lines) if k > first + len(bomb)]
    _set_value(lines, rng.choice(idx), f"*a{depth}")
    return _join(lines), f"alias_bomb:{depth}"


def yaml_nesting(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    lines = _lines(data)
    n = rng.choice([100, 900, 5000])
    value = rng.choice(["[" * n + "]" * n, "{a: " * n + "1" + "}" * n])
    _set_value(lines, rng.choice(_kv_lines(lines)), value)
    return _join(lines), f"nesting:{n}"


def yaml_document(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """Whole-document oddities: empty, a scalar, a list, more documents, a merge key."""
    op = rng.choice(["empty", "comment", "null", "scalar", "list", "multi", "merge", "directive",
                     "huge"])
    if op == "empty":
        return b"", "document:empty"
    if op == "comment":
        return b"# chi co ghi chu\n", "document:comment"
    if op == "null":
        return b"~\n", "document:null"
    if op == "scalar":
        return b"17:00\n", "document:scalar"
    if op == "list":
        return b"- " + data.replace(b"\n", b"\n  "), "document:list"
    if op == "multi":
        return data + b"\n---\n" + data, "document:multi"
    if op == "merge":
        return b"base: &b {x: 1}\n" + data + b"\n<<: *b\n", "document:merge"
    if op == "directive":
        return b"%YAML 9.9\n%TAG ! tag:evil,2000:\n---\n" + data, "document:directive"
    return data + b"\n# " + b"pad " * 2_000_000 + b"\n", "document:huge_8MB"


def byte_level(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """Flip bytes, truncate, splice, or break the encoding."""
    op = rng.choice(["flip", "truncate", "splice", "nul", "invalid_utf8", "bom", "utf16", "crlf",
                     "cr", "latin1"])
    b = bytearray(data)
    if op == "flip" and b:
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    elif op == "truncate":
        b = b[: rng.randrange(len(b) + 1)]
    elif op == "splice" and b:
        i, j = sorted(rng.randrange(len(b)) for _ in range(2))
        k = rng.randrange(len(b))
        b[k:k] = b[i:j]
    elif op == "nul":
        k = rng.randrange(len(b) + 1)
        b[k:k] = b"\x00"
    elif op == "invalid_utf8":
        k = rng.randrange(len(b) + 1)
        b[k:k] = rng.choice([b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\x80"])
    elif op == "bom":
        b = bytearray(b"\xef\xbb\xbf" + data)
    elif op == "utf16":
        b = bytearray(data.decode("utf-8", "replace").encode("utf-16"))
    elif op == "crlf":
        b = bytearray(data.replace(b"\n", b"\r\n"))
    elif op == "cr":
        b = bytearray(data.replace(b"\n", b"\r"))
    else:
        b = bytearray(data.decode("utf-8", "replace").encode("cp1258", "replace"))
    return bytes(b), f"bytes:{op}"


# --- schedules and bulletins ---------------------------------------------------------------

SEMANTIC = [
    # (mutator, oracle): oracle names what a correct loa must do with the change
    (yaml_key_value("max_session_minutes", ".nan"), "reject"),
    (yaml_key_value("max_session_minutes", "-5"), "reject"),
    (yaml_key_value("speed", ".inf"), "reject"),
    (yaml_key_value("engines", "[]"), "reject"),
    (yaml_key_value("per_session", "0"), "reject"),
    (yaml_key_value("days", "T6-T2", last=True), "plays:17:00"),
    (yaml_key_value("time", "17:00", last=True), "plays:17:00"),
]


def yaml_mutation(rng: random.Random, data: bytes, semantic: bool = True):
    """One YAML mutation; returns (bytes, name, oracle or None)."""
    r = rng.random()
    if semantic and r < 0.10:
        fn, oracle = rng.choice(SEMANTIC)
        out, name = fn(rng, data)
        return out, name, oracle if name.startswith("set:") else None
    fn = rng.choices([yaml_value, yaml_structure, yaml_bomb, yaml_nesting, yaml_document,
                      byte_level], weights=[40, 20, 6, 6, 8, 20])[0]
    out, name = fn(rng, data)
    return out, name, None


def template_mutation(rng: random.Random, data: bytes):
    if rng.random() < 0.6:
        lines = _lines(data)
        idx = [i for i in _kv_lines(lines) if not lines[i].startswith("#")]
        i = rng.choice(idx)
        key = KV.match(lines[i]).group(2)
        value = rng.choice(TEMPLATE_VALUES)
        old = KV.match(lines[i]).group(4) or ""
        if rng.random() < 0.5 and old.startswith('"'):
            value = old[:-1] + " " + value + '"'
        else:
            value = '"' + value.replace('"', '\\"') + '"'
        _set_value(lines, i, value)
        oracle = "no_attr" if re.search(r"\{[^}]*[.\[]", value) else None
        return _join(lines), f"template:{key}", oracle
    out, name, _ = yaml_mutation(rng, data, semantic=False)
    return out, name, None


# --- plans ---------------------------------------------------------------------------------

def plan_txt_mutation(rng: random.Random, data: bytes):
    op = rng.choice(["lines", "lines", "long_line", "control", "numbers", "scale", "bytes",
                     "bytes", "empty"])
    lines = _lines(data)
    items = [i for i, line in enumerate(lines) if re.match(r"^\s*(\d+\.|[a-zđ]\)|[IVX]+\.|-)\s", line)]
    if op == "lines":
        for _ in range(rng.randint(1, 6)):
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            act = rng.choice(["del", "dup", "swap"])
            if act == "del":
                del lines[i]
            elif act == "dup":
                lines.insert(i, lines[j])
            else:
                lines[i], lines[j] = lines[j], lines[i]
            if len(lines) < 2:
                break
        return _join(lines), "plan:lines", None
    if op == "long_line":
        lines.insert(rng.choice(items or [0]) + 1, "Nội dung " * 20_000)
        return _join(lines), "plan:long_line", None
    if op == "control":
        i = rng.choice(items or [0])
        lines[i] += rng.choice(["\x07", "\x00", "\x1b[2J", "\u202e", "\x0c", "\ufffe", "\x85"])
        return _join(lines), "plan:control", None
    if op == "numbers":
        i = rng.choice(items or [0])
        lines[i] = re.sub(r"^\s*(\d+\.|[a-zđ]\)|[IVX]+\.)", rng.choice(
            ["99999999999999999999.", "0.", "MMMMCMXCIX.", "IIII.", "ž)", "1.1.1.1.1.", "-1.",
             "IV.", "a)", "١."]), lines[i])
        return _join(lines), "plan:numbers", None
    if op == "scale":
        # many items in the content section: plan import must stay linear
        n = rng.choice([2000, 4000])
        sec = next((i for i, line in enumerate(lines) if re.match(r"^IV\.", line)), len(lines) // 2)
        extra = []
        for k in range(1, n + 1):
            extra.append(f"{k}. Tuyên truyền nội dung số {k} về thủ tục hành chính trên địa bàn.")
            extra.append(f"a) Thông tin chi tiết {k}.")
        lines[sec + 1:sec + 1] = extra
        return _join(lines), f"plan:scale_{n}", None
    if op == "empty":
        return b"", "plan:empty", None
    out, name = byte_level(rng, data)
    return out, name, None


def _rezip(data: bytes, edit) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = edit(info.filename, src.read(info.filename))
            if body is not None:
                dst.writestr(info.filename, body)
    return out.getvalue()


def docx_mutation(rng: random.Random, data: bytes):
    op = rng.choice(["zip_bytes", "truncate", "xml_truncate", "xml_badchar", "xml_entity",
                     "numbering", "numbering", "drop_part", "text", "zip_bomb"])
    if op == "zip_bytes":
        b = bytearray(data)
        for _ in range(rng.randint(1, 20)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b), "docx:zip_bytes", None
    if op == "truncate":
        return data[: rng.randrange(len(data))], "docx:truncate", None
    if op == "drop_part":
        part = rng.choice(["word/document.xml", "word/numbering.xml", "[Content_Types].xml",
                           "word/_rels/document.xml.rels", "word/styles.xml"])
        return _rezip(data, lambda n, b: None if n == part else b), f"docx:drop:{part}", None
    if op == "zip_bomb":
        out = io.BytesIO()
        src = zipfile.ZipFile(io.BytesIO(data))
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                if info.filename != "word/document.xml":
                    dst.writestr(info.filename, src.read(info.filename))
            with dst.open("word/document.xml", "w", force_zip64=True) as f:
                f.write(b'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://'
                        b'schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p>'
                        b'<w:r><w:t>')
                chunk = b" " * (1 << 20)
                for _ in range(400):  # 400 MB of spaces, ~400 KB compressed
                    f.write(chunk)
                f.write(b"</w:t></w:r></w:p></w:body></w:document>")
        return out.getvalue(), "docx:zip_bomb_400MB", None

    def edit(name: str, body: bytes) -> bytes:
        if op == "numbering" and name == "word/numbering.xml":
            return re.sub(rb'(w:(?:start|ilvl|abstractNumId|numFmt|lvlText)) w:val="[^"]*"',
                          lambda m: m.group(1) + b' w:val="' + rng.choice(
                              [b"abc", b"-1", b"99999999999", b"", b"%9%8", b"bogus", b"\xc3\xa9"]
                          ) + b'"', body, count=rng.randint(1, 6))
        if op == "numbering" and name == "word/document.xml":
            return re.sub(rb'w:numId w:val="\d+"', rng.choice(
                [b'w:numId w:val="abc"', b'w:numId w:val="99999"', b'w:numId w:val="-1"']),
                body, count=rng.randint(1, 3))
        if name != "word/document.xml":
            return body
        if op == "xml_truncate":
            return body[: rng.randrange(len(body))]
        if op == "xml_badchar":
            k = rng.randrange(len(body))
            return body[:k] + rng.choice([b"\x01", b"&undefined;", b"<w:p><w:r>", b"</w:body>",
                                          b"\xff", b"<"]) + body[k:]
        if op == "xml_entity":
            head = (b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE w:document [<!ENTITY a "'
                    + b"lol" * 10 + b'">' + b"".join(
                        b'<!ENTITY a%d "' % k + (b"&a%d;" % (k - 1) if k > 1 else b"&a;") * 10 + b'">'
                        for k in range(1, 9)) + b"]>\n")
            body = re.sub(rb"^<\?xml[^>]*\?>\s*", b"", body)
            return head + body.replace(b"<w:t>", b"<w:t>&a8;", 1)
        # text: one paragraph's text replaced by something odd
        return re.sub(rb"<w:t>([^<]*)</w:t>", lambda m: b"<w:t>" + rng.choice(
            [b"x" * 200_000, "\u202e".encode(), b"&#1;", b"{station.__class__}",
             b"99999999999999999999. ", b"IV. " * 1000]) + b"</w:t>", body, count=1)
    return _rezip(data, edit), f"docx:{op}", None


def _pdf(objects: list[bytes]) -> bytes:
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, xref))
    return out.getvalue()


_BOMB: bytes | None = None


def pdf_bomb() -> bytes:
    """A one-page PDF whose content stream is ~100 KB of Flate that inflates to 100 MB."""
    global _BOMB
    if _BOMB is None:
        z = zlib.compressobj(9)
        text = b"BT /F1 12 Tf 72 700 Td (KE HOACH) Tj ET\n"
        comp = z.compress(text) + z.compress(b" " * (100 << 20)) + z.flush()
        _BOMB = _pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                      b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                      b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
                      b"/Resources << /Font << /F1 5 0 R >> >> >>",
                      b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(comp) + comp
                      + b"\nendstream",
                      b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"])
    return _BOMB


def pdf_loop() -> bytes:
    """A page tree whose Pages node is its own kid."""
    return _pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                 b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
                 b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>"])


def pdf_mutation(rng: random.Random, data: bytes):
    op = rng.choice(["bomb", "bomb", "loop", "truncate", "flip", "xref", "bytes_stream"])
    if op == "bomb":
        return pdf_bomb(), "pdf:flate_bomb_100MB", None
    if op == "loop":
        return pdf_loop(), "pdf:page_tree_loop", None
    if op == "truncate":
        return data[: rng.randrange(len(data))], "pdf:truncate", None
    if op == "xref":
        return data.replace(b"startxref", b"startxref\n999999999\n%", 1), "pdf:xref", None
    b = bytearray(data)
    # flip inside streams (after the header), where fonts and text live
    for _ in range(rng.randint(1, 30)):
        k = rng.randrange(64, len(b))
        b[k] ^= 1 << rng.randrange(8)
    return bytes(b), f"pdf:{op}", None
