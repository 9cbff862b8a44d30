"""Reads the lab's Python files and notebooks for test/lab (run by the TypeScript tests, prints JSON).

usage: python3 inspect_lab.py [--validate-notebooks] PATH...

For every unit of code (a .py file, or one code cell of a .ipynb) it reports:
- error:    the SyntaxError raised by ast.parse (Python 3.10 grammar) or compile(), else null
- strings:  every string constant in the code (f-string parts included)
- lookups:  the literal key paths of lab_setting(settings, ...) calls, and the ("stacks", s) and
            ("outputs", s, o) paths of output_of(settings, client, s, o) calls (calls with computed
            keys, like the ones inside output_of itself, are left out)
- literal_names: literal arguments where a name of the deployed system must not be hard-coded
            (StackName=, SecretId=, stack_output(...)), as [call, value]
- magics:   the IPython lines (starting with % or !) that were blanked out before parsing
For notebooks it also reports the nbformat version, the notebook's validation error (with
--validate-notebooks; needs the nbformat package) and whether any code cell has outputs.
"""

from __future__ import annotations

import ast
import json
import sys

FEATURE_VERSION = (3, 10)  # the SageMaker scikit-learn 1.4-2 container and notebook instance kernels run Python 3.10


def literal_str(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def inspect_source(source: str, where: str) -> dict:
    unit = {"where": where, "error": None, "strings": [], "lookups": [], "literal_names": [], "magics": []}
    lines = []
    for line in source.split("\n"):
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            unit["magics"].append(stripped)
            lines.append("")
        else:
            lines.append(line)
    code = "\n".join(lines)
    try:
        tree = ast.parse(code, filename=where, feature_version=FEATURE_VERSION)
        compile(code, where, "exec", dont_inherit=True)
    except SyntaxError as error:
        unit["error"] = f"{where}:{error.lineno}: {error.msg}"
        return unit

    for node in ast.walk(tree):
        value = literal_str(node)
        if value is not None:
            unit["strings"].append(value)
        if not isinstance(node, ast.Call):
            continue
        name = call_name(node)
        args = [literal_str(arg) for arg in node.args]
        if name == "lab_setting":
            path = args[1:]
            if path and None not in path:  # lookups with computed keys (inside output_of) cannot be checked here
                unit["lookups"].append(path)
        elif name == "output_of":
            stack, output = (args[2:4] + [None, None])[:2]
            if stack is not None and output is not None:
                unit["lookups"].append(["stacks", stack])
                unit["lookups"].append(["outputs", stack, output])
        elif name == "stack_output":
            for value in args[1:]:
                if value is not None:
                    unit["literal_names"].append([name, value])
        for keyword in node.keywords:
            value = literal_str(keyword.value)
            if keyword.arg in ("StackName", "SecretId") and value is not None:
                unit["literal_names"].append([f"{name}({keyword.arg}=)", value])
    return unit


def inspect_notebook(path: str, validate: bool) -> dict:
    with open(path, encoding="utf-8") as handle:
        raw = json.load(handle)
    report = {
        "path": path,
        "nbformat": raw.get("nbformat"),
        "validation_error": None,
        "code_cells": 0,
        "cells_with_outputs": [],
        "markdown": [],
        "units": [],
    }
    if validate:
        try:
            import nbformat
        except ImportError as error:
            report["validation_error"] = f"nbformat is not installed for {sys.executable}: {error}"
        else:
            try:
                notebook = nbformat.read(path, as_version=nbformat.NO_CONVERT)
                nbformat.validate(notebook)
            except Exception as error:  # ValidationError, NotJSONError, ...
                report["validation_error"] = f"{error.__class__.__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    for index, cell in enumerate(raw.get("cells", [])):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        if cell.get("cell_type") == "markdown":
            report["markdown"].append(source)
        if cell.get("cell_type") != "code":
            continue
        report["code_cells"] += 1
        if cell.get("outputs") or cell.get("execution_count") is not None:
            report["cells_with_outputs"].append(index)
        where = f"{path}#cell{index}"
        if source.lstrip().startswith("%%"):
            report["units"].append({"where": where, "error": None, "strings": [], "lookups": [], "literal_names": [], "magics": [source.splitlines()[0]], "cell_magic": True})
            continue
        report["units"].append(inspect_source(source, where))
    return report


def main(argv: list[str]) -> int:
    validate = "--validate-notebooks" in argv
    paths = [arg for arg in argv if not arg.startswith("--")]
    result = {"python": sys.version.split()[0], "files": []}
    for path in paths:
        if path.endswith(".ipynb"):
            result["files"].append(inspect_notebook(path, validate))
        else:
            with open(path, encoding="utf-8") as handle:
                result["files"].append({"path": path, "units": [inspect_source(handle.read(), path)]})
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
