"""Every mocaplift flow as a ``prefect.Flow``: the entry points of ``prefect.yaml`` and ``python flows.py serve``.

Prefect's loader takes a flow from a module attribute (``pipelines/prefect_entry.py:preprocess_amass``).
Making a ``prefect.Flow`` imports Prefect (about 1.4 s), so these objects live here, apart from the flow
definitions that the commands import and run in-process (``pipelines.orchestration``): only Prefect's loader,
``serve`` and the tests import this module. Each attribute is its flow's name with ``_`` for ``-``
(``pipelines.serve.entry_attribute``); ``tests/test_in_process_flows.py`` checks that every served flow is here.
"""

from pipelines.convert import amass, benchmarks
from pipelines.evaluate import flows as evaluation
from pipelines.lift import flow as lifting
from pipelines.lift import import_checkpoint as importing
from pipelines.train import flows as training

preprocess_amass = amass.preprocess_amass.prefect()
preprocess_h36m = benchmarks.preprocess_h36m.prefect()
preprocess_3dhp = benchmarks.preprocess_3dhp.prefect()
preprocess_humaneva = benchmarks.preprocess_humaneva.prefect()
pretrain = training.pretrain.prefect()
finetune = training.finetune.prefect()
evaluate = evaluation.evaluate_checkpoint.prefect()
pretrain_finetune = training.pretrain_finetune.prefect()
import_checkpoint = importing.import_checkpoint.prefect()
lift = lifting.lift.prefect()
