"""fusebook: burn Espressif eFuses from reviewed, version-controlled YAML recipes."""

__version__ = "0.1.0"
