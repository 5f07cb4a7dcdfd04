"""Dataset snapshots and exports, LoRA SFT and DPO, evaluation campaigns, the model registry."""
