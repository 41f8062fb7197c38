"""Support code for one lesson each, named after its notebook (`l02_freeze_lab` serves
`notebooks/02_freeze_lr_lab.ipynb`). Nothing in the core imports from here."""
