"""Token authentication that loads the user and its customer binding in one query."""

from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed


class ClientTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``; listed first so anonymous requests get 401 with WWW-Authenticate."""

    def authenticate_credentials(self, key):
        token = Token.objects.select_related("user", "user__api_client").filter(key=key).first()
        if token is None:
            raise AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise AuthenticationFailed(_("User inactive or deleted."))
        return (token.user, token)
