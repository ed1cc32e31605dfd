"""Chronic-disease follow-up (慢病随访): visits, plans, worklist, reminders, indicators."""
