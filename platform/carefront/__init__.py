"""The Django project of Carefront: settings, URL confs, the Celery app, WSGI.

It lives in platform/carefront/ and is imported as `carefront`, never as `platform`: the
folder platform/ is put on sys.path and has no __init__.py, so the standard library's
`platform` module stays the one Python finds.
"""

from carefront.celery import app as celery_app

__all__ = ["celery_app"]
