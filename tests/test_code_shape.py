"""The shape the project keeps: modules under 500 lines, functions under 60 lines of code,
test files under 700 lines, no `select.select` (it cannot watch a descriptor above 1023) and
mypy's None checking on everywhere.

A function's size is its lines of code: the lines of its body, less its docstring (and the
docstrings of what it defines), blank lines and lines holding only a comment. Functions that
only build an argparse table are exempt: they are recognised by name, `parse_args` or a name
ending in `parser` (`build_parser`, `_build_parser`), as the command-line modules name them.
Each test lists every offender with its size, so one run shows all there is to do.
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60
MAX_TEST_FILE_LINES = 700


def product_files():
    """The lab's files and the others at the top, and the package."""
    return sorted(ROOT.glob("*.py")) + sorted((ROOT / "rtsplab").rglob("*.py"))


def every_python_file():
    """Product code, tests and benchmarks."""
    return (
        product_files()
        + sorted((ROOT / "tests").rglob("*.py"))
        + sorted((ROOT / "bench").rglob("*.py"))
    )


def name_of(path):
    return str(path.relative_to(ROOT))


def line_count(path):
    return len(path.read_text().splitlines())


def docstring_lines(tree):
    """The line numbers of every docstring in a module."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                if isinstance(first.value.value, str):
                    lines.update(range(first.lineno, first.end_lineno + 1))
    return lines


def is_argparse_table(function):
    return function.name == "parse_args" or function.name.endswith("parser")


def long_functions(path):
    """(name, lines of code) of each function of `path` over the limit."""
    source = path.read_text()
    text = source.splitlines()
    tree = ast.parse(source)
    docstrings = docstring_lines(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if is_argparse_table(node):
            continue
        body = range(node.body[0].lineno, node.end_lineno + 1)
        code = [
            number
            for number in body
            if number not in docstrings
            and text[number - 1].strip()
            and not text[number - 1].strip().startswith("#")
        ]
        if len(code) > MAX_FUNCTION_LINES:
            found.append((f"{name_of(path)}:{node.lineno} {node.name}", len(code)))
    return found


def is_select_select(node):
    """A call of `select.select`, or an import of it by name."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        owner = node.func.value
        return node.func.attr == "select" and isinstance(owner, ast.Name) and owner.id == "select"
    if isinstance(node, ast.ImportFrom) and node.module == "select":
        return any(alias.name == "select" for alias in node.names)
    return False


def listing(offenders):
    return "\n".join(f"  {name}: {size}" for name, size in offenders)


def test_no_module_over_500_lines():
    offenders = [(name_of(path), line_count(path)) for path in product_files()]
    offenders = [(name, lines) for name, lines in offenders if lines > MAX_MODULE_LINES]
    assert not offenders, f"modules over {MAX_MODULE_LINES} lines:\n{listing(offenders)}"


def test_no_function_over_60_lines_of_code():
    offenders = [found for path in product_files() for found in long_functions(path)]
    assert not offenders, (
        f"functions over {MAX_FUNCTION_LINES} lines of code:\n{listing(offenders)}"
    )


def test_no_test_file_over_700_lines():
    tests = sorted((ROOT / "tests").glob("*.py"))
    offenders = [(name_of(path), line_count(path)) for path in tests]
    offenders = [(name, lines) for name, lines in offenders if lines > MAX_TEST_FILE_LINES]
    assert not offenders, f"test files over {MAX_TEST_FILE_LINES} lines:\n{listing(offenders)}"


def test_no_select_select_anywhere():
    offenders = [
        (f"{name_of(path)}:{node.lineno}", "select.select")
        for path in every_python_file()
        for node in ast.walk(ast.parse(path.read_text()))
        if is_select_select(node)
    ]
    assert not offenders, f"select.select used:\n{listing(offenders)}"


def test_mypy_checks_none_everywhere():
    lines = (ROOT / "pyproject.toml").read_text().splitlines()
    offenders = [
        (f"pyproject.toml:{number}", line.strip())
        for number, line in enumerate(lines, 1)
        if re.match(r"\s*strict_optional\s*=\s*false\b", line)
    ]
    assert not offenders, f"None checking switched off:\n{listing(offenders)}"
