"""Vacuum the deadline index early: every escalation moves a row, and the dead version stays
in `deadline_due` at a due time already past, which the idle sweep steps over until vacuum.
PostgreSQL's default waits for 20 % of the table to be dead (85,000 rows at 200 sites)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0003_site_editor"),
    ]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE tenants_deadline SET (autovacuum_vacuum_scale_factor = 0.0,"
            " autovacuum_vacuum_threshold = 2000, autovacuum_analyze_scale_factor = 0.02)",
            reverse_sql="ALTER TABLE tenants_deadline RESET (autovacuum_vacuum_scale_factor,"
            " autovacuum_vacuum_threshold, autovacuum_analyze_scale_factor)",
        ),
    ]
