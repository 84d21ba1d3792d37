"""``python -m skminibatch``: the default study and ``sweep`` on a CSV file."""

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_blobs, make_regression

import skminibatch.__main__ as cli
from skminibatch.__main__ import DataError, main, parse_args, read_csv, target_values

PNG = b"\x89PNG\r\n\x1a\n"
STUDY_OPTIONS = ("--epochs", "20", "--repeats", "1")  # fast: 20 epochs, one seed
QUICK_STUDY = ("--epochs", "1", "--repeats", "1")  # about a second


def write_csv(path, header, rows):
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def classification_csv(tmp_path):
    X, y = make_blobs(n_samples=90, centers=3, n_features=2, random_state=0)
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    rows = [[f"{a:.4f}", label, f"{b:.4f}"] for (a, b), label in zip(X, labels, strict=True)]
    return write_csv(tmp_path / "flowers.csv", ["width", "species", "length"], rows)


@pytest.fixture
def regression_csv(tmp_path):
    X, y = make_regression(n_samples=80, n_features=3, noise=1.0, random_state=0)
    rows = [[*(f"{v:.5f}" for v in x), f"{1000 + 50 * t:.3f}"] for x, t in zip(X, y, strict=True)]
    return write_csv(tmp_path / "prices.csv", ["a", "b", "c", "price"], rows)


