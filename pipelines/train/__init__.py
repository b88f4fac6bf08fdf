"""Training stages: the ``pretrain``, ``finetune`` and ``pretrain-finetune`` flows.

``flows`` holds the flows, ``options`` what they train and how they run, ``publish`` the training or reuse of
one checkpoint version.
"""
