"""Stage code identity: the AST of the modules a stage runs, blind to comments, docstrings and layout."""

from __future__ import annotations

import textwrap

import pytest

from pipelines.lineage import code_identity
from pipelines.lineage.code_identity import (
    changed_sources,
    closure,
    model_stage_code_identity,
    normalised_tree,
    stage_code_identity,
)

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


def test_an_unknown_entry_is_named():
    with pytest.raises(KeyError, match="datasets.nothing"):
        closure(["datasets.nothing"])
