"""What a new user trips on, from the README alone: each common mistake gets an error
(or a warning) that names the argument, what was given, what was expected and the fix;
help() has something to say about every public name."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import fastnn as fn
from fastnn import cli

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(40, 4)), rng.integers(0, 3, 40)


def _model(head: int, activation: str, loss: str, input_dim=None):
    model = fn.Model([fn.Dense(8, "relu"), fn.Dense(head, activation)], input_dim=input_dim)
    model.compile(loss=loss, optimizer="adam")
    return model


# ---------------------------------------------------------------- heads and targets


def test_a_one_unit_softmax_is_refused():
    """softmax over one unit is always 1: such a head trains to nothing, silently."""
    with pytest.raises(ValueError, match=r"always outputs 1.*Dense\(1, activation='sigmoid'\)"):
        fn.Dense(1, "softmax")
    fn.Dense(2, "softmax")  # two classes: fine


def test_a_sigmoid_head_with_class_labels_says_to_use_softmax(data):
    X, y = data
    model = _model(10, "sigmoid", "binary_cross_entropy")
    with pytest.raises(ValueError, match=r"shape \(40,\).*10 outputs") as raised:
        model.fit(X, y, verbose=0)  # was an IndexError
    message = str(raised.value)
    assert "Dense(10, activation='softmax')" in message and "loss='cross_entropy'" in message
    assert "(40, 10)" in message  # the multi-label alternative


def test_a_one_unit_sigmoid_with_many_classes_says_to_use_softmax(data):
    X, y = data
    model = _model(1, "sigmoid", "binary_cross_entropy")
    with pytest.raises(ValueError, match=r"class labels 0\.\.2.*Dense\(3, activation='softmax'\)"):
        model.fit(X, y, verbose=0)


def test_minus_one_plus_one_labels_for_binary_cross_entropy(data):
    X, y = data
    model = _model(1, "sigmoid", "binary_cross_entropy")
    with pytest.raises(ValueError, match=r"labels -1/\+1, give \(y \+ 1\) / 2"):
        model.fit(X, np.where(y > 0, 1, -1), verbose=0)
    model.fit(X, (np.where(y > 0, 1, -1) + 1) / 2, verbose=0)  # the fix works


def test_one_hot_rows_for_a_one_unit_sigmoid(data):
    X, y = data
    model = _model(1, "sigmoid", "binary_cross_entropy")
    with pytest.raises(ValueError, match=r"2 columns but the model has 1 output;.*y\[:, 1\]"):
        model.fit(X, np.eye(2)[y % 2], verbose=0)


def test_one_target_per_sample_for_several_regression_outputs(data):
    X, _ = data
    model = _model(3, "linear", "mse")
    with pytest.raises(
        ValueError, match=r"y has shape \(40,\).*3 outputs; expected shape \(40, 3\)"
    ):
        model.fit(X, np.linspace(0, 1, 40), verbose=0)  # was an IndexError


def test_string_labels_say_how_to_encode_them(data):
    X, y = data
    model = _model(3, "softmax", "cross_entropy")
    with pytest.raises(TypeError, match=r"dtype <U.*np\.unique\(y, return_inverse=True\)"):
        model.fit(X, np.array(["cat", "dog", "eel"])[y], verbose=0)


# ---------------------------------------------------------------- compile


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"loss": fn.losses.mse}, r"the function 'mse': give compile its name instead, loss='mse'"),
        ({"loss": len}, r"custom loss functions are not supported"),
        ({"loss": fn.losses.Huber}, r"the class Huber.*fn\.losses\.Huber\(\)"),
        ({"optimizer": fn.optimizers.Adam}, r"the class Adam.*fn\.optimizers\.Adam\(\).*'adam'"),
    ],
)
def test_compile_with_a_function_or_a_class_says_what_to_pass(arguments, expected):
    model = fn.Model([fn.Dense(2)])
    with pytest.raises(TypeError, match=expected):
        model.compile(**arguments)


def test_an_activation_class_says_to_make_an_instance():
    with pytest.raises(TypeError, match=r"the class LeakyReLU.*LeakyReLU\(\)"):
        fn.Dense(2, fn.activations.LeakyReLU)


@pytest.mark.parametrize("metric", [fn.metrics.accuracy, fn.metrics.mse, fn.metrics.mae])
def test_metrics_of_arrays_of_different_lengths(metric):
    with pytest.raises(ValueError, match=r"same number of samples; got shapes \(3,\) and \(2,\)"):
        metric([0, 1, 2], [0, 1])  # was NumPy's broadcasting error


def test_gradient_check_before_compile():
    model = fn.Model([fn.Dense(2)], input_dim=3, dtype="float64")
    with pytest.raises(RuntimeError, match=r"not compiled: call model.compile"):
        fn.gradient_check(model, np.ones((2, 3)), np.ones((2, 2)))


# ---------------------------------------------------------------- before fit


@pytest.mark.parametrize("call", ["predict", "evaluate", "forward_trace", "predict_classes"])
def test_using_a_model_before_fit_warns_when_that_builds_it(call, data):
    """With input_dim unknown, nothing can have set the weights: the answer is from the
    random initialization, most likely because fit was forgotten."""
    X, y = data
    model = _model(3, "softmax", "cross_entropy")
    arguments = (X, y) if call == "evaluate" else (X,)
    with pytest.warns(UserWarning, match=r"never trained.*4 features.*Call fit first") as caught:
        getattr(model, call)(*arguments)
    assert caught[0].filename == __file__  # points at the user's line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        getattr(model, call)(*arguments)  # built now: once is enough
        given = _model(3, "softmax", "cross_entropy", input_dim=4)
        getattr(given, call)(*arguments)  # input_dim given: an untrained model on purpose
        trained = _model(3, "softmax", "cross_entropy")
        trained.fit(X, y, verbose=0)
        getattr(trained, call)(*arguments)


def test_summary_before_the_input_size_is_known_does_not_invent_a_total():
    model = fn.Model([fn.Dense(8, "relu"), fn.Dense(3, "softmax")])
    lines = []
    model.summary(print_fn=lines.append)
    assert lines[-1].startswith("Total params: unknown") and "input_dim" in lines[-1]
    model.build(4)
    lines.clear()
    model.summary(print_fn=lines.append)
    assert lines[-1].startswith(f"Total params: {4 * 8 + 8 + 8 * 3 + 3}")


# ---------------------------------------------------------------- files


def test_saving_into_a_missing_folder_names_the_path_not_a_temporary_file(tmp_path):
    model = _model(3, "softmax", "cross_entropy", input_dim=4)
    target = tmp_path / "no" / "such" / "model.fnn"
    with pytest.raises(FileNotFoundError, match=r"model\.fnn: the folder .*such does not exist"):
        model.save(target)
    with pytest.raises(IsADirectoryError, match=r"it is a folder; .*model\.fnn"):
        model.save(tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing left behind


def test_loading_a_folder_says_it_is_one(tmp_path):
    with pytest.raises(IsADirectoryError, match=r"is a folder; load_model takes the path of"):
        fn.load_model(tmp_path)


def test_a_checkpoint_into_a_missing_folder_fails_before_the_first_epoch(tmp_path, data):
    X, y = data
    model = _model(3, "softmax", "cross_entropy")
    checkpoint = fn.callbacks.ModelCheckpoint(tmp_path / "missing" / "ckpt-{epoch}.fnn")
    with pytest.raises(FileNotFoundError, match=r"ModelCheckpoint path .*missing does not exist"):
        model.fit(X, y, epochs=3, verbose=0, callbacks=[checkpoint])
    assert model.steps_trained == 0
    fields = fn.callbacks.ModelCheckpoint(tmp_path / "{epoch}" / "m.fnn")  # made by format
    fields.set_model(model)
    fields.on_train_begin()


def test_cli_checks_save_and_plot_before_training(tmp_path, capsys):
    code = cli.main(["train", "--save", str(tmp_path / "missing" / "m.fnn"), "--verbose", "0"])
    out, err = capsys.readouterr()
    assert code == 2 and "test accuracy" not in out
    assert "the folder" in err and "does not exist" in err


def test_cli_plot_without_matplotlib_fails_before_training(tmp_path):
    """matplotlib made unimportable in a fresh interpreter, as it is where not installed."""
    script = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from fastnn import cli\n"
        f"sys.exit(cli.main(['train', '--plot', {str(tmp_path / 'c.png')!r}, '--verbose', '0']))"
    )
    result = _python(script)
    assert result.returncode == 2 and "test accuracy" not in result.stdout
    assert "--plot needs matplotlib: pip install 'fastnn[plot]'" in result.stderr


def test_cli_dtype_has_help():
    text = cli.build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    assert "floating-point type" in text


def _python(script: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


@pytest.mark.parametrize(
    ("missing", "use", "command"),
    [
        ("matplotlib", "fn.plot.history({'loss': [1.0]})", "pip install 'fastnn[plot]'"),
        ("sklearn", "fn.sklearn.MLPClassifier", "pip install 'fastnn[sklearn]'"),
        ("onnx", "fn.Model([fn.Dense(2)], input_dim=2).to_onnx('m.onnx')", "'fastnn[onnx]'"),
    ],
)
def test_a_missing_extra_names_the_command_that_installs_it(missing, use, command):
    """The extra made unimportable in a fresh interpreter; the install command is quoted,
    as shells with globbing (zsh) need it."""
    script = f"import sys; sys.modules[{missing!r}] = None\nimport fastnn as fn\n{use}"
    result = _python(script)
    assert result.returncode != 0
    assert "ImportError" in result.stderr and command in result.stderr, result.stderr


# ---------------------------------------------------------------- help()

USER_MODULES = [
    "activations",
    "callbacks",
    "data",
    "datasets",
    "initializers",
    "losses",
    "metrics",
    "optimizers",
    "regularizers",
    "schedules",
]


def _public_objects():
    for name in fn.__all__:
        value = getattr(fn, name)
        if not inspect.ismodule(value) and name != "__version__":
            yield f"fn.{name}", value
    for module_name in USER_MODULES:
        module = getattr(fn, module_name)
        yield f"fn.{module_name}", module
        for name in getattr(module, "__all__", None) or dir(module):
            value = getattr(module, name)
            own = getattr(value, "__module__", None) == module.__name__
            if not name.startswith("_") and own and (inspect.isclass(value) or callable(value)):
                yield f"fn.{module_name}.{name}", value


def _undocumented():
    for name, value in _public_objects():
        if not inspect.getdoc(value):
            yield name
        if inspect.isclass(value):
            for member, attribute in vars(value).items():
                public = not member.startswith("_")
                method = inspect.isfunction(attribute) or isinstance(attribute, property)
                if public and method and not inspect.getdoc(getattr(value, member)):
                    yield f"{name}.{member}"


def test_help_has_something_to_say_about_every_public_name():
    assert list(_undocumented()) == []


def test_model_and_dense_help_describe_their_arguments():
    for text in ("input_dim", "seed", "dtype", "backend"):
        assert text in fn.Model.__doc__
    for text in ("activation", "kernel_initializer", "kernel_regularizer", "trainable"):
        assert text in fn.Dense.__doc__
    for text in ("validation_split", "callbacks", "verbose", "Ctrl-C"):
        assert text in fn.Model.fit.__doc__
