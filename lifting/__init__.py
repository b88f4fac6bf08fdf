"""mocaplift's learning layer: uplifting transformers, losses, metrics, training and evaluation.

Importing it checks that ``import datasets`` finds mocaplift's package, not Hugging Face's: when theirs is
first on ``sys.path``, ``datasets/__init__.py`` (which refuses the opposite order) never runs, so only this
check can see it, and it cannot import that module's fix text either.
"""

try:
    from datasets import MOCAPLIFT_DATASETS  # noqa: F401  (the marker only mocaplift's package has)
except ImportError as error:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "`import datasets` found a package that is not mocaplift's `datasets` (Hugging Face's `datasets` "
        "is probably installed and earlier on sys.path). Fix: install mocaplift in its own virtual "
        "environment, or `pip uninstall datasets`."
    ) from error
