from sandbox.testing.forms import parse_page

CONSENT = """<form id="consentForm" method="POST" action="">
<input type="hidden" name="txn_id" value="t1" /><input type="hidden" name="csrf_token" value="c1" />
<button type="submit" name="action" value="approve">Allow Access</button>
<button type="submit" name="action" value="deny">Deny</button></form>"""

LOGIN = """<div id="kc-content"><form id="kc-form-login" action="/realms/r/login-actions/authenticate?x=1" method="post">
<input id="username" name="username" type="text"><input id="password" name="password" type="password">
<input type="hidden" name="credentialId" value=""><button id="kc-login" name="login" type="submit">Sign In</button></form></div>"""


def test_consent_form_fields_and_buttons():
    form = parse_page(CONSENT).form("consentForm")
    assert form is not None
    assert form.method == "post" and form.action == ""
    assert form.fields == {"txn_id": "t1", "csrf_token": "c1"}
    assert form.buttons == {"action": ["approve", "deny"]}


def test_login_form_found_by_keycloak_id():
    page = parse_page(LOGIN)
    form = page.form("kc-form-login")
    assert form.action == "/realms/r/login-actions/authenticate?x=1"
    assert set(form.fields) == {"username", "password", "credentialId"}
    assert {"kc-content", "username", "password", "kc-login"} <= page.ids
    assert page.form("consentForm") is None
