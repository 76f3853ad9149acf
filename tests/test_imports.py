"""The import rules, checked by reading every module of every app (ast, imports inside functions
included; nothing is imported to check it).

1. Only localstack/ itself, the management commands (*/management/commands/), bench/ and tests/
   import `localstack`, the launcher of the local JVM stack. Production code reaches Flink through
   fraudsite/flink_client.py.
2. No import cycle between apps. An app is a top-level package of the project (accounts, alerts,
   api, cloud, fraudsite, localstack, outbox, transactions, users, webhooks, and any added later);
   an import from one app's module of another app draws an edge between the two.
   `fraudsite` is two things: its root modules (settings, urls, asgi: ROOT_MODULES) wire the apps
   together and may import any of them, and nothing imports them by name (Django finds them
   through DJANGO_SETTINGS_MODULE, ROOT_URLCONF and the server); every other module of fraudsite is
   the library the apps share (fraudsite.topics, fraudsite.kafka, fraudsite.flink_client, ...),
   which any app may import and which therefore imports no app.
"""

import ast
from collections import defaultdict
from pathlib import Path

from django.conf import settings

ROOT_MODULES = {"fraudsite.settings", "fraudsite.urls", "fraudsite.asgi"}
ROOT = "fraudsite (root)"
NOT_APPS = {"tests", "bench"}
MAY_IMPORT_LOCALSTACK = ("localstack/", "/management/commands/")


def apps(base=None):
    base = Path(base or settings.BASE_DIR)
    return sorted(p.name for p in base.iterdir() if (p / "__init__.py").exists() and p.name not in NOT_APPS)


def imported_modules(path, module):
    """The absolute names of every module that `path` (the module `module`) imports, anywhere in it."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module
            yield prefix
            yield from (f"{prefix}.{alias.name}" for alias in node.names)  # `from fraudsite import asgi`


def imports(base=None):
    """[(module file relative to the project, its node in the app graph, imported module)]."""
    base = Path(base or settings.BASE_DIR)
    found = []
    for app in apps(base):
        for path in sorted((base / app).rglob("*.py")):
            relative = path.relative_to(base).as_posix()
            module = relative.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
            node = ROOT if module in ROOT_MODULES else app
            found.extend((relative, node, imported) for imported in imported_modules(path, module))
    return found


def node_of(module, known_apps):
    if module in ROOT_MODULES:
        return ROOT
    top = module.split(".")[0]
    return top if top in known_apps else None


def app_graph(base=None):
    """{app: {app it imports: [module files that do]}}."""
    known_apps, graph = set(apps(base)), defaultdict(lambda: defaultdict(set))
    for relative, node, imported in imports(base):
        target = node_of(imported, known_apps)
        if target and target != node:
            graph[node][target].add(relative)
    return graph


def cycles(graph):
    """Every cycle of the graph, each once, as [a, b, ..., a] starting from its smallest app."""
    found = set()

    def walk(path):
        for following in graph.get(path[-1], {}):
            if following == path[0]:
                found.add(tuple(path + [following]))
            elif following not in path and following > path[0]:
                walk(path + [following])

    for start in sorted(graph):
        walk([start])
    return sorted(found)


def describe(cycle, graph):
    return " -> ".join(cycle) + "\n" + "\n".join(
        f"    {a} -> {b}: {', '.join(sorted(graph[a][b]))}" for a, b in zip(cycle, cycle[1:]))


def test_only_the_stack_commands_and_tests_import_localstack():
    offenders = sorted({relative for relative, _, imported in imports()
                        if imported.split(".")[0] == "localstack"
                        and not any(part in "/" + relative for part in MAY_IMPORT_LOCALSTACK)
                        and not relative.startswith("localstack/")})
    assert not offenders, f"these modules import localstack (use fraudsite.flink_client): {offenders}"


def test_no_import_cycle_between_apps():
    graph = app_graph()
    found = cycles(graph)
    assert not found, "import cycles between apps:\n" + "\n".join(describe(cycle, graph) for cycle in found)


def test_the_checks_see_a_cycle_and_an_import_inside_a_function(tmp_path):
    for app, source in {"alpha": "def f():\n    from beta.models import B\n",
                        "beta": "from alpha import f\n", "gamma": "import localstack.flink\n",
                        "localstack": ""}.items():
        (tmp_path / app).mkdir()
        (tmp_path / app / "__init__.py").write_text("")
        (tmp_path / app / "code.py").write_text(source)
    assert cycles(app_graph(tmp_path)) == [("alpha", "beta", "alpha")]
    assert ("gamma/code.py", "gamma", "localstack.flink") in imports(tmp_path)
