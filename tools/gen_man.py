#!/usr/bin/env python3
"""gen_man.py API_MD HEADER OUT_DIR: the manual pages (section 3) of docs/api.md.

docs/api.md is written as manual pages: a `## name(3)[, other(3)]` heading per
function family, `### NAME`, `### SYNOPSIS` (a C code block), `### DESCRIPTION`,
`### RETURN VALUE` under it. Each `##` section becomes OUT_DIR/name.3 in man(7)
markup; every other name the section declares (in its heading, its NAME line or
its synopsis) gets a link page OUT_DIR/other.3 holding `.so man3/name.3`, so that
`man memkind_free` opens memkind_malloc(3). The `## Status codes` table goes into
memkind_fixed(3), the overview page, and every page ends with SEE ALSO naming
the others. HEADER gives the version for the page footers; the date is
SOURCE_DATE_EPOCH when set (reproducible builds), else API_MD's modification time.

Only the Markdown that api.md uses is understood: paragraphs, `- ` lists, fenced
code blocks, pipe tables, `code`, **bold**, *italic* and [text](link).
"""
import datetime
import os
import re
import sys

OVERVIEW = "memkind_fixed"


def roff_escape(text):
    """Plain text to roff: backslashes, and any non-ASCII character by code point."""
    out = []
    for ch in text.replace("\\", "\\e"):
        if ord(ch) < 128:
            out.append(ch)
        elif ch == "\u2014":
            out.append("\\(em")
        elif ch == "\u2212":
            out.append("\\-")
        else:
            out.append("\\[u%04X]" % ord(ch))
    return "".join(out)


def inline(text):
    """One line or paragraph of Markdown to roff with font changes."""
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)
    buf = ""
    for part in re.split(r"(`[^`]+`)", text):
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            # \% at the start of the word holding an identifier: never hyphenate it
            # (a hyphen would read as part of the name). Mid-word it would mark a
            # hyphenation point instead, so it goes before "(" in "(`CODE`)".
            start = max(buf.rfind(" "), buf.rfind("\n")) + 1
            if not buf.startswith("\\%", start):
                buf = buf[:start] + "\\%" + buf[start:]
            # \- : a minus, not a hyphen, so no line break after it.
            buf += "\\fB" + roff_escape(part[1:-1]).replace("-", "\\-") + "\\fR"
            continue
        part = roff_escape(part)
        part = re.sub(r"\*\*(.+?)\*\*", r"\\fB\1\\fR", part)
        part = re.sub(r"(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])", r"\\fI\1\\fR", part)
        buf += part
    return buf


def line_out(text):
    """A roff text line: one starting with . or ' would be read as a request."""
    return "\\&" + text if text[:1] in (".", "'") else text


def plain(text):
    """Text for the NAME section: no font changes (mandb and apropos read it)."""
    text = re.sub(r"`([^`]+)`", r"\\%\1", text.replace("**", ""))
    return roff_escape(text).replace("\\e%", "\\%")


def declared_names(code):
    """Identifiers a C synopsis declares: functions, function-pointer typedefs, externs."""
    names = []
    for line in code.splitlines():
        line = re.sub(r"/\*.*?\*/", "", line).strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"typedef\b.*\(\s*\*\s*(\w+)\s*\)", line)
        if not m:
            m = re.match(r"extern\b.*?\b(\w+)\s*;", line)
        if not m:
            m = re.match(r"[\w\s\*]*?\b(\w+)\s*\(", line)
        if m:
            names.append(m.group(1))
    return names


def blocks(lines):
    """Markdown lines to (kind, payload): para, list, code, table."""
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip() or line.strip() == "---":
            i += 1
        elif line.startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            yield "code", lines[i + 1:j]
            i = j + 1
        elif line.startswith("|"):
            j = i
            while j < len(lines) and lines[j].startswith("|"):
                j += 1
            rows = [[c.strip() for c in l.strip().strip("|").split("|")] for l in lines[i:j]]
            # The header row and the |---| line under it.
            yield "table", [r for r in rows[2:]]
            i = j
        elif line.startswith("- "):
            items = []
            while i < len(lines) and (lines[i].startswith("- ") or lines[i].startswith("  ")):
                if lines[i].startswith("- "):
                    items.append(lines[i][2:].strip())
                else:
                    items[-1] += " " + lines[i].strip()
                i += 1
            yield "list", items
        else:
            j = i
            while (j < len(lines) and lines[j].strip() and not lines[j].startswith(("```", "|", "- "))
                   and lines[j].strip() != "---"):
                j += 1
            yield "para", " ".join(l.strip() for l in lines[i:j])
            i = j


