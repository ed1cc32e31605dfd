"""Two-way referral (双向转诊): up to a hospital and back down to the team, tracked to its end.

A referral is issued (up: the team sends a patient to a hospital; down: a hospital hands a patient
back, recorded by the team), then received, then returned with the hospital's summary and advice —
or cancelled. It rides the one plan engine: an up referral opens a ``referral`` plan that stays off
the worklists for the days the hospital has to answer and appears there if none came; a return (or
a down referral's receipt) opens the ``referral_return`` follow-up, due within 2 weeks, which the
resident is reminded of and the next visit closes.
"""
