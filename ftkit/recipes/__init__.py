"""Lesson recipes as scripts: `ftkit train CONFIG.yaml` (configs/*.yaml), `ftkit estimate CONFIG.yaml`.

config.py  reads and checks a YAML recipe with the notebooks' own config classes
run.py     runs it headless (one process, or data-parallel under `accelerate launch` / torchrun)
ddp_fit.py the plain PyTorch loop of lesson 01 on Accelerate (the script path; `ftkit.fit` is unchanged)
"""
