"""Pretrain the packaged writer `medsyn-tiny` (`medsyn tiny-model --pretrain`): a small LLaMA learns Russian medical
text from the repository's own sources and, in the same run, the note-writing task, so that it writes notes that
mention the symptoms it is prompted with.

A plain seeded torch loop, not the Trainer: on 2 CPU cores the model is small enough that the Trainer's per-step
overhead and dataset plumbing would cost a noticeable share of the hour. Two kinds of batch are mixed from the start
(``task_share`` of the steps are task batches):

* language modelling on packed blocks of MedSyn GPT notes, RuMedTop3 *train* complaints, ICD-10 names, the Wikipedia
  disease descriptions and every instruction task but note writing (decontaminated against RuMedTop3 dev as
  `medsyn ift build --decontaminate` does);
* note writing: the instruction dataset's `note_writing` rows (our prompt templates rendered from a GPT note's code,
  symptoms and patient -> that note), loss on the note only;
* complaint writing (``complaint_share`` of the task batches, a later stage): the `complaint_writing` rows (the
  ``complaints`` template rendered from a RuMedTop3 *train* complaint's own prior -> that complaint), loss on the
  complaint only. ``complaint_val_rows`` train complaints are held out of everything the run trains on (these rows,
  the LM blocks, the other instruction tasks, the style exemplars) for the complaint validation loss and for
  benchmarks/tiny_writer_complaints.py, which chooses the stage's settings on them.

RuMedTop3 dev is read only to drop overlapping text, never trained on. A few hundred note-writing rows (and every
example made from the same notes) are held out for the validation loss in the card.

One module per job, in the order a run uses them:

- ``config``: ``PretrainConfig``, the run's settings and their ranges;
- ``data``: the data mix (``load_mix``) and its encoding into LM blocks and task rows (``encode_mix``);
- ``loop``: batches, learning-rate schedule, loss and the training loop (``train``);
- ``card``: the model card and the command that reproduces the run;
- ``run``: ``pretrain``, which ties them together and writes the model folder;
- ``cli``: the `medsyn tiny-model` command (a random-init model from ``medsyn_hf.tiny_model``, or ``--pretrain``).
"""
