"""The artifact: a folder of model files, labels.txt and manifest.json, the contract with every consumer."""
