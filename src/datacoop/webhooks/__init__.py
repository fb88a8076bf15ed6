"""Signed webhooks: subscriptions, events written with the change that causes them, and their delivery.

See ``docs/webhooks.md`` for what a receiver gets and how it checks it.
"""
