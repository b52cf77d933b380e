"""The front page says who answered; POST /upload/ stores a file in MEDIA_ROOT and says its URL."""

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import HttpResponseBadRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .identity import identity


def index(request):
    return JsonResponse(dict(identity(), site="mysite"))


@csrf_exempt
@require_POST
def upload(request):
    name = request.GET.get("name", "")
    if not name or "/" in name or name.startswith("."):
        return HttpResponseBadRequest("?name= a plain file name")
    stored = default_storage.save("uploads/" + name, ContentFile(request.body))
    return JsonResponse(dict(identity(), url=default_storage.url(stored)))
