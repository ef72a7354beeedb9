"""Job packages on the box: their format, their rules, importing them, the active package, and the
languages the box can offer.
"""
