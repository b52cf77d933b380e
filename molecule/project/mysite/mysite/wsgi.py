"""WSGI entry point, as Django's startproject writes it: plain HTTP, served by gunicorn in the
scenario's split (daphne_split)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

application = get_wsgi_application()
