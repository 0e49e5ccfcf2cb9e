"""The README's commands and examples work as written: its Python client example runs against
a real server on the shipped models, every `.venv/bin/` tool and `make` target it names
exists."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.servers import running_process

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.DOTALL)


def test_the_client_example_runs_as_written(shipped_models: Path) -> None:
    [example] = [b for b in code_blocks("python") if "from logitserve_client import" in b]
    with running_process(shipped_models, "--reload-interval-s", "0") as server:
        run = subprocess.run(
            [sys.executable, "-c", example.replace("http://127.0.0.1:8000", server.url)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("['coffee', 'mnist', 'mnist-cnn'")
    assert lines[2].startswith("3 1 ")  # the example photo of a 3, version 1
    assert lines[-1].startswith("404 ") and "mnist-v9" in lines[-1]
    # Its comments say what it prints.
    assert f"held-out metrics: {lines[1]}" in example
    assert f"# {lines[2][:9]}" in example  # "3 1 0.997": the label, version, probability
    assert lines[3].startswith("['top seller', 'not top seller']")
    assert "shirts.class_labels" in example and "each row's predicted label" in example


def test_every_venv_tool_the_readme_names_is_installed() -> None:
    tools = set(re.findall(r"\.venv/bin/([A-Za-z0-9_.-]+)", README))
    assert {"python", "torchrun", "logitserve", "logitserve-train"} <= tools
    bin_dir = Path(sys.executable).parent
    assert all((bin_dir / tool).exists() for tool in tools), sorted(tools)


def test_every_make_target_the_readme_names_exists() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.MULTILINE))
    named = set(re.findall(r"\bmake ([a-z][a-z-]*)", README))
    assert named and named <= targets, named - targets


def test_the_console_scripts_are_the_two_entry_points() -> None:
    bin_dir = Path(sys.executable).parent
    for script, marker in (("logitserve", "--models-dir"), ("logitserve-train", "train-all")):
        run = subprocess.run(
            [str(bin_dir / script), "--help"], capture_output=True, text=True, timeout=120
        )
        assert run.returncode == 0 and marker in run.stdout, (script, run.stderr)


def shell_commands(block: str) -> list[str]:
    """A shell block's commands, continuation lines joined, comments and blanks left out."""
    joined = block.replace("\\\n", " ")
    return [line for line in joined.splitlines() if line.strip() and not line.startswith("#")]


