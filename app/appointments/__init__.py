"""Appointments with capacity and reminders (issue #7): slots, bookings, the team's day."""
