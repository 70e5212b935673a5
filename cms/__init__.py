"""cms: each site's public pages, as Wagtail page types in that site's own schema.

The complaint channels page (the site's home), the web form, the receipt and tracking pages
and the posters live here; the form hands complaints to the casework engine.
"""
