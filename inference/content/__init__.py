"""What a spoken answer says: evidence per competency, STAR, delivery, per-language vocabulary,
text matching, Chinese in one form.
"""