def test_the_default_study_runs_and_writes_its_figure(tmp_path, subprocess_env):
    figure = tmp_path / "study.png"
    completed = subprocess.run(
        [sys.executable, "-m", "skminibatch", *STUDY_OPTIONS, "--out", str(figure)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=subprocess_env,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    out = completed.stdout
    assert figure.read_bytes()[:8] == PNG
    assert f"figure: {figure.resolve()}" in out
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("method"))
    for column in ("train acc", "test acc", "Keras tr/te", "volatility", "ep>=0.78", "ms/epoch"):
        assert column in lines[start]
    table = lines[start + 1 : lines.index("", start)]
    batch_sizes = [line.split()[2] for line in table]  # the method is two words
    assert batch_sizes == ["1", "1", "4", "8", "16", "32", "64", "128", "256", "450", "full"]
    assert [line.split()[3] for line in table[:2]] == ["0.01", "0.001"]
    assert "0.816/0.830" in table[-1] and "0.612/0.606" in table[0]
    assert "0.816/0.824" in table[1] and "0.832/0.812" in table[5]
    assert "suggested batch size:" in out
    # Progress on standard error: what runs, then one line per configuration as it finishes.
    progress = completed.stderr.splitlines()
    assert progress[0].startswith("training 11 configurations x 1 seed, 20 epochs each")
    assert "compiles the kernels" in progress[0]
    finished = [line for line in progress if line.startswith("[")]
    assert len(finished) == 11 and finished[-1].startswith("[11/11] batch 1, lr 0.001:")
    assert finished[0].startswith("[1/11] batch 1, lr 0.01: median test acc ")
    assert not any(line.startswith("[") for line in out.splitlines())


def test_default_output_is_batch_size_study_png_in_the_current_directory():
    args = parse_args([])
    assert args.out == Path("batch_size_study.png") and args.command is None
    assert (args.epochs, args.repeats, args.n_jobs, args.seed, args.verbose) == (200, 5, 1, 0, 0)


def test_sweep_has_its_own_defaults():
    args = parse_args(["sweep", "data.csv", "--target", "y"])
    assert (args.epochs, args.repeats, args.n_jobs, args.seed, args.out) == (200, 1, 1, 0, ".")


def test_batch_sizes_take_the_estimators_named_values():
    args = parse_args(["sweep", "d.csv", "--target", "y", "--batch-sizes", "8,auto,full"])
    assert args.batch_sizes == [8, "auto", "full"]


def test_options_written_before_sweep_count(classification_csv, tmp_path, capsys):
    out = tmp_path / "results"
    before = ["--epochs", "2", "--repeats", "3", "--seed", "7", "--out", str(out)]
    after = ["--target", "species", "--batch-sizes", "8"]
    assert main([*before, "sweep", str(classification_csv), *after]) == 0
    printed, progress = capsys.readouterr()
    assert progress.startswith("training 1 configurations x 3 seeds, 2 epochs each")
    assert "2 epochs; medians over 3 seed(s)" in printed
    with open(out / "batch_size_sweep.csv", newline="") as file:
        assert next(csv.DictReader(file))["n_repeats"] == "3"
    # Written both before and after 'sweep', the one after wins, as for any repeated option.
    args = parse_args(["--epochs", "2", "sweep", "data.csv", "--target", "y", "--epochs", "3"])
    assert (args.epochs, args.repeats) == (3, 1)


@pytest.mark.parametrize("command", ["study", "sweep"])
def test_results_that_cannot_be_saved_after_all_are_one_line_errors(
    classification_csv, monkeypatch, capsys, command
):
    """If --out passed the check but writing fails (it became unwritable meanwhile), the
    results already printed stay, and the error is one line with exit status 1."""
    monkeypatch.setattr(cli, "_check_directory", lambda usage_error, directory: None)
    sweep = ["sweep", str(classification_csv), "--target", "species", "--out", "/proc/results"]
    argv = (
        sweep + list(QUICK_STUDY) if command == "sweep" else [*QUICK_STUDY, "--out", "/proc/s.png"]
    )
    assert main(argv) == 1
    printed = capsys.readouterr()
    assert "batch size" in printed.out.lower() and "Traceback" not in printed.err
    written = (
        "table not written to /proc/results/batch_size_sweep.csv"
        if command == "sweep"
        else ("figure not written to /proc/s.png")
    )
    assert printed.err.splitlines()[-1].startswith(f"python -m skminibatch: error: {written}: ")


def test_a_figure_name_without_suffix_gets_png_and_the_real_path_is_printed(tmp_path, capsys):
    assert main([*QUICK_STUDY, "--out", str(tmp_path / "study")]) == 0
    figure = tmp_path / "study.png"
    assert figure.read_bytes()[:8] == PNG
    assert f"figure: {figure.resolve()}\n" in capsys.readouterr().out
    assert parse_args(["--out", "study.PNG"]).out == Path("study.PNG")
    assert parse_args(["--out", "study.svg"]).out == Path("study.svg")


def _usage_error(argv, capsys):
    """The message of ``main(argv)``'s usage error, checking that nothing was trained."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "training" not in err and "Traceback" not in err
    return err.splitlines()[-1]


@pytest.mark.parametrize("command", ["study", "sweep"])
@pytest.mark.parametrize("seed, repeats", [("-1", "1"), ("4294967296", "1"), ("4294967294", "3")])
def test_seeds_out_of_range_are_usage_errors(classification_csv, capsys, command, seed, repeats):
    options = ["--epochs", "1", "--repeats", repeats, "--seed", seed]
    sweep = ["sweep", str(classification_csv), "--target", "species"]
    argv = [*sweep, *options] if command == "sweep" else options
    message = _usage_error(argv, capsys)
    assert message.endswith(
        f"argument --seed: must be from 0 to {2**32 - int(repeats)} with "
        f"--repeats {repeats} (the seeds SEED..SEED+REPEATS-1 must be below "
        f"2**32): {seed}"
    )


def test_the_last_seed_may_be_2_to_the_32_minus_1():
    assert parse_args(["--seed", str(2**32 - 3), "--repeats", "3"]).seed == 2**32 - 3


def test_bad_out_paths_and_target_scores_are_usage_errors(classification_csv, tmp_path, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    a_directory = tmp_path / "a_directory"
    (a_directory / "named.png").mkdir(parents=True)
    sweep = ["sweep", str(classification_csv), "--target", "species", "--epochs", "1"]
    cases = [
        ([*sweep, "--out", str(a_file)], f"argument --out: '{a_file}' is a file, not a directory"),
        (
            [*sweep, "--out", str(a_file / "results")],
            f"argument --out: '{a_file}' is a file, not a directory",
        ),
        (
            [*QUICK_STUDY, "--out", str(a_file / "study.png")],
            f"argument --out: '{a_file}' is a file",
        ),
        (
            [*QUICK_STUDY, "--out", str(a_directory)],
            f"argument --out: '{a_directory}' is a directory",
        ),
        (
            [*QUICK_STUDY, "--out", str(a_directory / "named")],
            f"argument --out: '{a_directory / 'named.png'}' is a directory",
        ),
        (
            [*QUICK_STUDY, "--out", str(tmp_path / "study.v2")],
            f"argument --out: matplotlib cannot write the format of '{tmp_path / 'study.v2'}'",
        ),
        (
            [*QUICK_STUDY, "--out", f"{tmp_path / 'new_directory'}/"],
            f"argument --out: '{tmp_path / 'new_directory'}/' names a directory",
        ),
        ([*sweep, "--target-score", "nan"], "argument --target-score: must be a finite number"),
        # Linux's /proc exists and takes no files: refused before training, not after
        ([*sweep, "--out", "/proc/results"], "argument --out: cannot write in '/proc'"),
        ([*QUICK_STUDY, "--out", "/proc/study.png"], "argument --out: cannot write in '/proc'"),
    ]
    for argv, message in cases:
        assert message in _usage_error(argv, capsys)
    assert a_file.read_text() == "" and list(a_directory.iterdir()) == [a_directory / "named.png"]


def test_sweep_on_a_classification_csv(classification_csv, tmp_path, capsys):
    out = tmp_path / "results"
    options = ["--batch-sizes", "4,16,full", "--learning-rates", "0.01,0.1"]
    options += ["--target-score", "0.5", "--out", str(out)]
    status = main(
        ["sweep", str(classification_csv), "--target", "species", "--epochs", "5", *options]
    )
    assert status == 0
    printed, progress = capsys.readouterr()
    assert progress.splitlines()[0].startswith(
        "training 6 configurations x 1 seed, 5 epochs each, on 72 rows of "
    )
    assert progress.splitlines()[1:] == [
        line for line in progress.splitlines() if line.startswith("[")
    ]
    assert progress.splitlines()[-1].startswith("[6/6] batch full, lr 0.1: median val acc ")
    assert "classification of 'species' from 2 standardised features" in printed
    assert "72 training and 18 validation rows" in printed
    with open(out / "batch_size_sweep.csv", newline="") as file:
        table = list(csv.DictReader(file))
    assert [(row["batch_size"], row["learning_rate"]) for row in table] == [
        ("4", "0.01"),
        ("4", "0.1"),
        ("16", "0.01"),
        ("16", "0.1"),
        ("full", "0.01"),
        ("full", "0.1"),
    ]
    assert {"val_score", "volatility", "epochs_to_target", "seconds_per_epoch"} <= set(table[0])
    assert b"\r" not in (out / "batch_size_sweep.csv").read_bytes()  # Unix line ends, as pandas
    assert (out / "batch_size_sweep.png").read_bytes()[:8] == PNG


def test_sweep_on_a_regression_csv(regression_csv, tmp_path, capsys):
    options = ["--batch-sizes", "1,8,500", "--out", str(tmp_path), "--hidden", "8,4"]
    status = main(["sweep", str(regression_csv), "--target", "price", "--epochs", "5", *options])
    assert status == 0
    printed = capsys.readouterr().out
    assert "regression of 'price'" in printed  # floats: auto-detected
    assert "val R^2" in printed
    assert "skipped batch sizes larger than the training set: [500]" in printed
    with open(tmp_path / "batch_size_sweep.csv", newline="") as file:
        table = list(csv.DictReader(file))
    assert [row["batch_size"] for row in table] == ["1", "8"]
    # Standardised target: the network learns the trend within a few epochs at batch size 1.
    assert float(table[0]["val_score"]) > 0.5


def test_regression_can_be_forced_on_an_integer_target(tmp_path, capsys):
    rows = [[i, i % 3] for i in range(40)]
    path = write_csv(tmp_path / "ints.csv", ["x", "y"], rows)
    assert (
        main(["sweep", str(path), "--target", "y", "--epochs", "2", "--out", str(tmp_path)]) == 0
    )
    assert "classification of 'y'" in capsys.readouterr().out
    args = ["sweep", str(path), "--target", "y", "--task", "regression", "--epochs", "2"]
    assert main([*args, "--out", str(tmp_path)]) == 0
    assert "regression of 'y'" in capsys.readouterr().out


def test_task_detection():
    assert target_values(np.array(["1", "2", "1"]), None, "y")[1] == "classification"
    assert target_values(np.array(["a", "b", "a"]), None, "y")[1] == "classification"
    assert target_values(np.array(["1.0", "2.0", "1.0"]), None, "y")[1] == "regression"
    many = np.array([str(i) for i in range(21)])
    assert target_values(many, None, "y")[1] == "regression"
    labels, task = target_values(np.array(["3", "1", "3"]), None, "y")
    assert task == "classification" and labels.dtype.kind == "i"
    with pytest.raises(DataError, match="not numeric"):
        target_values(np.array(["a", "b"]), "regression", "y")
    with pytest.raises(DataError, match="single class"):
        target_values(np.array(["a", "a"]), None, "y")


@pytest.mark.parametrize(
    "header, row, target, message",
    [
        (["x", "name", "y"], ["1.0", "bob", "0"], "y", "column 'name' is not numeric"),
        (["x", "z", "y"], ["1.0", "", "0"], "y", "column 'z' has an empty value on line 7"),
        (["x", "z", "y"], ["", "", ""], "y", "column 'x' has an empty value on line 7"),
        (["x", "y"], ["1.0", ""], "y", "target column 'y' has an empty value on line 7"),
        (["x", "y"], ["1.0", "0"], "label", "target column 'label' not found"),
        (["x", "y"], ["1.0", "0", "7"], "y", "has 3 fields"),
        (["x", "y"], ["inf", "0"], "y", "column 'x' has an infinite value ('inf') on line 7"),
        (["x", "y"], ["nan", "0"], "y", "column 'x' has a missing value ('nan') on line 7"),
        (["x", "y"], ["1.0", "NaN"], "y", "target column 'y' has a missing value ('NaN') on line"),
        (["x", "y", "y"], ["1.0", "0", "0"], "y", "bad.csv repeats the column name(s) 'y'"),
    ],
)
def test_bad_csv_files_exit_with_status_2_and_one_line(
    tmp_path, capsys, header, row, target, message
):
    good = [[str(i % 2) if name == "y" else str(i) for name in header] for i in range(20)]
    path = write_csv(tmp_path / "bad.csv", header, [*good[:5], row, *good[5:]])
    assert main(["sweep", str(path), "--target", target, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("python -m skminibatch sweep: error:")
    assert message in err  # line 7: the header is line 1, the bad row the 6th data row
    if "not numeric" in message:
        assert "line 7" in err


def test_a_bad_csv_in_a_subprocess_prints_no_traceback(tmp_path, subprocess_env):
    rows = [["1.0", "x", "0"]] * 12
    path = write_csv(tmp_path / "bad.csv", ["a", "colour", "y"], rows)
    completed = subprocess.run(
        [sys.executable, "-m", "skminibatch", "sweep", str(path), "--target", "y"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=subprocess_env,
        timeout=120,
    )
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    assert completed.stderr.strip().splitlines() == [
        "python -m skminibatch sweep: error: column 'colour' is not numeric: the value 'x' on "
        "line 2; features must be numbers"
    ]
    assert not list(tmp_path.glob("*.png"))


@pytest.mark.parametrize("task", [None, "classification", "regression"])
def test_a_missing_target_value_is_reported_as_such_whatever_the_task(tmp_path, capsys, task):
    rows = [[i, ["1.5", "2.5", "nan"][i % 3]] for i in range(30)]
    path = write_csv(tmp_path / "gaps.csv", ["x", "y"], rows)
    task_option = [] if task is None else ["--task", task]
    assert main(["sweep", str(path), "--target", "y", *task_option, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.endswith("error: target column 'y' has a missing value ('nan') on line 4\n")


def test_blank_lines_are_skipped_but_lines_of_empty_fields_are_not(tmp_path):
    rows = [f"{i},{i % 2}\n" for i in range(12)]
    path = tmp_path / "gaps.csv"
    path.write_text("\nx,y\n" + "".join(rows[:4]) + "\n   \n" + "".join(rows[4:]) + "\n")
    X, y, names = read_csv(path, "y")
    assert X.shape == (12, 1) and names == ["x"] and y.tolist() == [str(i % 2) for i in range(12)]
    path.write_text("x,y\n" + "".join(rows[:4]) + ",\n" + "".join(rows[4:]))
    with pytest.raises(DataError, match="column 'x' has an empty value on line 6"):
        read_csv(path, "y")


def test_the_training_rows_must_be_enough_for_the_suggestion(tmp_path, capsys):
    path = write_csv(tmp_path / "tiny.csv", ["x", "t"], [[i, 0.3 + 1.5 * i] for i in range(10)])
    argv = ["sweep", str(path), "--target", "t", "--epochs", "1", "--out", str(tmp_path)]
    assert main([*argv, "--validation", "0.9"]) == 2
    printed, err = capsys.readouterr()
    assert printed == "" and err.splitlines() == [
        "python -m skminibatch sweep: error: --validation 0.9 leaves 1 of the 10 rows for "
        "training; the study needs at least 2: lower --validation"
    ]
    assert main([*argv, "--validation", "0.8"]) == 0  # 2 training rows
    assert (tmp_path / "batch_size_sweep.csv").exists()


def test_other_data_problems(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        read_csv(tmp_path / "missing.csv", "y")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="empty"):
        read_csv(empty, "y")
    short = write_csv(tmp_path / "short.csv", ["x", "y"], [[1, 0], [2, 1]])
    with pytest.raises(DataError, match="at least 10"):
        read_csv(short, "y")
    only = write_csv(tmp_path / "only.csv", ["y"], [[i] for i in range(12)])
    with pytest.raises(DataError, match="no feature columns"):
        read_csv(only, "y")


@pytest.mark.parametrize(
    "option, value",
    [
        ("--batch-sizes", "0,8"),
        ("--batch-sizes", "8,eight"),
        ("--batch-sizes", "8,8"),
        ("--learning-rates", "-1"),
        ("--epochs", "0"),
        ("--validation", "1.5"),
        ("--task", "ranking"),
    ],
)
def test_bad_options_exit_with_status_2(classification_csv, capsys, option, value):
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", str(classification_csv), "--target", "species", option, value])
    assert exit_info.value.code == 2
    assert option in capsys.readouterr().err


def test_help_documents_every_option(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    top = capsys.readouterr().out
    for text in ("--epochs", "--repeats", "--seed", "--n-jobs", "--out", "sweep", "volatility"):
        assert text in top
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    sweep = capsys.readouterr().out
    for text in (
        "--target",
        "--task",
        "--batch-sizes",
        "--learning-rates",
        "--epochs",
        "--out",
        "--hidden",
        "--validation",
        "--target-score",
        "standardised",
        "at most 20 distinct values",
        "exit status 2",
    ):
        assert text in " ".join(sweep.split()), text
