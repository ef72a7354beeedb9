"""PulseAudio null-sink rig for the audio tests (being written)."""
