"""The model store: the manifest of default models, installing them, verifying them at load, the
TFLite wrapper.
"""
