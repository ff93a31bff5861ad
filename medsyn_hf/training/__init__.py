"""Supervised fine-tuning of the note writer (MedSyn step 4): configs, data mixture, attention, model card, the SFT
script."""
