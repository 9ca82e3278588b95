from django.contrib import admin
from django.urls import path

from . import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("chat/<str:room_name>/", views.room, name="room"),
    path("chat/<str:room_name>/announce/", views.announce, name="announce"),
    path("hooks/chat/", views.chat_webhook, name="chat-webhook"),
    path("hooks/publish/", views.chat_publish, name="chat-publish"),
]
