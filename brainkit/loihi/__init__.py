"""Loihi work that needs both training and the exporters: the CUBA LIF mapping of a trained
reset-free/gated network (:mod:`~brainkit.loihi.mapping`), hardware-aware fine-tuning
(:mod:`~brainkit.loihi.finetune`), checks of an export against Brian2 and Lava on its task
(:mod:`~brainkit.loihi.check`) and the ``export`` / ``finetune`` commands
(:mod:`~brainkit.loihi.cli`).  It sits above :mod:`brainkit.training` and
:mod:`brainkit.exporters`; neither imports it.
"""
