"""The command line: ``estimators demo`` and ``python -m estimators``."""

import subprocess
import sys

from estimators.cli import main


def test_demo_runs_the_walkthrough(capsys):
    assert main(["demo"]) == 0
    assert "419.13" in capsys.readouterr().out


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_python_dash_m_estimators_demo():
    done = subprocess.run(
        [sys.executable, "-m", "estimators", "demo"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "11.8199" in done.stdout and "Traceback" not in done.stderr
