"""The layout rules of `terraform fmt`, as a checker.

Terraform cannot be downloaded on the machines this project is built on, so
`terraform fmt -check` cannot run in CI. This reimplements the rules of
hclwrite's formatter (format.go: formatIndent, formatSpaces, formatCells)
that decide layout:

- indentation is two spaces per open bracket level, counted per line
  (a line that opens brackets is indented at the old level, a line that
  closes them at the new one);
- `=` of consecutive single-line attributes is aligned one space after the
  longest name; a blank line, a block, a comment line or a multi-line value
  ends the run;
- trailing comments of consecutive lines are aligned the same way;
- one space after `=` and after commas, none after an opening bracket or
  before a closing one, except braces, which are spaced (`{ a = b }`, `{}`);
- nowhere else two spaces between tokens; no trailing whitespace; no tabs;
  a newline at the end.

Where a terraform binary exists the tests check these verdicts against
`terraform fmt` itself.

check(text) returns the problems as "line N: ..." strings.
"""

import re

OPEN = {"{", "[", "(", "${", "%{"}
CLOSE = {"}", "]", ")"}


def tokens(line):
    """(kind, text, start, end) for one line; strings are one token."""
    out = []
    i = 0
    n = len(line)
    while i < n:
        c = line[i]
        if c in " \t":
            i += 1
            continue
        start = i
        if c == "#" or line.startswith("//", i):
            out.append(("comment", line[i:], start, n))
            break
        if c == '"':
            i += 1
            depth = 0
            while i < n:
                if line[i] == "\\":
                    i += 2
                    continue
                if line.startswith("${", i) or line.startswith("%{", i):
                    depth += 1
                    i += 2
                    continue
                if line[i] == "}" and depth:
                    depth -= 1
                elif line[i] == '"' and not depth:
                    i += 1
                    break
                i += 1
            out.append(("string", line[start:i], start, i))
            continue
        two = line[i:i + 2]
        if two in ("==", "!=", "<=", ">=", "=>", "&&", "||", "${", "%{", "<<"):
            kind = "open" if two in OPEN else "op"
            out.append((kind, two, start, i + 2))
            i += 2
            continue
        if c in "{[(":
            out.append(("open", c, start, i + 1))
        elif c in "}])":
            out.append(("close", c, start, i + 1))
        elif c == "=":
            out.append(("equal", c, start, i + 1))
        elif c == ",":
            out.append(("comma", c, start, i + 1))
        elif c in ".:?+-*/%!<>":
            out.append(("op", c, start, i + 1))
        else:
            m = re.match(r"[A-Za-z0-9_\-]+", line[i:])
            j = i + (m.end() if m else 1)
            out.append(("word", line[i:j], start, j))
            i = j
            continue
        i += 1
    return out


def net(toks):
    return sum(1 if k == "open" else -1 if k == "close" else 0 for k, *_ in toks)


def check(text):
    problems = []
    lines = text.split("\n")
    if not text.endswith("\n"):
        problems.append("end: the file must end with a newline")
    if text.endswith("\n"):
        lines = lines[:-1]
    indents = []
    info = []  # per line: (tokens without comment, comment or None, assign index or None)
    heredoc = None
    for no, line in enumerate(lines, 1):
        if heredoc is not None:
            if line.strip() == heredoc:
                heredoc = None
            info.append(None)
            continue
        if line != line.rstrip():
            problems.append(f"line {no}: trailing whitespace")
        if "\t" in line[: len(line) - len(line.lstrip())]:
            problems.append(f"line {no}: tab in indentation")
        toks = tokens(line)
        m = re.search(r"<<-?([A-Za-z_][A-Za-z0-9_]*)\s*$", line)
        if m:
            heredoc = m.group(1)
        if not toks:
            info.append(None)
            continue
        comment = toks[-1] if toks[-1][0] == "comment" and len(toks) > 1 else None
        body = toks[:-1] if comment else toks
        if body and body[0][0] == "comment":
            body = []
        change = net(body)
        if change > 0:
            want = 2 * len(indents)
            indents.append(change)
        elif change < 0:
            closed = -change
            while closed > 0 and indents:
                if closed > indents[-1]:
                    closed -= indents.pop()
                elif closed < indents[-1]:
                    indents[-1] -= closed
                    closed = 0
                else:
                    indents.pop()
                    closed = 0
            want = 2 * len(indents)
        else:
            want = 2 * len(indents)
        have = len(line) - len(line.lstrip(" "))
        if have != want:
            problems.append(f"line {no}: indented {have} spaces, terraform fmt uses {want}")
        assign = None
        for i, t in enumerate(body):
            if i > 0 and t[0] == "equal":
                if net(body[i:]) == 0:
                    assign = i
                break
        info.append((body, comment, assign))
        problems.extend(spacing(no, body, assign, comment))

    # `=` alignment over runs of consecutive single-line attributes.
    run = []
    for no, entry in enumerate(info + [None], 1):
        if entry is not None and entry[2] is not None:
            run.append((no, entry))
            continue
        if run:
            col = max(e[0][e[2] - 1][3] for _, e in run) + 1
            for rno, e in run:
                at = e[0][e[2]][2]
                if at != col:
                    problems.append(f"line {rno}: `=` at column {at + 1}, terraform fmt aligns it at {col + 1}")
            run = []
    # Trailing comments, aligned the same way.
    run = []
    for no, entry in enumerate(info + [None], 1):
        if entry is not None and entry[1] is not None and entry[0]:
            run.append((no, entry))
            continue
        if run:
            col = max(e[0][-1][3] for _, e in run) + 1
            for rno, e in run:
                if e[1][2] != col:
                    problems.append(f"line {rno}: comment at column {e[1][2] + 1}, terraform fmt aligns it at {col + 1}")
            run = []
    return problems


def spacing(no, body, assign, comment):
    out = []
    for i in range(1, len(body)):
        prev, tok = body[i - 1], body[i]
        gap = tok[2] - prev[3]
        if i == assign:
            continue  # alignment decides, checked per run
        if prev[0] == "equal" and i - 1 == assign or prev[0] == "comma":
            want = {1}
        elif prev[1] == "{" and tok[1] == "}":
            want = {0}
        elif prev[1] == "{" or tok[1] == "}":
            want = {1}
        elif prev[0] == "open" or tok[0] == "close" or tok[0] == "comma":
            want = {0}
        else:
            want = {0, 1}
        if gap not in want:
            out.append(f"line {no}: {gap} spaces between `{prev[1]}` and `{tok[1]}`")
    if comment and body and assign is None and comment[2] - body[-1][3] < 1:
        out.append(f"line {no}: no space before the comment")
    return out
