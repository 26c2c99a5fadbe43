"""Layering and packaging: what the wheel holds, and that the inner layers stay UI-free."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAPPED = {
    "tui": "naptha_tui.tui",
    "backends": "naptha_tui.backends",
    "proxy": "naptha_tui.proxy",
    "presets": "naptha_tui.presets",
    "templates": "naptha_tui.templates",
}


# loaded by path inside a runtime (vLLM's plugin loader, the runtime's python), never imported here
RUNTIME_ONLY = {"naptha_tui.backends.toolcalls.naptha_vllm_plugin"}


def inner_modules() -> list[str]:
    """Every module of backends/ and proxy/, sub-packages included, as an import name."""
    found = []
    for layer in ("backends", "proxy"):
        for path in sorted((ROOT / layer).rglob("*.py")):
            parts = path.relative_to(ROOT / layer).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join(["naptha_tui", layer, *parts])
            if name not in RUNTIME_ONLY:
                found.append(name)
    return found


def test_the_module_walk_reaches_every_sub_package() -> None:
    modules = inner_modules()
    for sub in ("servers", "runtimes", "checks", "telemetry", "toolcalls"):
        assert f"naptha_tui.backends.{sub}" in modules
    assert "naptha_tui.backends.toolcalls.jsonscan" in modules
    assert "naptha_tui.backends.servers.supervisor" in modules


def test_importing_backends_and_proxy_never_loads_textual() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in inner_modules())
        + "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(len(sys.modules)); assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_every_package_folder_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = set()
    for folder, name in MAPPED.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join([name, *rel]))
    assert found == listed
    assert config["package-dir"] == {v: k for k, v in MAPPED.items()}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    [path] = out.glob("naptha_tui-*.whl")
    return zipfile.ZipFile(path)


def test_wheel_holds_every_module_stylesheet_preset_and_template(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    expected = set()
    for folder, package in MAPPED.items():
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".py", ".tcss", ".yaml", ".jinja"} or path.name == "py.typed":
                rel = path.relative_to(ROOT / folder)
                expected.add("/".join([*package.split("."), *rel.parts]))
    assert expected - names == set()
    assert any(n.endswith("presets/smollm2-cpu.yaml") for n in names)
    assert any(n.endswith("templates/smollm2_tool_use.jinja") for n in names)
    assert any(n.endswith("screens/dashboard.tcss") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "naptha-tui = naptha_tui.tui.__main__:main" in wheel.read(entry_points).decode()


def imports_of(path: Path, package: str) -> set[str]:
    """Every module ``path`` imports, at any depth of the file (TYPE_CHECKING blocks too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def layer_imports(layer: str) -> dict[str, set[str]]:
    """Per file of ``layer`` (backends or proxy), the modules it imports."""
    out = {}
    for path in sorted((ROOT / layer).rglob("*.py")):
        parts = path.relative_to(ROOT / layer).parent.parts
        package = ".".join(["naptha_tui", layer, *parts])
        out[str(path.relative_to(ROOT))] = imports_of(path, package)
    return out


def reaching(imports: dict[str, set[str]], prefixes: tuple[str, ...]) -> dict[str, list[str]]:
    bad = {}
    for file, names in imports.items():
        hits = sorted(n for n in names if n.startswith(prefixes))
        if hits:
            bad[file] = hits
    return bad


def test_backends_never_import_the_node_or_the_panel() -> None:
    imports = layer_imports("backends")
    assert "naptha_tui.backends.endpoints.Target" in imports["backends/playground/run.py"]
    assert reaching(imports, ("naptha_tui.proxy", "naptha_tui.tui")) == {}


def test_the_node_never_imports_the_apps() -> None:
    """The node hands out endpoints in its own types (backends/endpoints.py); apps take them."""
    imports = layer_imports("proxy")
    assert "naptha_tui.backends.endpoints" in imports["proxy/node/targets.py"]
    apps = tuple(f"naptha_tui.backends.{app}" for app in ("loadgen", "evals", "playground", "runs"))
    assert reaching(imports, (*apps, "naptha_tui.tui")) == {}


def test_the_litellm_side_never_imports_the_node() -> None:
    """proxy/litellm/ is the LiteLLM integration; the node (proxy/node/) drives it."""
    imports = {f: n for f, n in layer_imports("proxy").items() if f.startswith("proxy/litellm/")}
    assert "proxy/litellm/process.py" in imports
    assert reaching(imports, ("naptha_tui.proxy.node",)) == {}