def test_the_curl_examples_answer_as_the_readme_says(shipped_models: Path) -> None:
    [block] = [b for b in code_blocks("sh") if "curl -s localhost:8000/v1/models |" in b]
    commands = shell_commands(block)
    assert len(commands) >= 9 and all(c.startswith("curl ") for c in commands)
    with running_process(shipped_models, "--reload-interval-s", "0") as server:
        for command in commands:
            host = server.url.removeprefix("http://")
            run = subprocess.run(
                ["bash", "-c", command.replace("localhost:8000", host)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert run.returncode == 0, (command, run.stderr)
            if " -sI " in command:
                assert run.stdout.startswith("HTTP/1.1 200"), (command, run.stdout)
                continue
            answer = json.loads(run.stdout)
            assert "error" not in answer, (command, answer)
            if "explain=true" in command:
                assert all("explanation" in p for p in answer["predictions"]), command


def test_the_readmes_figures_are_the_shipped_manifests() -> None:
    """The stale "accuracy 0.92" of an earlier mnist: every figure quoted for a shipped model
    is the one its manifest has."""
    metrics = {
        model: json.loads((ROOT / "models" / model / "1" / "manifest.json").read_text())["metrics"]
        for model in ("mnist", "mnist-cnn", "multilabel", "tshirt", "coffee")
    }
    assert str({"accuracy": metrics["mnist"]["accuracy"]}) in README
    assert f"1 ({metrics['mnist']['accuracy']}) keeps serving" in README  # what train says
    rows = {line.split("|")[1].strip(" `"): line for line in README.splitlines()
            if line.startswith("| `")}  # fmt: skip
    assert f"accuracy {100 * metrics['mnist']['accuracy']:.1f}%" in rows["mnist"]
    assert f"accuracy {100 * metrics['mnist-cnn']['accuracy']:.1f}%" in rows["mnist-cnn"]
    assert f"micro F1 {metrics['multilabel']['micro_f1']:.3f}" in rows["multilabel"]
    assert f"exact match {metrics['multilabel']['exact_match']:.3f}" in rows["multilabel"]
    assert f"accuracy {metrics['tshirt']['accuracy']:.3f}" in rows["tshirt"]
    assert f"ROC AUC {metrics['tshirt']['roc_auc']:.3f}" in rows["tshirt"]
    assert f"accuracy {metrics['coffee']['accuracy']:.3f}" in rows["coffee"]
    assert f"ROC AUC {metrics['coffee']['roc_auc']:.4f}" in rows["coffee"]


def lines_with(*words: str) -> list[str]:
    joined = README.replace("\\\n", " ")
    return [line for line in joined.splitlines() if all(w in line for w in words)]


def test_every_option_the_readme_gives_logitserve_exists() -> None:
    from service.commands.lifecycle import _parser
    from service.settings import Settings

    known = {f"--{name.replace('_', '-')}" for name in Settings.model_fields}
    known |= {f"--no-{name.replace('_', '-')}" for name in Settings.model_fields}
    for action in _parser()._subparsers._group_actions[0].choices.values():  # type: ignore[union-attr]
        known |= {option for a in action._actions for option in a.option_strings}
    named = set()
    commands = [line for line in README.splitlines() if re.search(r"(bin/|`)logitserve ", line)]
    table = [line for line in README.splitlines() if line.startswith("| `--")]
    for line in commands + table:
        named |= set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", line.split("#")[0]))
    named -= {"--help"}
    assert named and named <= known, sorted(named - known)


def test_every_option_the_readme_gives_training_exists() -> None:
    from typer.testing import CliRunner

    from training.cli import app

    helps = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["train", "--help"]).output
    helps += CliRunner(env={"COLUMNS": "200"}).invoke(app, ["evaluate", "--help"]).output
    named = set()
    for line in lines_with("-m training"):
        if "torchrun" not in line:
            named |= set(re.findall(r"(?<![\w-])--[a-z][a-z-]*(?![\w])", line.split("#")[0]))
    named -= {"--help"}
    missing = sorted(option for option in named if option not in helps)
    assert named and not missing, missing


def test_the_recipes_for_your_own_onnx_run_as_written(tmp_path: Path) -> None:
    """The skl2onnx and torch recipes, executed from the README, their graphs published with
    its commands and served: the service answers what scikit-learn and torch would."""
    import warnings

    import httpx
    import numpy as np
    import torch
    from sklearn.linear_model import LogisticRegression

    from tests.servers import running

    [recipe] = [b for b in code_blocks("python") if "from skl2onnx import to_onnx" in b]
    [publish] = [b for b in code_blocks("sh") if "publish clf.onnx" in b]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4)).astype(np.float32)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)).eval()
    models = tmp_path / "models"
    bin_dir = Path(sys.executable).parent
    fitted = {}
    warnings.filterwarnings("ignore", r"`isinstance\(treespec, LeafSpec\)`", FutureWarning)
    for classes in (3, 2):
        y = np.digitize(x[:, 0] + 0.5 * x[:, 1], np.linspace(-1, 1, classes + 1)[1:-1])
        clf = LogisticRegression().fit(x, y)
        work = tmp_path / f"{classes}"
        work.mkdir()
        scope = {"clf": clf, "X": x, "net": net, "sample": torch.zeros(2, 8, 8), "torch": torch}
        cwd = Path.cwd()
        try:
            import os

            os.chdir(work)
            exec(recipe, scope)  # noqa: S102 (the README's own code)
        finally:
            os.chdir(cwd)
        commands = shell_commands(publish)
        if classes == 2:  # as the comment says, for a binary classifier
            commands[0] = commands[0].replace("--task multiclass", "--task binary")
            commands[0] = commands[0].replace("--labels a,b,c", "--labels no,yes")
            commands[0] = commands[0].replace("--output probabilities", "--output logit")
            commands[0] = commands[0].replace("--name iris", "--name iris2")
        else:
            commands[1] = commands[1].split("#")[0]
        for command in commands[: 1 if classes == 2 else 2]:
            line = command.split("#")[0].replace(".venv/bin/", f"{bin_dir}/")
            run = subprocess.run(
                ["bash", "-c", f"{line} --models-dir {models}"],
                cwd=work,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert run.returncode == 0, (line, run.stderr)
        fitted["iris" if classes == 3 else "iris2"] = clf
    digit = np.zeros((1, 8, 8), np.float32)
    digit[0, 2:6, 3:5] = 255
    with running(models, reload_interval_s=0) as server:
        for name, clf in fitted.items():
            rows = {"instances": x[:20].tolist()}
            r = httpx.post(f"{server.url}/v1/models/{name}/predict", json=rows)
            served = np.array([list(p["probabilities"].values()) for p in r.json()["predictions"]])
            assert np.allclose(served, clf.predict_proba(x[:20]), atol=1e-5), name
        eight = {"instances": digit.tolist()}
        r = httpx.post(f"{server.url}/v1/models/digits8/predict", json=eight)
    with torch.no_grad():
        expected = torch.softmax(net(torch.from_numpy(digit)), dim=1).numpy()[0]
    served = np.array(list(r.json()["predictions"][0]["probabilities"].values()))
    assert np.allclose(served, expected, atol=1e-5)


def test_the_triton_examples_say_what_to_install() -> None:
    first = min(README.index(b) for b in code_blocks("python") if "import tritonclient" in b)
    assert "pip install 'tritonclient[http,grpc]'" in README[first - 300 : first]
