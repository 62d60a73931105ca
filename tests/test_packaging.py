"""A non-editable install works: the wheel carries templates, workflows and static
files, and the CLI finds them through the resolver, far from the repository."""
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp / "dist"), str(ROOT)], check=True, capture_output=True)
    wheel = next((tmp / "dist").glob("formloom-*.whl"))
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=False)
    site = next(env_dir.glob("lib/python*/site-packages"))
    # dependencies come from the running environment; formloom itself only from the wheel
    (site / "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    return env_dir, site


@pytest.mark.slow
def test_wheel_ships_templates_workflows_and_static(wheel_venv):
    _, site = wheel_venv
    bundled = site / "formloom" / "_bundled"
    assert (bundled / "app_templates" / "crm" / "app.json").is_file()
    assert (bundled / "workflows" / "opportunity_pipeline.json").is_file()
    assert any((bundled / "static").rglob("*.js"))


@pytest.mark.slow
def test_installed_wheel_validates_the_shipped_crm_template(wheel_venv, tmp_path):
    env_dir, site = wheel_venv
    python = env_dir / "bin" / "python"
    crm = site / "formloom" / "_bundled" / "app_templates" / "crm"
    result = subprocess.run([str(python), "-m", "formloom", "validate", str(crm)], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    where = subprocess.run([str(python), "-c", "import formloom.resources as r; print(r.workflows_dir())"],
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert "_bundled" in where and str(ROOT) not in where
