"""pg_trgm in the public schema, where every site's schema finds it (django-tenants puts
`public` on each site's search_path). Created only where the server has it: the embedded
`pgserver` build ships no contrib extensions, so searches must work without it (slower)."""

from django.db import migrations

CREATE = """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
    END IF;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0004_deadline_autovacuum"),
    ]

    operations = [migrations.RunSQL(CREATE, reverse_sql=migrations.RunSQL.noop)]
