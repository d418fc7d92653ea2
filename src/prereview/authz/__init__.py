"""Who may do what: the actor, the kinds of organisation, the permissions and the policy.

The bottom layer that every capability shares (audit and identity included), so that none of
them needs another to decide or record an action. It holds no tables and reads no database.
"""
