"""casework: the complaint case from intake to close (立项 → 销项) and the back office.

Per-site configuration (tiers, milestones, departments, calendar), the case lifecycle as
services, the deadline sweep and the outbox; the back office screens site staff work in.
Lives in each site's own schema.
"""
