"""Appointments with capacity and reminders: slots, bookings, the team's day.

- ``models``: slots, appointments, the services and their statuses.
- ``scope``: who sees which slots and appointments; the row-lock order.
- ``slots``: publishing slots (one, a list, a weekly pattern), cancelling and deleting them.
- ``booking``: book, cancel, reschedule, check in, no-show, and completion by the recorded visit.
- ``reminders``: what bookings put in the notification outbox and take back out.
- ``views``: slot and appointment lists, one appointment, the team's day.
- ``no_shows``: residents flagged for three no-shows in a row.
- ``jobs``: the team's list for tomorrow; ``demo``: the demo step; ``holidays``: public holidays.
"""
