"""An interview session: check-in codes, the roster of invitations, the state machine and its
engine, the question flow, the result and the candidate's receipt.
"""
