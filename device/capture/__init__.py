"""Capture on the box: microphone (PortAudio), camera backends, per-answer recording files."""
