"""Routes are declared on their own module's blueprint, and blueprints are registered in
one visible place (web/setup.py): no module adds routes to another's blueprint as a
side effect of being imported (Flask also refuses that once a blueprint is registered)."""
import ast
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "platform" / "formloom" / "web"
ROUTE_METHODS = {"route", "get", "post", "put", "patch", "delete"}


def blueprints_defined(tree: ast.Module) -> set[str]:
    return {t.id for node in tree.body if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call) and getattr(node.value.func, "id", None) == "Blueprint"
            for t in node.targets if isinstance(t, ast.Name)}


def route_owners(tree: ast.Module) -> set[str]:
    """The names whose `.get(...)`/`.route(...)` etc. decorate a view in this module."""
    owners = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                func = deco.func if isinstance(deco, ast.Call) else None
                if isinstance(func, ast.Attribute) and func.attr in ROUTE_METHODS and isinstance(func.value, ast.Name):
                    owners.add(func.value.id)
    return owners


def test_every_route_is_on_a_blueprint_of_its_own_module():
    strays = {}
    for path in sorted(WEB.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        foreign = route_owners(tree) - blueprints_defined(tree)
        if foreign:
            strays[path.name] = sorted(foreign)
    assert strays == {}


def test_the_api_describes_itself(app):
    rules = {r.rule: r.endpoint for r in app.url_map.iter_rules()}
    assert rules["/api/v1/openapi.json"] == "api.openapi_json"
