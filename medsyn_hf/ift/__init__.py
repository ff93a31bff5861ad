"""The Russian medical instruction-following dataset: seven task families in TRL's prompt-completion format
(``medsyn ift build``)."""