def render_body(lines):
    out = []
    for kind, payload in blocks(lines):
        if kind == "para":
            out += [".PP", line_out(inline(payload))]
        elif kind == "list":
            for item in payload:
                out += [".IP \\(bu 2", line_out(inline(item))]
        elif kind == "code":
            out += [".PP", ".in +4n", ".EX"]
            out += [line_out(roff_escape(l).replace("-", "\\-")) for l in payload]
            out += [".EE", ".in"]
        elif kind == "table":
            for row in payload:
                tag = inline(row[0])
                if len(row) > 2:
                    tag += " (" + ", ".join(inline(c) for c in row[1:-1]) + ")"
                out += [".TP", line_out(tag), line_out(inline(row[-1]))]
    return out


def split_sections(lines, level):
    """[(heading, body lines)] at one heading level; the text before the first heading
    comes with heading None."""
    mark = "#" * level + " "
    sections = [(None, [])]
    for line in lines:
        if line.startswith(mark):
            sections.append((line[len(mark):].strip(), []))
        else:
            sections[-1][1].append(line)
    return sections


def main(argv):
    if len(argv) != 4:
        sys.exit(__doc__)
    api_md, header, out_dir = argv[1:]
    with open(header) as f:
        parts = dict(re.findall(r"#define MEMKIND_FIXED_VERSION_(MAJOR|MINOR|PATCH)\s+(\d+)", f.read()))
    version = "%s.%s.%s" % (parts["MAJOR"], parts["MINOR"], parts["PATCH"])
    stamp = int(os.environ.get("SOURCE_DATE_EPOCH", os.path.getmtime(api_md)))
    date = datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc).strftime("%Y-%m-%d")
    with open(api_md, encoding="utf-8") as f:
        lines = f.read().splitlines()

    pages = []  # (name, heading names, subsections)
    status = None
    for heading, body in split_sections(lines, 2)[1:]:
        names = re.findall(r"(\w+)\(3\)", heading)
        if not names:
            if heading.lower() == "status codes":
                status = body
                continue
            sys.exit("gen_man.py: section %r has no name(3) in its heading" % heading)
        pages.append((names[0], names, split_sections(body, 3)))
    if OVERVIEW not in [p[0] for p in pages]:
        sys.exit("gen_man.py: no %s(3) section" % OVERVIEW)
    page_names = [p[0] for p in pages]

    os.makedirs(out_dir, exist_ok=True)
    links = {}
    for name, heading_names, subs in pages:
        out = [
            '.\\" Generated by tools/gen_man.py from docs/api.md; edit that file instead.',
            '.TH %s 3 %s "memkind-fixed %s" "memkind-fixed manual"' % (name.upper(), date, version),
            # Left-aligned: lines of long unbreakable identifiers cannot be justified.
            ".ad l",
        ]
        aliases = list(heading_names)
        for sub, body in subs[1:]:
            out.append(".SH " + sub.upper())
            if sub == "NAME":
                text = " ".join(l.strip() for l in body if l.strip())
                names_part, _, desc = text.partition(" \u2014 ")
                aliases += [n for n in re.findall(r"`(\w+)`", names_part)]
                out.append(plain(names_part) + " \\- " + plain(desc))
                continue
            if sub == "SYNOPSIS":
                for kind, payload in blocks(body):
                    if kind == "code":
                        aliases += declared_names("\n".join(payload))
            out += render_body(body)
        if name == OVERVIEW and status:
            out.append(".SH STATUS CODES")
            out += render_body(status)
        see = [p for p in page_names if p != name]
        out.append(".SH SEE ALSO")
        out.append(",\n".join("\\%%\\fB%s\\fR(3)" % p for p in see))
        with open(os.path.join(out_dir, name + ".3"), "w", encoding="ascii") as f:
            f.write("\n".join(out) + "\n")
        for alias in aliases:
            if alias in page_names or not re.match(r"(memkind|MEMKIND)_\w+$", alias):
                continue
            if links.get(alias, name) != name:
                sys.exit("gen_man.py: %s is declared by %s(3) and %s(3)" % (alias, links[alias], name))
            links[alias] = name
    for alias, name in sorted(links.items()):
        with open(os.path.join(out_dir, alias + ".3"), "w", encoding="ascii") as f:
            f.write(".so man3/%s.3\n" % name)
    print("gen_man.py: %d pages, %d link pages in %s" % (len(pages), len(links), out_dir))


if __name__ == "__main__":
    main(sys.argv)
