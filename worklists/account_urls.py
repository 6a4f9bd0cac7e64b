from django.urls import path

from worklists import signin

urlpatterns = [
    path("", signin.account_page, name="account"),
    path("second-factor/", signin.second_factor_page, name="second-factor"),
    path("recovery-codes/", signin.recovery_codes_renew_view, name="recovery-codes"),
    path("password/", signin.PasswordChange.as_view(), name="password-change"),
    path("tokens/", signin.tokens_page, name="account-tokens"),
    path("tokens/<int:token_id>/revoke", signin.token_revoke_view, name="account-token-revoke"),
]
