"""`logitserve` at a shell: --help lists the commands beside every setting (with its
environment variable and a placeholder people can read), `list` shows what is served and
why, and every control action says which version serves as a result."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from service.__main__ import main
from service.commands.lifecycle import COMMANDS
from service.settings import Settings
from tests.builders import image_manifest, publish, random_mlp
from tests.servers import running


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exit:
        code = int(exit.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def three_versions(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    for version, accuracy in ((1, 0.90), (2, 0.95), (3, 0.93)):
        manifest = image_manifest("mnist", version) | {
            "metrics": {"accuracy": accuracy},
            "primary_metric": "accuracy",
        }
        publish(root, random_mlp(version), manifest)
    return root


@pytest.fixture(scope="module")
def help_text() -> str:
    return subprocess.run(
        [sys.executable, "-m", "service", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


def test_help_lists_the_commands_before_the_settings(help_text: str) -> None:
    commands = help_text.index("commands:")
    assert commands < help_text.index("options:")
    for name in COMMANDS:
        assert re.search(rf"^  {name} +\S", help_text[commands:], re.MULTILINE), name
    assert "logitserve COMMAND [ARGS]" in help_text


def test_help_names_each_settings_environment_variable(help_text: str) -> None:
    flat = " ".join(help_text.split())
    for name in Settings.model_fields:
        assert f"--{name.replace('_', '-')}" in flat, name
        assert f"[env: LOGITSERVE_{name.upper()}]" in flat, name


def test_help_placeholders_are_words_and_each_default_is_said_once(help_text: str) -> None:
    assert "{int,null}" not in help_text and "SecretStr" not in help_text
    assert "null" not in help_text and "list[str]" not in help_text
    assert "--control-token TOKEN" in help_text and "--port PORT" in help_text
    assert "--models-dir DIR" in help_text and "--body-timeout-s SECONDS" in help_text
    options = re.split(r"\n  (?=--)", help_text[help_text.index("options:") :])
    for option in options:
        assert len(re.findall(r"\bdefault\b", option)) <= 1, option
    assert "--cpu-below-rows N" in help_text  # its description says its default itself


def test_a_command_line_mistake_is_one_line_naming_the_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "--port", "99999")
    assert code == 2
    assert err == "logitserve: error: --port (LOGITSERVE_PORT): " + (
        "Input should be less than or equal to 65535\n"
    )


def test_list_shows_versions_roles_metrics_and_why_one_serves(
    capsys: pytest.CaptureFixture[str], three_versions: Path
) -> None:
    (three_versions / "mnist" / "serving.json").write_text(
        json.dumps({"version_policy": {"all": {}}, "gate": {"metric": "accuracy"}})
    )
    code, out, _ = run(capsys, "list", "--models-dir", str(three_versions))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"from the repository on disk at {three_versions}")
    assert "mnist  multiclass  version 2 serves (accuracy 0.95 >= 0.9 - 0 (version 1))" in out
    version_3 = next(line for line in lines if "version 3" in line and "candidate" in line)
    assert "validation accuracy 0.93" in version_3 and "0.93 < 0.95 - 0 (version 2)" in version_3
    assert re.search(r"version 1 +ready +older +validation accuracy 0\.9 ", out)


def test_status_is_list_and_a_missing_model_is_one_line(
    capsys: pytest.CaptureFixture[str], three_versions: Path
) -> None:
    code, out, _ = run(capsys, "status", "mnist", "--models-dir", str(three_versions))
    assert code == 0 and "version 3 serves (no promotion gate)" in out
    code, _, err = run(capsys, "list", "digits", "--models-dir", str(three_versions))
    assert (
        code == 1 and err == "logitserve list: error: no model 'digits' in the model repository\n"
    )


def test_a_version_that_cannot_load_is_listed_failed_with_the_reason(
    capsys: pytest.CaptureFixture[str], three_versions: Path
) -> None:
    (three_versions / "mnist" / "3" / "model.onnx").write_bytes(b"not a graph")
    code, out, _ = run(capsys, "list", "--models-dir", str(three_versions))
    assert code == 0 and "version 2 serves" in out
    assert re.search(r"version 3 +failed +- +.*sha256", out), out


def test_list_asks_a_running_server_when_given_its_url(
    capsys: pytest.CaptureFixture[str], three_versions: Path
) -> None:
    with running(three_versions, reload_interval_s=0) as server:
        code, out, _ = run(capsys, "list", "--url", server.url)
    assert code == 0
    assert out.splitlines()[0] == f"from the server at {server.url}: what it serves now"
    assert "mnist  multiclass  version 3 serves (no promotion gate)" in out


def test_promote_says_which_version_serves_as_a_result(
    capsys: pytest.CaptureFixture[str], three_versions: Path
) -> None:
    """The issue's case: promoting 2 without a gate leaves 3, newer, serving. Said so."""
    code, out, _ = run(capsys, "promote", "mnist", "2", "--models-dir", str(three_versions))
    assert code == 0
    assert out.splitlines() == [
        "mnist: promote version 2 (servers apply it at their next rescan)",
        "mnist: version 3 serves (no promotion gate)",
    ]


def test_pin_and_canary_say_which_version_serves_as_a_result(
    capsys: pytest.CaptureFixture[str], three_versions: Path
) -> None:
    models = ["--models-dir", str(three_versions)]
    _, out, _ = run(capsys, "pin", "mnist", "1", *models)
    assert out.splitlines()[-1] == "mnist: version 1 serves (pinned)"
    _, out, _ = run(capsys, "canary", "mnist", "2", "10", *models)
    assert out.splitlines()[-1] == (
        "mnist: version 1 serves (pinned); version 2 answers 10% of requests without a "
        "version (canary)"
    )
    _, out, _ = run(capsys, "unload", "mnist", *models)
    assert out.splitlines()[-1] == ("mnist: not ready: unloaded through the repository API")
