"""HTTP routes: the front page (no health view of its own) and an upload form's target."""

from django.urls import path

from notes import views

urlpatterns = [
    path("", views.index),
    path("upload/", views.upload),
]
