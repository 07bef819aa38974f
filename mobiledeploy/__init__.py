"""mobiledeploy: MobileNet v1 from Keras definition to measured artifacts on phones and boards."""

__version__ = "0.1.0"
