"""The Russian medical instruction-following dataset: six task families in TRL's prompt-completion format
(``medsyn ift build``)."""
