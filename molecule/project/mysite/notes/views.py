"""The front page says who answered; POST /upload/?name=NAME.txt stores the body as a text file in
MEDIA_ROOT/uploads/ and says its URL (a test project: no authentication, plain-text names only, so
nothing uploaded can run as a page of the site)."""

import re

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import HttpResponseBadRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .identity import identity


def index(request):
    # secure: Django's view of the request behind nginx's TLS (SECURE_PROXY_SSL_HEADER)
    return JsonResponse(dict(identity(), site="mysite", secure=request.is_secure()))


@csrf_exempt
@require_POST
def upload(request):
    name = request.GET.get("name", "")
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}\.txt", name):
        return HttpResponseBadRequest("?name= a plain .txt file name")
    stored = default_storage.save("uploads/" + name, ContentFile(request.body))
    return JsonResponse(dict(identity(), url=default_storage.url(stored)))
