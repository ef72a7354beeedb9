"""Speech recognition: one interface with Whisper and vosk behind it, audio in, answers cut at
pauses, recognition quality, error rates.
"""
