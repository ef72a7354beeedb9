"""The box's side of the link to central: the outbox, signed documents coming in, central's
settings, TLS files, erasure, and the sync controls, link state and delivery status staff see.
"""
