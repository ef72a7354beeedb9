"""What the box and central share, and nothing else of ours: the wire contract (messages and signed
documents), canonical JSON, the base error, atomic file writes.
"""
