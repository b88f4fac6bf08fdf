"""Stage code identity: the AST of the modules a stage runs, blind to comments, docstrings and layout."""

from __future__ import annotations

import textwrap

import pytest

from pipelines.lineage import code_identity
from pipelines.lineage.code_identity import (
    STAGE_CODE,
    UnfollowableImportError,
    absolute_name,
    changed_sources,
    closure,
    model_stage_code_identity,
    normalised_tree,
    stage_code_identity,
)
from pipelines.stage_names import BASELINE, EVALUATE, FINETUNE, IMPORT_CHECKPOINT, LIFT, PREPROCESS_AMASS, PRETRAIN

ORIGINAL = textwrap.dedent(
    '''
    """Module docstring."""

    SCALE = 2.0
    """Attribute docstring."""


    def scaled(value):
        """Function docstring."""
        return value * SCALE  # metres
    '''
)


def _clear_caches() -> None:
    for cached in (code_identity.module_files, code_identity.data_files, code_identity._parsed,
                   code_identity._parse_cache, code_identity._data_digest, code_identity.code_identity):  # fmt: skip
        cached.cache_clear()


@pytest.fixture
def repository(tmp_path, monkeypatch):
    """A tiny project tree: ``datasets.a`` imports ``datasets.b`` (which names ``cams.json``); ``lifting.c`` alone."""
    files = {
        "datasets/__init__.py": "",
        "datasets/a.py": "from datasets.b import scaled\n\nVALUE = scaled(1.0)\n",
        "datasets/b.py": ORIGINAL + '\nCAMERAS = "cams.json"\n',
        "datasets/data/cams.json": '{"f": [1, 2]}',
        "datasets/data/unused.json": '{"g": 3}',
        "lifting/__init__.py": "",
        "lifting/c.py": "X = 1\n",
        "pipelines/__init__.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(code_identity, "REPOSITORY_ROOT", tmp_path)
    monkeypatch.setenv("MOCAPLIFT_CACHE", str(tmp_path / "user-cache"))
    _clear_caches()
    yield tmp_path
    _clear_caches()


def identity_of(*entries: str) -> code_identity.CodeIdentity:
    _clear_caches()
    return code_identity.code_identity(entries)


def test_comments_docstrings_and_formatting_do_not_count_but_code_does():
    reformatted = ORIGINAL.replace("value * SCALE  # metres", "(value\n            * SCALE)")
    reformatted = reformatted.replace('"""Function docstring."""', "# a comment\n    '''Another docstring.'''")
    reformatted = reformatted.replace('"""Attribute docstring."""\n', "")
    assert normalised_tree(reformatted) == normalised_tree(ORIGINAL)
    assert normalised_tree(ORIGINAL.replace("value * SCALE", "value / SCALE")) != normalised_tree(ORIGINAL)
    assert normalised_tree(ORIGINAL + "\nUNUSED = 1\n") != normalised_tree(ORIGINAL)  # code, even if unused


def test_the_closure_follows_imports_and_parent_packages_and_names_data_files(repository):
    assert closure(["datasets.a"]) == ["datasets", "datasets.a", "datasets.b"]
    identity = identity_of("datasets.a")
    assert set(identity.sources) == {"datasets", "datasets.a", "datasets.b", "datasets/data/cams.json"}
    assert identity_of("lifting.c").fingerprint != identity.fingerprint


def test_an_edit_changes_the_identity_only_of_stages_whose_closure_holds_the_module(repository):
    before, unrelated = identity_of("datasets.a"), identity_of("lifting.c")
    b = repository / "datasets" / "b.py"
    b.write_text(b.read_text().replace("# metres", "# metres, as everywhere") + "\n# trailing comment\n")
    assert identity_of("datasets.a") == before
    b.write_text(b.read_text().replace("value * SCALE", "value * SCALE * SCALE"))
    after = identity_of("datasets.a")
    assert after.fingerprint != before.fingerprint and identity_of("lifting.c") == unrelated
    assert changed_sources(before.to_manifest(), after) == ["datasets.b"]


def test_json_data_counts_by_value_not_layout(repository):
    before = identity_of("datasets.a")
    (repository / "datasets/data/cams.json").write_text('{\n  "f": [1,\n        2]\n}\n')
    (repository / "datasets/data/unused.json").write_text('{"g": 4}')  # named by no module of the closure
    assert identity_of("datasets.a") == before
    (repository / "datasets/data/cams.json").write_text('{"f": [1, 3]}')
    assert changed_sources(before.to_manifest(), identity_of("datasets.a")) == ["datasets/data/cams.json"]


def test_a_second_run_reads_parsed_sources_from_the_user_cache_and_an_edit_parses_again(repository, monkeypatch):
    cold = identity_of("datasets.a")
    assert (repository / "user-cache" / code_identity.PARSE_CACHE_FILE).is_file()

    def parse_refused(*args, **kwargs):
        raise AssertionError("parsed although the cache holds this source")

    monkeypatch.setattr(code_identity.ast, "parse", parse_refused)
    assert identity_of("datasets.a") == cold  # every source from the cache, none parsed
    b = repository / "datasets" / "b.py"
    b.write_text(b.read_text() + "\n# an edit\n")
    with pytest.raises(AssertionError, match="parsed although"):
        identity_of("datasets.a")  # the edited source is a new key: it is parsed
    monkeypatch.undo()
    (repository / "user-cache" / code_identity.PARSE_CACHE_FILE).write_text("{truncated")
    monkeypatch.setattr(code_identity, "REPOSITORY_ROOT", repository)
    monkeypatch.setenv("MOCAPLIFT_CACHE", str(repository / "user-cache"))
    assert identity_of("datasets.a") == cold  # an unreadable cache is parsed around (the edit was a comment)


def test_a_stage_version_bump_changes_the_identity(repository):
    assert code_identity.code_identity(("datasets.a",), version=2) != code_identity.code_identity(("datasets.a",))


def test_real_stages_count_what_they_run_and_not_other_models():
    amass = stage_code_identity("preprocess-amass").sources
    assert "datasets.amass.convert" in amass and "datasets/data/h36m_cameras.json" in amass
    assert not any(name.startswith("lifting.models") for name in amass)
    assert "pipelines.lineage.versioning" not in amass  # version machinery never shapes an output
    uplift = model_stage_code_identity("pretrain", "uplift-upsample").sources
    assert "lifting.models.uplift_upsample" in uplift and "lifting.training.loop" in uplift
    assert "lifting.models.mixste" not in uplift and "lifting.models.tmt" not in uplift
    assert "datasets.amass.convert" not in uplift  # the converter reaches training only through its arrays
    tmt = model_stage_code_identity("finetune", "mixste-tmt").sources
    assert {"lifting.models.tmt", "lifting.models.mixste"} <= set(tmt) and "lifting.models.uplift_upsample" not in tmt
    assert "lifting.models.mixste" in model_stage_code_identity("evaluate", "mixste").sources
    # Evaluation (its viewer files included) and the mean-pose baseline read stores, never the AMASS converter.
    for stage, model in (("evaluate", "uplift-upsample"), ("baseline", None)):
        sources = model_stage_code_identity(stage, model).sources
        assert not any(name.startswith("datasets.amass") for name in sources), stage


def test_an_unlisted_stage_counts_every_project_module():
    sources = stage_code_identity("convert-test").sources
    assert {"datasets.amass.convert", "lifting.models.mixste", "pipelines.train.flows"} <= set(sources)


def _write(root, files):
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    _clear_caches()


def test_relative_imports_resolve_from_the_importing_package():
    """One dot is the package itself, each further dot one package up; a package's ``__init__`` is its package."""
    assert absolute_name("lifting.models", "registry", 1) == "lifting.models.registry"
    assert absolute_name("lifting.models", None, 1) == "lifting.models"
    assert absolute_name("lifting.models", "metrics", 2) == "lifting.metrics"
    assert absolute_name("lifting.models", None, 2) == "lifting"
    assert absolute_name("lifting", "losses", 0) == "losses"


def test_the_closure_follows_relative_imports(repository):
    _write(repository, {
        "datasets/sub/__init__.py": "from . import d\n",
        "datasets/sub/d.py": "from .e import X\nfrom ..b import scaled\n",
        "datasets/sub/e.py": "X = 1\n",
    })  # fmt: skip
    assert closure(["datasets.sub.d"]) == ["datasets", "datasets.b", "datasets.sub", "datasets.sub.d", "datasets.sub.e"]


def test_a_literal_import_module_is_followed_and_a_computed_one_is_an_error_naming_file_and_line(repository):
    _write(repository, {
        "datasets/literal.py": "import importlib\n\nB = importlib.import_module('datasets.b')\n",
        "datasets/computed.py": "import importlib\n\nNAME = 'datasets.b'\nB = importlib.import_module(NAME)\n",
        "datasets/dunder.py": "B = __import__('datasets.' + 'b')\n",
        "lifting/d.py": "from datasets import computed\n",
    })  # fmt: skip
    assert "datasets.b" in closure(["datasets.literal"])
    computed = r"datasets/computed\.py: line 4: importlib\.import_module\(NAME\)"
    with pytest.raises(UnfollowableImportError, match=computed):
        closure(["lifting.d"])  # reached through an import, not only as an entry
    with pytest.raises(UnfollowableImportError, match=r"dunder\.py: line 1: __import__"):
        identity_of("datasets.dunder")


def test_an_edit_to_a_stages_flow_changes_its_identity_and_other_flows_are_not_entered(repository):
    """``pipelines.train`` is an entry and defines a flow; it imports ``pipelines.convert``, another stage's flow,
    which reaches this stage only through its outputs: not entered, so its ``datasets.a`` is not counted."""
    flow = "from pipelines.orchestration import flow\n\n\n@flow(name='{name}')\ndef run():\n    return {value}\n"
    _write(repository, {
        "pipelines/orchestration.py": "def flow(name):\n    return lambda function: function\n",
        "pipelines/convert.py": "import datasets.a\n" + flow.format(name="convert", value=1),
        "pipelines/train.py": "import pipelines.convert\nimport lifting.c\n" + flow.format(name="train", value=2),
    })  # fmt: skip
    assert closure(["pipelines.train"]) == ["lifting", "lifting.c", "pipelines", "pipelines.orchestration",
                                            "pipelines.train"]  # fmt: skip
    before = identity_of("pipelines.train")
    train = repository / "pipelines" / "train.py"
    train.write_text(train.read_text().replace("return 2", "return 3"))
    assert changed_sources(before.to_manifest(), identity_of("pipelines.train")) == ["pipelines.train"]


def test_every_real_closure_holds_only_imports_it_can_follow():
    for stage in STAGE_CODE:
        assert closure(STAGE_CODE[stage].entries), stage  # raises on an import by a computed name


def _flows_and_id_derivations():
    """Stage -> the functions its output and id depend on beyond the task bodies: the flow and the id derivation.

    The baseline is a task of ``pretrain-finetune`` whose parameters (data, split) count as parent and config.
    """
    from pipelines.convert import amass, benchmarks, conversion
    from pipelines.evaluate import flows as evaluation
    from pipelines.lift import flow as lifting
    from pipelines.lift import import_checkpoint as importing
    from pipelines.train import flows as training
    from pipelines.train import publish

    return {
        PREPROCESS_AMASS: (amass.preprocess_amass, amass.amass_conversion, conversion.conversion_run),
        **{benchmark.stage: (flow, benchmarks.benchmark_record, conversion.run_reader_conversion)
           for benchmark, flow in ((benchmarks.H36M, benchmarks.preprocess_h36m),
                                   (benchmarks.MPI_3DHP, benchmarks.preprocess_3dhp),
                                   (benchmarks.HUMANEVA, benchmarks.preprocess_humaneva))},
        PRETRAIN: (training.pretrain, training.train_version, publish.training_stage_run),
        FINETUNE: (training.finetune, training.train_version, publish.training_stage_run),
        EVALUATE: (evaluation.evaluate_checkpoint, evaluation.evaluation_version, evaluation.evaluation_stage_run),
        BASELINE: (evaluation.baseline_version,),
        IMPORT_CHECKPOINT: (importing.import_checkpoint, importing.import_checkpoint_version,
                            importing.import_stage_run),
        LIFT: (lifting.lift, lifting.lift_version, lifting.lift_stage_run),
    }  # fmt: skip


def test_each_stage_counts_its_flow_and_the_module_deriving_its_version_id():
    """Editing a flow or how a stage hashes its config changes that stage's identity, with no version to bump."""
    counted = _flows_and_id_derivations()
    assert set(counted) == set(STAGE_CODE)
    for stage, functions in counted.items():
        modules = closure(STAGE_CODE[stage].entries)
        for function in functions:
            assert function.__module__ in modules, f"{stage}: {function.__module__} is not counted"


def test_an_unknown_entry_is_named():
    with pytest.raises(KeyError, match="datasets.nothing"):
        closure(["datasets.nothing"])
