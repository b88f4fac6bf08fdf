"""mocaplift's learning layer: uplifting transformers, losses, metrics, training and evaluation."""

try:
    from datasets import MOCAPLIFT_DATASETS  # noqa: F401  (the marker only mocaplift's package has)
except ImportError as error:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "`import datasets` found a package that is not mocaplift's `datasets` (Hugging Face's `datasets` "
        "is probably installed and earlier on sys.path). Fix: install mocaplift in its own virtual "
        "environment, or `pip uninstall datasets`."
    ) from error
