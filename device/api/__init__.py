"""device/api"""
