"""Satisfaction (满意度) and awareness (知晓率) surveys (issue #8)."""
