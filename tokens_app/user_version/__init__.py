"""token_version for a user model that has no such field (Django's default
``auth.User``): add ``"tokens_app.user_version"`` to INSTALLED_APPS.

The number lives in a row one-to-one with the user, created by the first
bump (no row means version 0), so the user model needs no migration. Projects
whose user model carries the field (``tokens_app.User``, or their own model
built on ``tokens_app.models.TokenVersionMixin``) leave this app out and get
no table.
"""
